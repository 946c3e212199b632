"""Chroma as a child process for the desktop app (no Qt here).

Chroma's embedded client runs its writes in native code that holds Python's GIL
for 40-400 ms per batch, which would freeze the window while notes are indexed
(issue 5: event-loop stalls must stay under 100 ms). The desktop app therefore
runs `chroma run` on the same `chroma/` folder the CLI uses and talks to it over
HTTP on 127.0.0.1; the waiting then happens with the GIL released.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path


# The child reads its stdin, a pipe the app holds open for its whole life. However the
# app ends (quit, SIGTERM at logout, a crash, SIGKILL), the system closes the pipe and
# the read returns: the child then stops itself instead of living on as an orphan.
_LAUNCH = """
import os, signal, sys, threading, time
os.umask(0o077)  # the vectors and documents are the user's notes: private files (issue 15)

def _exit_with_the_app():
    sys.stdin.buffer.read()
    os.kill(os.getpid(), signal.SIGTERM)  # a clean shutdown first
    time.sleep(10)
    os._exit(0)

threading.Thread(target=_exit_with_the_app, daemon=True).start()
from chromadb.cli.cli import app
sys.argv[0] = "chroma"
sys.exit(app())
"""


class ChromaServerError(Exception):
    pass


class ChromaServer:
    def __init__(self, path: Path, log_file: Path) -> None:
        self.path = path
        self.log_file = log_file
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> str:
        import httpx

        self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.port = _free_port()
        command = [sys.executable, "-c", _LAUNCH, "run", "--path", str(self.path),
                   "--host", "127.0.0.1", "--port", str(self.port)]
        env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
        self.path.chmod(0o700)
        with open(os.open(self.log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600), "ab") as log:
            self._process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env,
                                             stdin=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise ChromaServerError(
                    f"The vector store process stopped at start (exit {self._process.returncode}); "
                    f"see {self.log_file}."
                )
            try:
                if httpx.get(f"{self.url}/api/v2/heartbeat", timeout=1).status_code == 200:
                    return self.url
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise ChromaServerError(f"The vector store did not start within {timeout:.0f} s; see {self.log_file}.")

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def stop(self, timeout: float = 10.0) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        if process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
