"""A folder full of awkward files: each is indexed correctly or skipped with a
reason the user can read, the run never aborts, and no note is ever modified."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from notewell.indexer.embedding import HashEmbedder
from notewell.indexer.notes_index import NotesIndex
from notewell.indexer.sources import SourceOptions


def _hash_tree(folder: Path) -> dict[str, tuple[str, int]]:
    out = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            st = path.stat()
            out[str(path)] = (hashlib.sha256(path.read_bytes()).hexdigest(), st.st_mtime_ns)
    return out


@pytest.fixture
def awkward(tmp_path: Path) -> Path:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "good.md").write_text("# Good\n\nA perfectly normal note about zebras.\n")
    (folder / "name with spaces.md").write_text("Spaces in the name, about giraffes.\n")
    (folder / "ünïcødé 笔记 🦊.md").write_text("# 狐狸\n\nA fox note: 狐狸很聪明。\n")
    (folder / "latin1.txt").write_bytes("Café crème and naïve résumé about walruses.\n".encode("cp1252"))
    (folder / "bad-utf8.md").write_bytes(b"Mostly fine \xff\xfe text about otters.\n")
    (folder / "bom.md").write_bytes("\ufeff# BOM\n\nByte order mark note about lemurs.\n".encode("utf-8"))
    (folder / "empty.md").write_text("")
    (folder / "blank.txt").write_text("   \n\n  \n")
    (folder / "binary.md").write_bytes(bytes(range(256)) * 40)
    (folder / "frontmatter-only.md").write_text("---\ntitle: Nothing\n---\n")
    (folder / "bad-yaml.md").write_text("---\ntitle: [unclosed\n---\nBody about pelicans.\n")
    (folder / "private.md").write_text("---\nprivate: true\n---\nSecret about flamingos.\n")
    with open(folder / "huge-one-line.md", "wb") as handle:  # 50 MB, one line
        handle.truncate(50 * 1024 * 1024)
    (folder / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    os.symlink("/etc", folder / "outside-link")
    return folder


def test_awkward_folder_indexes_what_it_can_and_explains_the_rest(tmp_path: Path, awkward: Path) -> None:
    before = _hash_tree(awkward)
    index = NotesIndex.open(tmp_path / "data", HashEmbedder(), source_options=SourceOptions())
    summary = index.sync([awkward])
    try:
        assert summary.failed == 0
        found = {r.path for q in ("zebras", "giraffes", "狐狸", "walruses", "otters", "lemurs", "pelicans")
                 for r in index.search(q, k=3, mode="keyword")}
        assert found == {
            "good.md", "name with spaces.md", "ünïcødé 笔记 🦊.md", "latin1.txt", "bad-utf8.md", "bom.md",
            "bad-yaml.md",
        }
        assert index.search("flamingos", mode="keyword") == []
        (status,) = index.folder_status()
        reasons = {p.rel: p.reason for p in status.problems}
        assert set(reasons) == {
            "empty.md", "blank.txt", "binary.md", "frontmatter-only.md", "private.md", "huge-one-line.md",
            "outside-link",
        }
        assert "empty" in reasons["empty.md"] and "binary" in reasons["binary.md"]
        assert "private" in reasons["private.md"] and "size cap" in reasons["huge-one-line.md"]
        assert "outside this folder" in reasons["outside-link"]
        assert index.sync([awkward]).indexed == 0  # skipped files are not re-read either
    finally:
        index.close()
    assert _hash_tree(awkward) == before

