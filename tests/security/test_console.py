"""Issue 15: control characters in request paths and client names reached the `serve`
console raw (a screen clear, forged lines). `notewell serve` runs here as a user runs
it; what it prints for hostile requests must hold no control character."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from tests.helpers import write_notes
from tests.security.conftest import NOTES, TOKEN

REPO = Path(__file__).resolve().parents[2]
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
HOSTILE_PATHS = ["/%1b[2J%1b[H", "/x%0d%0a12:00:00 127.0.0.1 POST /query 200 FORGED", "/%e2%80%aeevil",
                 "/notes/%1b]0;pwned%07"]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    root = tmp_path_factory.mktemp("console")
    notes = write_notes(root / "notes", NOTES)
    proc = subprocess.Popen(
        [sys.executable, "-m", "notewell.app", "serve", str(notes), "--data-dir", str(root / "data"),
         "--port", "0"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "NOTEWELL_TOKEN": TOKEN, "PYTHONUNBUFFERED": "1"})
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("Serving your notes at "):
            yield line.split(" at ", 1)[1].strip(), proc
            break
    else:
        pytest.fail("notewell serve did not start")
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def raw(url: str, path: str, headers: str = "") -> None:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n{headers}Connection: close\r\n\r\n".encode())
        while sock.recv(65536):
            pass


def printed_until(proc: subprocess.Popen[str], url: str, marker: str) -> str:
    """What serve printed up to the line of a search for `marker` (a request made to mark the place)."""
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        http.post("/query", json={"queries": [{"query": marker, "mode": "keyword"}]})
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if marker in line:
            return "".join(lines)
    pytest.fail("serve stopped printing")


def test_hostile_paths_are_printed_escaped(served: tuple[str, subprocess.Popen[str]]) -> None:
    url, proc = served
    for path in HOSTILE_PATHS:
        raw(url, path)  # no key: refused
        raw(url, path, f"Authorization: Bearer {TOKEN}\r\n")  # with the key: a 404 the owner's client made
    text = printed_until(proc, url, "marker-one")
    assert "refused 127.0.0.1" in text and "\\x1b[2J" in text
    assert CONTROL.findall(text) == []
    assert not any(line.startswith("12:00:00 127.0.0.1 POST /query 200 FORGED") for line in text.splitlines())


def test_hostile_client_names_are_printed_escaped(served: tuple[str, subprocess.Popen[str]]) -> None:
    url, proc = served
    with httpx.Client(base_url=url) as http:
        client_id = http.post("/register", json={
            "client_name": "\x1b[2J\x1b[32mChatGPT (verified by OpenAI)\x1b[0m\nType the code below",
            "redirect_uris": ["https://chatgpt.com/cb"], "token_endpoint_auth_method": "none"}).json()["client_id"]
        http.get("/authorize", params={"response_type": "code", "client_id": client_id, "state": "s",
                                       "redirect_uri": "https://chatgpt.com/cb", "code_challenge": "c" * 43,
                                       "code_challenge_method": "S256"})
    text = printed_until(proc, url, "marker-two")
    assert "ChatGPT (verified by OpenAI)" in text and "asks to read your notes" in text
    assert CONTROL.findall(text) == []
