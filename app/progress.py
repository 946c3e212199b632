"""Progress of a sync on the terminal: a live bar on a TTY, nothing otherwise."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Callable, Iterator

from notewell.indexer.types import Progress


PREPARING = "Preparing the embedding model (first run only, about 15 s)"


def progress_label(p: Progress, preparing: bool = False) -> str:
    """What the bar says: the phase, the folder being read, or why embedding has not moved."""
    if p.phase == "embedding":
        return PREPARING if preparing and p.done == 0 else "Embedding"
    if p.phase == "tidying":
        return p.message
    where = f" {p.folder}" if p.folder else ""
    return f"{p.phase.capitalize()}{where}"


@contextmanager
def terminal_progress(
    enabled: bool | None = None, preparing: Callable[[], bool] = lambda: False
) -> Iterator[Callable[[Progress], None]]:
    """`preparing` tells whether the model is still being prepared (the bar says so)."""
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
            bar.update(task, description=progress_label(p, preparing()), completed=p.done,
                       total=p.total or None)

        yield update
