"""Issue 15: "Slow clients take the server down".

Replayed: 1,000 sockets sending partial headers exhausted the 1,024 file descriptors
and /query failed for 60+ s; slow POST /register bodies through the public host did
the same. The server here runs in its own process with 1,024 descriptors; the slow
connections are held for a bounded time (the server's deadlines are 3 s here), and
a real client's /query must be answered meanwhile.
"""

from __future__ import annotations

import os
import resource
import selectors
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Iterator

import httpx
import pytest

from tests.helpers import write_notes
from tests.security.conftest import NOTES, PUBLIC_HOST, TOKEN

REPO = Path(__file__).resolve().parents[2]
SLOW = 1000
SLOW_BODIES = 1000
QUERY = {"queries": [{"query": "sourdough starter"}]}


@pytest.fixture
def small_server(tmp_path: Path) -> Iterator[str]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 2 * (SLOW + SLOW_BODIES):
        pytest.skip("this test opens 1,300 sockets; raise the hard descriptor limit (ulimit -Hn)")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 4 * (SLOW + SLOW_BODIES)) if hard ==
                                                resource.RLIM_INFINITY else hard, hard))
    notes = write_notes(tmp_path / "notes", NOTES)
    proc = subprocess.Popen([sys.executable, "-m", "tests.security.slow_server", str(tmp_path / "data"), str(notes)],
                            cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://"), "the server did not start"
        yield url
    finally:
        if proc.stdin:
            proc.stdin.close()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def open_slow(url: str, count: int, first_bytes: Callable[[int], bytes]) -> list[socket.socket]:
    host, port = url.removeprefix("http://").split(":")
    sockets = []
    for n in range(count):
        sock = socket.create_connection((host, int(port)), timeout=10)
        try:
            sock.sendall(first_bytes(n))
        except OSError:
            pass  # already closed by the server: over its connection cap
        sockets.append(sock)
    return sockets


def trickle(sockets: list[socket.socket], byte: bytes = b"a") -> None:
    for sock in sockets:
        try:
            sock.send(byte)
        except OSError:
            pass


def real_queries(url: str, count: int = 5) -> list[tuple[int, float]]:
    answers = []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=20) as http:
        for _ in range(count):
            started = time.perf_counter()
            status = http.post("/query", json=QUERY).status_code
            answers.append((status, time.perf_counter() - started))
    return answers


def closed_by_server(sockets: list[socket.socket], within: float) -> int:
    """How many of `sockets` the server closed before `within` seconds passed."""
    selector = selectors.DefaultSelector()
    for sock in sockets:
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
    closed, deadline = 0, time.monotonic() + within
    while closed < len(sockets) and (left := deadline - time.monotonic()) > 0:
        for key, _ in selector.select(timeout=min(left, 0.5)):
            sock = key.fileobj
            try:
                data = sock.recv(65536)  # type: ignore[union-attr]
            except (ConnectionResetError, BrokenPipeError):
                data = b""
            except BlockingIOError:
                continue
            if not data or data.startswith(b"HTTP/1.1 4") or data.startswith(b"HTTP/1.1 5"):
                selector.unregister(sock)
                closed += 1
    selector.close()
    for sock in sockets:
        sock.close()
    return closed


def test_slow_headers_hang_on_while_a_real_query_is_answered(small_server: str) -> None:
    url = small_server
    slow = open_slow(url, SLOW, lambda n: b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    trickle(slow)
    answers = real_queries(url)
    print(f"\n/query while {SLOW} slow connections hang on: {[f'{s} in {t * 1000:.0f} ms' for s, t in answers]}")
    assert [status for status, _ in answers] == [200] * len(answers)
    assert closed_by_server(slow, within=30) == SLOW  # each one ends at the header deadline
    assert real_queries(url, 1)[0][0] == 200


def test_slow_bodies_through_the_public_host_hang_on_while_a_real_query_is_answered(small_server: str) -> None:
    url = small_server
    def head(n: int) -> bytes:  # each from its own visitor, as through the tunnel
        return (f"POST /register HTTP/1.1\r\nHost: {PUBLIC_HOST}\r\nX-Forwarded-For: 203.0.{n // 250}.{n % 250 + 1}\r\n"
                "Content-Type: application/json\r\nContent-Length: 60000\r\n\r\n{\"client_name\": \"").encode()

    slow = open_slow(url, SLOW_BODIES, head)
    trickle(slow)
    answers = real_queries(url)
    print(f"\n/query while {SLOW_BODIES} slow bodies hang on: {[f'{s} in {t * 1000:.0f} ms' for s, t in answers]}")
    assert [status for status, _ in answers] == [200] * len(answers)
    assert closed_by_server(slow, within=30) == SLOW_BODIES
