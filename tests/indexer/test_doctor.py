"""The doctor finds every way the index can differ from the disk or its stores from
each other, repairs what can be repaired, and a kill -9 mid-burst leaves nothing a
restart or a repair does not fix."""

from __future__ import annotations

import json
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

from notewell.app import cli, services
from notewell.indexer import doctor
from notewell.indexer.embedding import HashEmbedder
from notewell.indexer.notes_index import NotesIndex
from notewell.indexer.worker import IndexWorker
from tests.helpers import SLOW_INDEX_SCRIPT, write_notes
from tests.indexer.test_pipeline import NOTES, assert_consistent, snapshot


@pytest.fixture
def notes(tmp_path: Path) -> Path:
    return write_notes(tmp_path / "notes", NOTES)


@pytest.fixture
def index(tmp_path: Path, notes: Path) -> Iterator[NotesIndex]:
    idx = NotesIndex.open(tmp_path / "data", HashEmbedder())
    idx.sync([notes])
    yield idx
    idx.close()


def kinds(report: doctor.DoctorReport) -> dict[str, int]:
    return report.counts()


def test_a_fresh_index_has_no_problems(index: NotesIndex, notes: Path) -> None:
    report = doctor.check(index, [notes])
    assert report.ok and report.files == 3 and report.chunks == report.vectors > 0
    assert report.lines()[0].startswith("No problems")


def test_disk_drift_is_found_and_repaired(index: NotesIndex, notes: Path) -> None:
    (notes / "todo.txt").unlink()
    (notes / "cooking/bread.md").write_text("# Bread\n\nRye this time.\n")
    (notes / "new.md").write_text("# New\n\nNot yet indexed.\n")
    report = doctor.check(index, [notes])
    assert kinds(report) == {"file_missing": 1, "file_changed": 1, "file_unindexed": 1}
    assert {p.item for p in report.problems} == {"todo.txt", "cooking/bread.md", "new.md"}
    result = doctor.repair(index, [notes])
    assert result.found == report and result.remaining.ok
    assert [r.path for r in index.search("rye", mode="keyword")] == ["cooking/bread.md"]


def test_store_drift_is_found_and_repaired(index: NotesIndex, notes: Path, tmp_path: Path) -> None:
    catalog = index.catalog
    ((rowid, cid),) = catalog.query("SELECT rowid, id FROM chunks ORDER BY rowid LIMIT 1")
    ((other,),) = catalog.query("SELECT id FROM chunks ORDER BY rowid DESC LIMIT 1")
    with catalog.transaction() as db:
        db.execute("DELETE FROM chunks_fts WHERE rowid = ?", (rowid,))
        db.execute("INSERT INTO chunks_fts(rowid, title, heading, body) VALUES (9999, 'x', '', 'ghost')")
        db.execute(
            "INSERT INTO chunks(id, file_id, ord, heading, text, start_line, end_line, text_hash, embedded) "
            "VALUES ('stray', 4242, 0, '', 'stray', 1, 1, 'h', 0)"
        )
    index.vectors.delete([other])
    index.vectors.upsert(["orphan"], np.ones((1, 256), dtype=np.float32), [1])
    report = doctor.check(index, [notes])
    assert kinds(report) == {
        "keyword_missing": 2, "keyword_orphan": 1, "chunk_orphan": 1, "vector_missing": 1,  # the stray too
        "vector_pending": 1, "vector_orphan": 1,
    }
    assert doctor.repair(index, [notes]).remaining.ok
    assert_consistent(index)
    clean = NotesIndex.open(tmp_path / "clean", HashEmbedder())
    try:
        clean.sync([notes])
        assert snapshot(index) == snapshot(clean)
    finally:
        clean.close()


def test_folders_unlisted_or_unreachable(index: NotesIndex, notes: Path, tmp_path: Path) -> None:
    other = write_notes(tmp_path / "other", {"a.md": "A.\n"})
    report = doctor.check(index, [notes, other])
    assert kinds(report) == {"file_unindexed": 1}
    index.sync([notes, other])
    assert kinds(doctor.check(index, [notes])) == {"folder_unlisted": 1}
    shutil.rmtree(other)
    report = doctor.repair(index, [notes, other])
    assert kinds(report.found) == {"folder_unreachable": 1}
    assert kinds(report.remaining) == {"folder_unreachable": 1}  # reconnect it, or remove it in Settings
    assert "reconnect" in report.remaining.lines()[0]


