"""Shared pieces for tunnel tests: the fake agent, an edge client, a served app, a status recorder."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path
from typing import Callable

import httpx
import uvicorn

from notewell.plugin_api.tunnel import Tunnel, TunnelStatus

FAKE_NGROK = Path(__file__).parent / "fake_ngrok" / "ngrok"
STATE_FILE = "fake_ngrok_state.json"
KNOBS_FILE = "fake_ngrok_knobs.json"


def fake_state(state_dir: Path) -> dict:
    return json.loads((state_dir / STATE_FILE).read_text())


def set_knobs(state_dir: Path, **knobs: object) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / KNOBS_FILE).write_text(json.dumps(knobs))


class EdgeTransport(httpx.BaseTransport):
    """Sends https://<public host>/... to the fake's public listener for that host, as DNS would."""

    def __init__(self, state_dir: Path) -> None:
        self._state_dir = state_dir
        self._inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        endpoints = fake_state(self._state_dir)["endpoints"]
        host, port = endpoints[f"https://{request.url.host}"]["addr"].split(":")
        request.url = request.url.copy_with(scheme="http", host=host, port=int(port))
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


def edge_client(state_dir: Path) -> httpx.Client:
    return httpx.Client(transport=EdgeTransport(state_dir), timeout=10)


class ServedApp:
    """An ASGI app served by uvicorn on 127.0.0.1:<random> in a thread."""

    def __init__(self, app: object) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True)

    def __enter__(self) -> "ServedApp":
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)
        self._sock.close()


class StatusRecorder:
    def __init__(self, tunnel: Tunnel) -> None:
        self.seen: list[TunnelStatus] = []
        self._cond = threading.Condition()
        self.unsubscribe = tunnel.subscribe(self._record)

    def _record(self, status: TunnelStatus) -> None:
        with self._cond:
            self.seen.append(status)
            self._cond.notify_all()

    def wait_for(
        self, predicate: Callable[[TunnelStatus], bool], *, after: int = 0, timeout: float = 10
    ) -> TunnelStatus:
        """The first status from index `after` on that matches; fails after `timeout` seconds."""

        def found() -> TunnelStatus | None:
            return next((s for s in self.seen[after:] if predicate(s)), None)

        with self._cond:
            self._cond.wait_for(lambda: found() is not None, timeout=timeout)
            result = found()
        assert result is not None, f"no matching status within {timeout} s; saw {self.seen}"
        return result

    def wait_state(self, state: str, *, after: int = 0, timeout: float = 10) -> TunnelStatus:
        return self.wait_for(lambda s: s.state == state, after=after, timeout=timeout)
