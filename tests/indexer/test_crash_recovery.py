"""A kill -9 at any point of indexing, then a normal run, equals a clean index."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from notewell.indexer.embedding import HashEmbedder
from notewell.indexer.notes_index import NotesIndex
from tests.helpers import SLOW_INDEX_SCRIPT, write_notes
from tests.indexer.test_pipeline import assert_consistent, snapshot

# Indexes slowly (small batches, a pause per batch) so kills land in every phase.
SLOW_SYNC = SLOW_INDEX_SCRIPT + """
_embed = Slow.embed_documents

def _counted(self, texts):
    vectors = _embed(self, texts)
    print("batch", flush=True)  # the test kills after a given number of batches
    return vectors

Slow.embed_documents = _counted
print("open", flush=True)
index.sync([Path(sys.argv[2])])
print("done", flush=True)
"""


def _notes(folder: Path, version: int) -> Path:
    notes = {
        f"topic{n % 7}/note{n}.md": f"# Note {n}\n\nParagraph about item {n} and {version}.\n\n"
        f"## Details\n\nShared boilerplate paragraph.\n\nVersion {version} detail {n * version}.\n"
        for n in range(120)
    }
    return write_notes(folder, notes)


def test_killed_runs_then_a_normal_run_equal_a_clean_index(tmp_path: Path) -> None:
    notes = _notes(tmp_path / "notes", 1)
    data = tmp_path / "data"
    kills = 0
    # Killed by progress, not by the clock (a quiet machine finished before a timed kill):
    # while the notes are read (0 batches), then after 2, 5 and 9 embedded batches.
    for batches in (0, 2, 5, 9):
        proc = subprocess.Popen(
            [sys.executable, "-c", SLOW_SYNC, str(data), str(notes)],
            stdout=subprocess.PIPE, text=True,
        )
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "open"
        seen = 0
        while seen < batches and proc.stdout.readline().strip() == "batch":
            seen += 1
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait(timeout=60)
        if batches == 5:  # change the notes between crashes, as a user would
            _notes(notes, 2)
            (notes / "topic1/note1.md").unlink()
    assert kills == 4, "a run finished before its kill"

    recovered = NotesIndex.open(data, HashEmbedder())
    recovered.sync([notes])
    clean = NotesIndex.open(tmp_path / "clean", HashEmbedder())
    clean.sync([notes])
    try:
        assert_consistent(recovered)
        got, want = snapshot(recovered), snapshot(clean)
        assert got["files"] == want["files"]
        assert got["chunks"] == want["chunks"]
        assert got["vectors"] == want["vectors"]
        query = "Paragraph about item 17"
        # Keyword ranking is exact. (Hybrid is not compared: with the hash embedder these
        # notes' vectors nearly tie, and the approximate HNSW index, built in another
        # order after the kills, may break the ties differently. Vectors are equal above.)
        found = recovered.search(query, k=1, mode="keyword")[0]
        assert found.id == clean.search(query, k=1, mode="keyword")[0].id
        assert found.path == "topic3/note17.md"
    finally:
        recovered.close()
        clean.close()
