from __future__ import annotations

import os
import stat
from pathlib import Path

from notewell.app.paths import private_files


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_make_private_tightens_what_is_there_and_what_comes(tmp_path: Path) -> None:
    root = tmp_path / "data"
    (root / "chroma" / "seg").mkdir(parents=True, mode=0o755)
    (root / "catalog.sqlite3").write_text("full text")
    (root / "catalog.sqlite3").chmod(0o644)
    (root / "tool").write_text("#!/bin/sh\n")
    (root / "tool").chmod(0o755)
    outside = tmp_path / "shared.txt"
    outside.write_text("not ours")
    outside.chmod(0o644)
    (root / "link").symlink_to(outside)
    before = os.umask(0o022)
    try:
        with private_files(root):
            (root / "later.log").write_text("x")
            (root / "later").mkdir()
        assert os.umask(0o022) == 0o022  # given back after the command
    finally:
        os.umask(before)
    assert {p.name: mode(p) for p in [root, *root.rglob("*")] if not p.is_symlink()} == {
        "data": 0o700, "chroma": 0o700, "seg": 0o700, "catalog.sqlite3": 0o600, "tool": 0o700,
        "later.log": 0o600, "later": 0o700}
    assert mode(outside) == 0o644  # a link's target is not ours to change
