"""The local API server and the tunnel for the desktop app (no Qt here).

    sharing = SharingController(make_app, make_tunnel, address, events)
    sharing.serve(index)        # (re)start the local server over this index
    sharing.start_sharing()     # open the tunnel (ngrok, or the user's own URL); no-op while it is up or trying
    sharing.restart_sharing()   # a new tunnel after its settings changed
    sharing.stop_sharing()
    sharing.close()

Every operation runs, in order, on one worker thread; `events` hears about the
server and the tunnel from that thread and from the tunnel's own threads.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Literal, Protocol

from notewell.plugin_api.tunnel import MANIFEST_PATH, MCP_PATH, TunnelError, TunnelStatus

if TYPE_CHECKING:
    from notewell.plugin_api.tunnel import Tunnel

log = logging.getLogger(__name__)

ServerStateName = Literal["stopped", "starting", "running", "error"]


@dataclass(frozen=True)
class ServerState:
    state: ServerStateName
    url: str = ""
    message: str = ""


@dataclass(frozen=True)
class Links:
    """What each assistant needs, from one base URL (public when sharing, else local)."""

    base: str
    manifest: str
    openapi_json: str
    openapi_yaml: str
    mcp: str | None = None

    @classmethod
    def for_base(cls, base: str, mcp_path: str | None = None) -> "Links":
        base = base.rstrip("/")
        return cls(
            base=base,
            manifest=base + MANIFEST_PATH,
            openapi_json=base + "/openapi.json",
            openapi_yaml=base + "/openapi.yaml",
            mcp=base + mcp_path if mcp_path else None,
        )


class SharingEvents(Protocol):
    def server_changed(self, state: ServerState) -> None: ...

    def tunnel_changed(self, status: TunnelStatus) -> None: ...


class SharingController:
    def __init__(
        self,
        make_app: Callable[[Any], Any],
        make_tunnel: Callable[[], Tunnel],
        address: Callable[[], tuple[str, int]],
        events: SharingEvents,
    ) -> None:
        self._make_app = make_app
        self._make_tunnel = make_tunnel
        self._address = address
        self._events = events
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="notewell-sharing")
        self._server: Any = None
        self._index: Any = None
        self._tunnel: Tunnel | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self.wanted = False  # the user asked to share
        self._closed = False
        self.server_state = ServerState("stopped")
        self.tunnel_status = TunnelStatus("off")

    def public_url(self) -> str | None:
        """For the API's manifest and spec: the tunnel's URL while it is online."""
        status = self.tunnel_status
        return status.public_url if status.state == "online" else None

    def links(self, mcp_path: str | None = MCP_PATH) -> Links | None:
        base = self.public_url() or (self.server_state.url if self.server_state.state == "running" else "")
        return Links.for_base(base, mcp_path) if base else None

    def serve(self, index: Any) -> Future[None] | None:
        return self._submit(self._serve, index)

    def restart(self) -> Future[None] | None:
        """Settings that shape the server changed (port, host, manifest fields)."""
        return self._submit(lambda: self._serve(self._index) if self._index is not None else None)

    def start_sharing(self) -> Future[None] | None:
        """Share; while the tunnel is up or still trying, this changes nothing (one loop only)."""
        self.wanted = True
        return self._submit(self._open_tunnel, False)

    def restart_sharing(self) -> Future[None] | None:
        """Settings the tunnel was made from changed: a new tunnel with the new settings."""
        self.wanted = True
        return self._submit(self._open_tunnel, True)

    def stop_sharing(self) -> Future[None] | None:
        self.wanted = False
        return self._submit(self._close_tunnel)

    def close(self) -> None:
        self.wanted = False
        if self._closed:
            return
        self._closed = True
        self._worker.submit(self._shutdown).result(timeout=30)
        self._worker.shutdown(wait=True)

    def _submit(self, job: Callable[..., None], *args: Any) -> Future[None] | None:
        if self._closed:  # a late signal after Quit: nothing left to start
            return None
        return self._worker.submit(job, *args)

    # -- the worker thread ---------------------------------------------------
    def _serve(self, index: Any) -> None:
        from notewell.plugin_api.server import ApiServer

        self._index = index
        host, port = self._address()
        self._set_server(ServerState("starting", message=f"Starting the local server on port {port}…"))
        if self._server is not None:
            self._server.stop()
        try:
            server = ApiServer(self._make_app(index), host=host, port=port)
            server.start()
        except Exception as exc:  # PortInUse, ServerError, bad manifest settings
            self._server = None
            self._set_server(ServerState("error", message=str(exc)))
            return
        self._server = server
        self._set_server(ServerState("running", server.url))
        if self.wanted:
            self._open_tunnel()

    def _open_tunnel(self, restart: bool = True) -> None:
        if not restart and self._tunnel is not None and self.tunnel_status.active:
            return
        if self._server is None:  # opens once the server runs (see _serve)
            if self.server_state.state == "error":
                self._set_tunnel(TunnelStatus("error", message="The local server is not running: "
                                              + self.server_state.message))
            return
        self._close_tunnel(announce=False)
        try:
            tunnel = self._make_tunnel()
        except TunnelError as exc:
            self._set_tunnel(TunnelStatus("error", message=str(exc)))
            return
        self._tunnel = tunnel
        self._unsubscribe = tunnel.subscribe(self._set_tunnel)
        tunnel.start(self._server.port)
        self._set_tunnel(tunnel.status)

    def _close_tunnel(self, announce: bool = True) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._tunnel is not None:
            try:
                self._tunnel.stop()
            except Exception:
                log.exception("stopping the tunnel failed")
            self._tunnel = None
        if announce:
            self._set_tunnel(TunnelStatus("off"))

    def _shutdown(self) -> None:
        self._close_tunnel()
        if self._server is not None:
            self._server.stop()
            self._server = None
        self._set_server(ServerState("stopped"))

    def _set_server(self, state: ServerState) -> None:
        self.server_state = state
        self._events.server_changed(state)

    def _set_tunnel(self, status: TunnelStatus) -> None:
        self.tunnel_status = status
        self._events.tunnel_changed(status)
