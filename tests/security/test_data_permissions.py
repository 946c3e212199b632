"""Issue 15: "Other local users can read every note": `catalog.sqlite3` (full text), its
WAL and the Chroma files were 0644 in a 0755 folder. DESIGN.md: the data folder is
0700 and every file in it 0600 (the catalog, its WAL, Chroma, the model export, logs),
also the files of the desktop app's Chroma child process."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import httpx

from notewell.app.chroma_server import ChromaServer
from tests.helpers import unit_rows, write_notes
from tests.security.conftest import NOTES, TOKEN

REPO = Path(__file__).resolve().parents[2]


def loose(root: Path) -> list[str]:
    """Everything under `root` that someone other than its owner could read, write or enter."""
    found = []
    for path in [root, *root.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        if not path.is_symlink() and mode & 0o077:
            found.append(f"{path.relative_to(root.parent)} {mode:o}")
    return found


def test_serve_keeps_the_data_folder_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    old = data / "activity.jsonl"  # from an older version, before the folder was private
    old.write_text("")
    old.chmod(0o644)
    notes = write_notes(tmp_path / "notes", NOTES)
    proc = subprocess.Popen(
        [sys.executable, "-m", "notewell.app", "serve", str(notes), "--data-dir", str(data), "--port", "0"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "NOTEWELL_TOKEN": TOKEN, "PYTHONUNBUFFERED": "1"})
    try:
        assert proc.stdout is not None
        url = next((line.split(" at ", 1)[1].strip() for line in proc.stdout
                    if line.startswith("Serving your notes at ")), "")
        assert url, "serve did not start"
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}) as http:
            assert http.post("/query", json={"queries": [{"query": "sourdough", "mode": "keyword"}]}).status_code == 200
        names = {p.name for p in data.rglob("*")}
        assert {"catalog.sqlite3", "catalog.sqlite3-wal", "activity.sqlite3"} <= names, names
        assert loose(data) == []  # while it runs: the WAL files are there
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    assert loose(data) == []


def test_the_desktop_apps_chroma_child_keeps_its_files_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    server = ChromaServer(data / "chroma", data / "chroma.log")
    url = server.start()
    try:
        import chromadb

        client = chromadb.HttpClient(host="127.0.0.1", port=int(url.rsplit(":", 1)[1]))
        collection = client.create_collection("notes")
        rows = unit_rows(50, seed=3)
        collection.add(ids=[str(n) for n in range(50)], embeddings=rows.tolist(), documents=["secret"] * 50)
        assert loose(data) == []
    finally:
        server.stop()
    assert any((data / "chroma").rglob("*.sqlite3")) and loose(data) == []
