"""Faults a person's machine has, in words: a full disk, a read-only data folder (#14).

The data folder lives on a small tmpfs of its own, so "full" and "read-only" are real
to SQLite and Chroma. Mounting needs root (as CI and this project's machines run);
elsewhere these tests are skipped.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path
from typing import Iterator

import pytest

from notewell.app import cli
from notewell.indexer.embedding import HashEmbedder
from notewell.indexer.errors import DiskFull, ReadOnlyData
from notewell.indexer.notes_index import NotesIndex
from tests.helpers import write_notes
from tests.indexer.test_pipeline import snapshot


class Disk:
    """A tmpfs of its own: fill it, free it, make it read-only."""

    def __init__(self, path: Path, megabytes: int) -> None:
        self.path = path
        path.mkdir(exist_ok=True)
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={megabytes}m", "tmpfs", str(path)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()}): needs root")
        self.filler = path / "filler.bin"

    def fill(self, leave_kb: int) -> None:
        """Take all but `leave_kb` KB of the free space."""
        import shutil

        free = shutil.disk_usage(self.path).free
        size = max(0, free - leave_kb * 1024)
        with open(self.filler, "ab") as handle:
            handle.truncate(handle.tell() + size)
            handle.seek(0, 2)
        # tmpfs only counts pages that are written: write them.
        with open(self.filler, "r+b") as handle:
            block = b"\0" * (1024 * 1024)
            left = self.filler.stat().st_size
            while left > 0:
                handle.write(block[: min(len(block), left)])
                left -= len(block)

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)

    def read_only(self, yes: bool = True) -> None:
        subprocess.run(["mount", "-o", f"remount,{'ro' if yes else 'rw'}", str(self.path)], check=True)

    def unmount(self) -> None:
        subprocess.run(["umount", "-l", str(self.path)], check=False)


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Disk]:
    if sys.platform != "linux":
        pytest.skip("tmpfs mounts are Linux only")
    mounted = Disk(tmp_path / f"disk-{uuid.uuid4().hex[:6]}", 200)
    yield mounted
    mounted.unmount()


def _notes(tmp_path: Path, count: int) -> Path:
    return write_notes(tmp_path / "notes", {
        f"n{i:03}.md": f"# Note {i}\n\n" + " ".join(f"word{i}x{w}" for w in range(120)) + "\n" for i in range(count)
    })


_BUILD = """
import sys
from pathlib import Path
from notewell.indexer.embedding import HashEmbedder
from notewell.indexer.notes_index import NotesIndex
index = NotesIndex.open(Path(sys.argv[1]), HashEmbedder())
index.sync([Path(sys.argv[2])])
index.close()
"""


@pytest.mark.parametrize("leave_kb", [512, 8 * 1024], ids=["catalog-full", "vectors-full"])
def test_a_full_disk_is_said_in_words_and_the_next_run_recovers(disk: Disk, tmp_path: Path, leave_kb: int) -> None:
    notes = _notes(tmp_path, 300)
    data = disk.path / "data"
    index = NotesIndex.open(data, HashEmbedder())
    index.sync([write_notes(tmp_path / "warm", {"w.md": "# Warm\n\nfirst note\n"})])  # the stores exist
    disk.fill(leave_kb)
    with pytest.raises(DiskFull) as failed:
        index.sync([notes])
    assert str(data) in str(failed.value) and "Free some space" in str(failed.value)
    assert index.search("word7x3", mode="keyword")  is not None  # searches go on
    index.close()

    disk.free()
    index = NotesIndex.open(data, HashEmbedder())
    clean = NotesIndex.open(tmp_path / "clean", HashEmbedder())
    try:
        index.sync_only([notes])
        clean.sync([notes])
        assert snapshot(index) == snapshot(clean)  # nothing was left broken
    finally:
        index.close()
        clean.close()


def test_the_cli_says_the_disk_is_full_in_one_line_and_exits_1(
    disk: Disk, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from notewell.app import services

    monkeypatch.setattr(services, "make_embedder", lambda *args, **kwargs: HashEmbedder())
    notes = _notes(tmp_path, 200)
    data = disk.path / "data"
    assert cli.main(["index", str(_notes(tmp_path / "few", 1)), "--data-dir", str(data)]) == 0
    capsys.readouterr()
    disk.fill(256)
    assert cli.main(["index", str(notes), "--data-dir", str(data)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("notewell: The disk holding Notewell's data folder")
    disk.free()
    assert cli.main(["index", "--data-dir", str(data)]) == 0


def test_a_read_only_data_folder_still_answers_searches(disk: Disk, tmp_path: Path) -> None:
    notes = _notes(tmp_path, 5)
    data = disk.path / "data"
    # Built in a child process: Chroma keeps its files open for the life of the process,
    # and a disk with open files can't be made read-only.
    subprocess.run([sys.executable, "-c", _BUILD, str(data), str(notes)], check=True, timeout=120)
    disk.read_only()
    try:
        index = NotesIndex.open(data, HashEmbedder())
        try:
            assert [r.path for r in index.search("word3x7", k=1)] == ["n003.md"]  # hybrid: keywords answer
            assert [r.path for r in index.search("word3x7", k=1, mode="keyword")] == ["n003.md"]
            (notes / "n004.md").write_text("# Changed\n\nnew words\n")
            with pytest.raises(ReadOnlyData, match="read-only: your notes can be searched"):
                index.sync([notes])
        finally:
            index.close()
    finally:
        disk.read_only(False)


def test_an_unmounted_drive_keeps_its_notes_and_nothing_is_embedded_again(tmp_path: Path) -> None:
    if sys.platform != "linux":
        pytest.skip("tmpfs mounts are Linux only")
    drive = Disk(tmp_path / "drive", 50)
    try:
        notes = {f"n{i}.md": f"# Note {i}\n\nOn the external drive {i}.\n" for i in range(8)}
        write_notes(drive.path, notes)
        embedder = HashEmbedder()
        index = NotesIndex.open(tmp_path / "data", embedder)
        index.sync([drive.path])
        embedded = embedder.embedded
        drive.unmount()  # the mount point stays: an empty folder on the other disk
        assert drive.path.is_dir() and not any(drive.path.iterdir())
        summary = index.sync([drive.path])
        assert summary.removed == 0 and len(index.search("external drive", k=20, mode="keyword")) == 8
        assert index.pipeline.folder_looks_unmounted(str(drive.path.resolve()))
        index.sync_files(drive.path, [drive.path])  # the watcher's "the folder changed" batch too
        assert len(index.search("external drive", k=20, mode="keyword")) == 8

        drive = Disk.__new__(Disk)  # the same drive, mounted again
        drive.path = tmp_path / "drive"
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=50m", "tmpfs", str(drive.path)], check=True)
        write_notes(drive.path, notes)
        index.sync([drive.path])
        assert embedder.embedded == embedded and len(index.search("external drive", k=20, mode="keyword")) == 8
        index.close()
    finally:
        drive.unmount()


def test_a_small_disk_with_room_to_spare_is_not_called_full(tmp_path: Path) -> None:
    """A 40 MB data disk, 1% used, was called full: vectors needed 64 MB free (review of #14)."""
    if sys.platform != "linux":
        pytest.skip("tmpfs mounts are Linux only")
    disk = Disk(tmp_path / "small", 40)
    try:
        index = NotesIndex.open(disk.path / "data", HashEmbedder())
        index.sync([_notes(tmp_path, 20)])
        assert index.catalog.count_pending() == 0 and [r.path for r in index.search("word3x7", k=1, mode="dense")]
        index.close()
    finally:
        disk.unmount()
