"""`notewell serve --tunnel ngrok` end to end, with the fake agent from tests/plugin_api (issue 4)."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Iterator

import pytest

from notewell.plugin_api.tunnel import manifest_url
from tests.plugin_api.tunnel_helpers import FAKE_NGROK, edge_client, fake_state

REPO = Path(__file__).resolve().parents[2]


class Serve:
    """A running `notewell serve`; lines from stdout and stderr arrive on one queue."""

    def __init__(self, data_dir: Path, *args: str, authtoken: str) -> None:
        env = {**os.environ, "NGROK_AUTHTOKEN": authtoken, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "notewell.app", "serve", "--port", "0", "--data-dir", str(data_dir), *args],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self.lines: queue.Queue[tuple[str, str]] = queue.Queue()
        self.seen: list[tuple[str, str]] = []
        self._pumps = [
            threading.Thread(target=self._pump, args=(name, stream), daemon=True)
            for name, stream in (("out", self.proc.stdout), ("err", self.proc.stderr))
        ]
        for pump in self._pumps:
            pump.start()

    def _pump(self, name: str, stream: IO[str] | None) -> None:
        assert stream is not None
        for line in stream:
            self.lines.put((name, line.rstrip("\n")))

    def wait_line(self, prefix: str, *, stream: str = "out", timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                name, line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            self.seen.append((name, line))
            if name == stream and line.strip().startswith(prefix):
                return line.strip()
        raise AssertionError(f"no {stream} line starting {prefix!r} within {timeout} s; saw {self.seen}")

    def drain(self) -> None:
        """After exit: collect every remaining line."""
        for pump in self._pumps:
            pump.join(timeout=5)
        while not self.lines.empty():
            self.seen.append(self.lines.get())

    def interrupt(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout=15)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    (root / "notes").mkdir(parents=True)  # no notes: serving starts without loading the model
    (root / "settings.json").write_text(json.dumps({"folders": [str(root / "notes")]}))
    return root


@pytest.fixture
def serve(data_dir: Path) -> Iterator[list[Serve]]:
    started: list[Serve] = []
    yield started
    for running in started:
        if running.proc.poll() is None:
            running.proc.kill()
            running.proc.wait()


def test_serve_with_ngrok_prints_public_and_manifest_urls(serve, data_dir):
    running = Serve(
        data_dir, "--tunnel", "ngrok", "--ngrok-path", str(FAKE_NGROK),
        "--ngrok-domain", "quiet-notes.ngrok-free.app", authtoken="good-token",
    )
    serve.append(running)
    public = running.wait_line("Public URL:")
    assert public == "Public URL: https://quiet-notes.ngrok-free.app"
    manifest = running.wait_line("manifest:", timeout=5)
    assert manifest == f"manifest: {manifest_url('https://quiet-notes.ngrok-free.app')}"

    state = fake_state(data_dir / "ngrok")
    with edge_client(data_dir / "ngrok") as client:
        served = client.get(manifest_url("https://quiet-notes.ngrok-free.app")).json()
    assert served["api"]["url"] == "https://quiet-notes.ngrok-free.app/openapi.yaml"

    assert running.interrupt() == 0
    with pytest.raises(ProcessLookupError):
        for _ in range(50):  # the agent goes with serve
            os.kill(state["pid"], 0)
            time.sleep(0.1)


def test_serve_with_a_bad_authtoken_says_so_in_one_line(serve, data_dir):
    running = Serve(data_dir, "--tunnel", "ngrok", "--ngrok-path", str(FAKE_NGROK), authtoken="bad-token")
    serve.append(running)
    error = running.wait_line("Tunnel error:", stream="err")
    assert error.startswith("Tunnel error: ngrok rejected the authtoken. Copy your authtoken")
    assert running.interrupt() == 0
    running.drain()
    assert not any("Traceback" in line or "lvl=" in line for _, line in running.seen)


def test_serve_applies_the_traffic_policy_from_the_settings(serve, data_dir):
    settings = json.loads((data_dir / "settings.json").read_text())
    settings.update(ngrok_allow_ips=["203.0.113.0/24"], ngrok_rate_limit=30)
    (data_dir / "settings.json").write_text(json.dumps(settings))
    running = Serve(data_dir, "--tunnel", "ngrok", "--ngrok-path", str(FAKE_NGROK), authtoken="good-token")
    serve.append(running)
    public = running.wait_line("Public URL:").split()[-1]
    policy = fake_state(data_dir / "ngrok")["endpoints"][public]["traffic_policy"]
    actions = {a["type"]: a["config"] for a in policy["on_http_request"][0]["actions"]}
    assert actions["restrict-ips"]["allow"] == ["203.0.113.0/24"]
    assert actions["rate-limit"]["capacity"] == 30
    with edge_client(data_dir / "ngrok") as client:
        assert client.get(f"{public}/healthz").status_code == 403  # this machine is not in the range
    assert running.interrupt() == 0
