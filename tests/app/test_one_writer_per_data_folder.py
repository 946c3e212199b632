"""Only one program at a time keeps a data folder's index up to date (review of #14).

Replayed: `notewell index ~/other` while `notewell serve` (or the desktop app) ran on the
same data folder wrote the catalog and Chroma from two processes, each with its own
folder list, so each took the other's folders out.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tests.app.test_serve import REPO, TOKEN, read_until, start
from tests.helpers import write_notes


def notewell(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "notewell.app", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "NOTEWELL_TOKEN": TOKEN})


def _data_dir(tmp_path: Path) -> Path:
    notes = tmp_path / "notes"
    notes.mkdir()  # empty: nothing to embed, so no model is loaded
    root = tmp_path / "data"
    root.mkdir()
    (root / "settings.json").write_text(json.dumps({"folders": [str(notes)]}))
    return root


def test_index_beside_serve_says_who_has_the_folder_and_changes_nothing(tmp_path: Path) -> None:
    root = _data_dir(tmp_path)
    other = write_notes(tmp_path / "other", {"a.md": "# A\n\nan other note\n"})
    settings_before = (root / "settings.json").read_text()
    proc = start(root, "--port", "0")
    try:
        lines = read_until(proc, "Press Ctrl+C")
        url = next(line.split()[-1] for line in lines if line.startswith("Serving your notes at"))

        refused = notewell("index", str(other), "--data-dir", str(root))
        assert refused.returncode == 1
        assert f"Another Notewell (notewell serve, process {proc.pid}) is already keeping the index" in refused.stderr
        assert "--data-dir" in refused.stderr and "Traceback" not in refused.stderr
        assert (root / "settings.json").read_text() == settings_before  # the folder was not added

        second = notewell("serve", "--data-dir", str(root), "--port", "0")
        assert second.returncode == 1 and "is already keeping the index" in second.stderr
        assert notewell("doctor", "--repair", "--data-dir", str(root)).returncode == 1

        # Reading goes on beside it.
        assert notewell("search", "note", "--data-dir", str(root)).returncode == 0
        assert notewell("doctor", "--data-dir", str(root)).returncode == 0
        assert httpx.get(f"{url}/healthz").json() == {"status": "ok"}
    finally:
        proc.send_signal(signal.SIGKILL)  # the kernel drops the lock with the process
        proc.wait(timeout=30)

    empty = tmp_path / "empty"
    empty.mkdir()  # nothing to embed: the model stays unloaded
    done = notewell("index", str(empty), "--data-dir", str(root))
    assert done.returncode == 0, done.stderr
    assert str(empty.resolve()) in json.loads((root / "settings.json").read_text())["folders"]
