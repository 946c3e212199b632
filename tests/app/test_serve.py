"""`notewell serve` as a user runs it: a real process, real HTTP, a signal to stop."""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from notewell.plugin_api.activity import ActivityLog
from tests.helpers import write_notes

REPO = Path(__file__).resolve().parents[2]
TOKEN = "nw_serve-test-token-0123456789abcdefghijkl"


def start(data_dir: Path, *args: str, token: str | None = TOKEN) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if token:
        env["NOTEWELL_TOKEN"] = token
    return subprocess.Popen(
        [sys.executable, "-m", "notewell.app", "serve", "--data-dir", str(data_dir), *args],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


@contextmanager
def serving(data_dir: Path, *args: str, token: str | None = TOKEN) -> Iterator[subprocess.Popen[str]]:
    """`start`, and the process killed on the way out if the test left it running."""
    proc = start(data_dir, *args, token=token)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _lines(proc: subprocess.Popen[str]) -> "queue.Queue[str | None]":
    """The process's output lines, read on a thread (None at the end), so a silent hang
    fails the test at its timeout instead of blocking in readline forever."""
    lines = getattr(proc, "notewell_lines", None)
    if lines is None:
        lines = queue.Queue()
        setattr(proc, "notewell_lines", lines)

        def pump() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
    return lines


def read_until(proc: subprocess.Popen[str], needle: str, timeout: float = 60) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    source = _lines(proc)
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = source.get(timeout=left)
        except queue.Empty:
            break
        if line is None:
            break
        lines.append(line.rstrip("\n"))
        if needle in line:
            return lines
    raise AssertionError(f"no line with {needle!r} in {timeout} s: {lines}")


def rest_of(proc: subprocess.Popen[str], timeout: float = 15) -> str:
    """The rest of the output of a process that has ended."""
    source, rest = _lines(proc), []
    while (line := source.get(timeout=timeout)) is not None:
        rest.append(line)
    return "".join(rest)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    # An empty notes folder: nothing to embed, so the model is never loaded (fast).
    root = tmp_path / "data"
    notes = write_notes(tmp_path / "notes", {})
    notes.mkdir(exist_ok=True)
    root.mkdir()
    (root / "settings.json").write_text(json.dumps({"folders": [str(notes)]}))
    return root


def test_serve_prints_what_a_user_needs_and_stops_on_sigterm(data_dir: Path) -> None:
    with serving(data_dir, "--port", "0") as proc:
        lines = read_until(proc, "Press Ctrl+C")
        text = "\n".join(lines)
        url = next(line.split()[-1] for line in lines if line.startswith("Serving your notes at"))
        assert f"manifest: {url}/.well-known/ai-plugin.json" in text
        assert "NOTEWELL_TOKEN" in text  # where the token is
        assert TOKEN not in text
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
            assert client.get("/healthz").json() == {"status": "ok"}
            answer = client.post("/query", json={"queries": [{"query": "anything", "mode": "keyword"}]})  # no model load
            assert answer.status_code == 200 and answer.json()["results"][0]["results"] == []
            assert client.post("/query", json={}, headers={"Authorization": "Bearer nope"}).status_code == 401
        read_until(proc, "POST /query 200 anything → 0", timeout=10)  # the activity, live
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        rest = rest_of(proc)
        assert "Stopping" in rest
    record = ActivityLog.open(data_dir)
    assert [e.status for e in record.reads()] == [200]  # kept, with the query
    assert [(r.reason, r.count) for r in record.refused()] == [("unauthorized", 1)]  # only counted
    record.close()


def test_port_in_use_is_one_clear_line(data_dir: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        proc = start(data_dir, "--port", str(port))
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert f"Port {port} on 127.0.0.1 is already in use" in err
    assert "--port" in err and "Traceback" not in err


def test_missing_folder_is_a_usage_error(data_dir: Path, tmp_path: Path) -> None:
    proc = start(data_dir, str(tmp_path / "nope"), "--port", "0")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "is not a folder" in err


def test_serve_follows_edits(data_dir: Path) -> None:
    notes = Path(json.loads((data_dir / "settings.json").read_text())["folders"][0])
    with serving(data_dir, "--port", "0") as proc:
        lines = read_until(proc, "Watching the folders")
        assert any(" indexed, " in line for line in lines)
        url = next(line.split()[-1] for line in lines if line.startswith("Serving your notes at"))
        (notes / "new.md").write_text("# Kayak\n\nPaddle the fjord at dawn.\n")
        body = {"queries": [{"query": "fjord", "mode": "keyword"}]}
        deadline = time.monotonic() + 30
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30) as client:
            while time.monotonic() < deadline:
                found = client.post("/query", json=body).json()["results"][0]["results"]
                if found:
                    break
                time.sleep(0.3)
        assert found and found[0]["path"] == "new.md"
        proc.send_signal(signal.SIGINT)  # the model may still be embedding new.md: that batch ends first
        assert proc.wait(timeout=60) == 0


def test_second_ctrl_c_quits_at_once(data_dir: Path) -> None:
    with serving(data_dir, "--port", "0") as proc:
        read_until(proc, "Press Ctrl+C")
        proc.send_signal(signal.SIGINT)
        read_until(proc, "press Ctrl+C again to quit at once")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) in (0, 130)  # 0 if the graceful stop won the race


def test_serve_with_an_inbox_saves_only_when_allowed(data_dir: Path, tmp_path: Path) -> None:
    """`--inbox DIR` alone refuses saves and says how to allow them; `--allow-saves` saves (issue 18)."""
    inbox = tmp_path / "inbox"
    body = {"title": "From the assistant", "text": "Remember the ferry at 7."}
    for extra, allowed in (((), False), (("--allow-saves",), True)):
        with serving(data_dir, "--port", "0", "--inbox", str(inbox), *extra) as proc:
            lines = read_until(proc, "Press Ctrl+C")
            url = next(line.split()[-1] for line in lines if line.startswith("Serving your notes at"))
            saving = next(line for line in lines if line.strip().startswith("saving:"))
            assert str(inbox) in saving and ("--allow-saves" in saving) != allowed
            answer = httpx.post(f"{url}/notes", json=body, headers={"Authorization": f"Bearer {TOKEN}"})
            if allowed:
                assert answer.status_code == 200 and (inbox / "From the assistant.md").exists()
                read_until(proc, f"saved From the assistant → {inbox / 'From the assistant.md'}", timeout=10)
            else:
                assert answer.status_code == 403 and "--allow-saves" in answer.json()["error"]["message"]
                assert list(inbox.iterdir()) == []
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0


def test_allow_saves_without_an_inbox_is_bad_usage(data_dir: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "notewell.app", "serve", "--data-dir", str(data_dir),
                           "--allow-saves"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "--inbox DIR" in done.stderr


def test_an_inbox_in_a_hidden_folder_of_the_notes_is_bad_usage(data_dir: Path, tmp_path: Path) -> None:
    """Review of #18, finding 9: its saved notes would never be searchable, so serve says so and stops."""
    notes = tmp_path / "notes"
    (notes / ".inbox").mkdir(parents=True)
    (notes / "a.md").write_text("# A\n\nText.\n")
    done = subprocess.run([sys.executable, "-m", "notewell.app", "serve", str(notes), "--data-dir", str(data_dir),
                           "--inbox", str(notes / ".inbox"), "--allow-saves", "--port", "0"],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "would not be searchable" in done.stderr and "--inbox DIR" in done.stderr
