"""Progress of a sync on the terminal: a live bar on a TTY, nothing otherwise."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Callable, Iterator

from indexer.types import Progress


@contextmanager
def terminal_progress(enabled: bool | None = None) -> Iterator[Callable[[Progress], None]]:
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        yield lambda p: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress as Bar, TextColumn, TimeRemainingColumn

    with Bar(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        transient=True, console=None,
    ) as bar:
        task = bar.add_task("Scanning", total=None)

        def update(p: Progress) -> None:
            if p.phase == "done":
                return
            where = f" {p.folder}" if p.folder and p.phase != "embedding" else ""
            bar.update(task, description=f"{p.phase.capitalize()}{where}", completed=p.done,
                       total=p.total or None)

        yield update
