"""Connections: deadlines for headers and bodies, and a cap below the descriptor limit (issue 15).

uvicorn has no header timeout: a client that sends half a request line holds its
socket, and its file descriptor, forever. A thousand such clients took a server
with 1,024 descriptors down, the indexer's files included. So every connection:

* must finish each request's headers within `header_seconds` of opening (or of the
  previous response), and its body within `body_seconds` of the headers, or it is
  closed; keep-alive idling stays uvicorn's (5 s);
* counts against `max_connections`, which is kept `RESERVED_DESCRIPTORS` below the
  process's descriptor limit (raised to the hard limit at start). Past the cap, the
  connection that has waited longest for its own client (slow headers or body) is
  closed to make room; if every one is being answered, the newcomer is turned away.
  A real client sends its request at once, so it is never the one waiting longest.

    server = ApiServer(app, connections=ConnectionPolicy(header_seconds=10))
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Literal

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

Phase = Literal["headers", "body", "answering"]
RESERVED_DESCRIPTORS = 128  # for the index, the model, Chroma and the log while the cap is full
WANTED_DESCRIPTORS = 65_536


@dataclass(frozen=True)
class ConnectionPolicy:
    header_seconds: float = 10.0
    body_seconds: float = 30.0
    max_connections: int = 4096


def descriptor_limit() -> int:
    """Raise the soft limit on open files towards the hard one; return the soft limit."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows has no such limit to raise
        return WANTED_DESCRIPTORS
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = WANTED_DESCRIPTORS if hard == resource.RLIM_INFINITY else min(hard, WANTED_DESCRIPTORS)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError):
            pass
    return WANTED_DESCRIPTORS if soft == resource.RLIM_INFINITY else soft


def connection_cap(policy: ConnectionPolicy, descriptors: int) -> int:
    return max(16, min(policy.max_connections, descriptors - RESERVED_DESCRIPTORS))


def protocol_class(policy: ConnectionPolicy, cap: int) -> type[H11Protocol]:
    """uvicorn's h11 protocol with the deadlines and the cap (uvicorn.Config(http=...))."""

    class GuardedH11Protocol(H11Protocol):
        _phase: Phase = "headers"
        _since: float = 0.0
        _timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: Any) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._enter("headers")
            if len(self.connections) > cap:
                self._make_room()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            self._follow()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._follow()

        def connection_lost(self, exc: Exception | None) -> None:
            self._cancel()
            super().connection_lost(exc)

        def _follow(self) -> None:
            state = self.conn.their_state
            if state is h11.IDLE:
                self._enter("headers")
            elif state is h11.SEND_BODY:
                self._enter("body")
            else:
                self._enter("answering")

        def _enter(self, phase: Phase) -> None:
            if phase == self._phase and (self._timer is not None or phase == "answering"):
                return
            self._cancel()
            self._phase, self._since = phase, self.loop.time()
            if phase != "answering":
                seconds = policy.header_seconds if phase == "headers" else policy.body_seconds
                self._timer = self.loop.call_later(seconds, self._too_slow)

        def _cancel(self) -> None:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

        def _too_slow(self) -> None:
            self._timer = None
            if not self.transport.is_closing():
                self.transport.close()

        def _make_room(self) -> None:
            waiting = [c for c in self.connections
                       if c is not self and getattr(c, "_phase", "answering") != "answering"]
            if not waiting:
                self.transport.close()  # everyone is being answered: turn the newcomer away
                return
            oldest = min(waiting, key=lambda c: c._since)
            oldest._cancel()
            oldest.transport.close()

    return GuardedH11Protocol