def test_a_changed_model_is_reported_and_repaired(index: NotesIndex, notes: Path, tmp_path: Path) -> None:
    index.close()
    other = NotesIndex.open(tmp_path / "data", HashEmbedder(dimension=64))
    try:
        assert "model_changed" in kinds(doctor.check(other, [notes]))
        assert doctor.repair(other, [notes]).remaining.ok
    finally:
        other.close()


@pytest.fixture
def hash_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services, "make_embedder", lambda *args, **kwargs: HashEmbedder())


def test_cli_reports_exits_1_and_repairs(
    hash_model: None, notes: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "cli-data"
    assert cli.main(["index", str(notes), "--data-dir", str(data)]) == 0
    assert cli.main(["doctor", "--data-dir", str(data)]) == 0
    assert "No problems" in capsys.readouterr().out
    (notes / "todo.txt").unlink()
    assert cli.main(["doctor", "--data-dir", str(data)]) == 1
    captured = capsys.readouterr()
    assert "gone from disk: 1" in captured.out and "notewell doctor --repair" in captured.err
    assert "1 problem in the index" in captured.err  # not "1 problems"
    # Which model embeds the notes, and why (the default, auto, decides from the notes)
    assert "Model: hash-256; chosen by auto: 0 of 2 sampled notes are Chinese" in captured.out
    assert cli.main(["doctor", "--repair", "--json", "--data-dir", str(data)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["found"]["counts"] == {"file_missing": 1} and out["report"]["ok"] is True


# A watcher in its own process, embedding slowly, so a kill lands mid-burst.
WATCHING = SLOW_INDEX_SCRIPT + """
from notewell.indexer.worker import IndexWorker, WorkerOptions

worker = IndexWorker(lambda: index, [Path(sys.argv[2])], options=WorkerOptions(debounce=0.1))
worker.start()
worker.wait_idle(60)
print("ready", flush=True)
time.sleep(600)
"""


def test_kill_9_mid_burst_then_restart_or_repair_leaves_nothing_to_repair(notes: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    proc = subprocess.Popen([sys.executable, "-c", WATCHING, str(data), str(notes)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        for n in range(400):
            write_notes(notes, {f"burst/b{n:03}.md": f"# Burst {n}\n\nItem {n} of the burst.\n\n## More\n\nDetail {n}.\n"})
        assert _wait_for(data, "SELECT count(*) FROM chunks WHERE embedded = 0", at_least=1)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    shutil.copytree(data, tmp_path / "data-copy")

    # Repair: the doctor finds the half-done burst, fixes it, and the result is a clean index.
    crashed = NotesIndex.open(data, HashEmbedder())
    clean = NotesIndex.open(tmp_path / "clean", HashEmbedder())
    try:
        found = doctor.check(crashed, [notes])
        assert not found.ok and set(kinds(found)) <= {"file_unindexed", "vector_pending", "vector_orphan", "file_changed"}
        assert doctor.repair(crashed, [notes]).remaining.ok
        clean.sync([notes])
        assert snapshot(crashed) == snapshot(clean)
    finally:
        crashed.close()
        clean.close()

    # Restart: the worker's start-up sync alone leaves nothing to repair.
    restarted = NotesIndex.open(tmp_path / "data-copy", HashEmbedder())
    worker = IndexWorker(lambda: restarted, [notes])
    try:
        worker.start()
        assert worker.wait_idle(30)
        assert doctor.check(restarted, [notes]).ok
    finally:
        worker.close()


def _wait_for(data: Path, sql: str, at_least: int, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            db = sqlite3.connect(data / "catalog.sqlite3", timeout=1)
            try:
                if db.execute(sql).fetchone()[0] >= at_least:
                    return True
            finally:
                db.close()
        except sqlite3.Error:
            pass
        time.sleep(0.01)
    return False
