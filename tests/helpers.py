"""Small helpers shared by tests."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Mapping


def wait_until(predicate: Callable[[], object], timeout: float = 15.0) -> bool:
    """Poll `predicate` until it holds (True) or `timeout` seconds pass (its last answer)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return bool(predicate())


def unit_rows(n: int, seed: int, dimension: int = 384):  # type: ignore[no-untyped-def]
    """`n` random unit vectors (float32), the same for the same seed."""
    import numpy as np

    rows = np.random.default_rng(seed).standard_normal((n, dimension)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def write_notes(folder: Path, notes: Mapping[str, str | bytes]) -> Path:
    """Create `notes` (relative path → text, or the file's bytes) under `folder`."""
    for rel, text in notes.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
    return folder


# The start of a child-process script: an index at argv[1] that embeds slowly (small
# batches, a pause per batch), so a kill -9 lands mid-run.
SLOW_INDEX_SCRIPT = """
import sys, time
from pathlib import Path
import notewell.indexer.pipeline
from notewell.indexer.embedding import HashEmbedder
from notewell.indexer.notes_index import NotesIndex

notewell.indexer.pipeline.EMBED_BATCH = 8
notewell.indexer.pipeline.STORE_BATCH = 16

class Slow(HashEmbedder):
    def embed_documents(self, texts):
        time.sleep(0.02)
        return super().embed_documents(texts)

index = NotesIndex.open(Path(sys.argv[1]), Slow())
"""


def finishes(call: Callable[[], object], within: float = 30.0) -> bool:
    """Run `call` on a thread: True if it returned within `within` seconds.

    A guard against hangs, not a speed check (speed floors live in bench/): the bound
    is generous so that a busy machine never fails it.
    """
    import threading

    done = threading.Event()

    def run() -> None:
        try:
            call()
        finally:
            done.set()

    threading.Thread(target=run, daemon=True).start()
    return done.wait(within)
