"""Run the API with uvicorn on a background thread: start, stop, restart.

    server = ApiServer(app, host="127.0.0.1", port=3333)
    server.start()          # raises PortInUse with what to do; slow clients: connections.py
    server.url              # http://127.0.0.1:3333
    server.stop()

The socket is bound here, before uvicorn starts, so a busy port is reported as a
typed error (uvicorn alone would log it and exit the process). Port 0 picks a
free port (tests).
"""

from __future__ import annotations

import errno
import socket
import threading
import time

import uvicorn
from starlette.types import ASGIApp

from .connections import ConnectionPolicy, connection_cap, descriptor_limit, protocol_class


class ServerError(Exception):
    pass


class PortInUse(ServerError):
    pass


class ApiServer:
    def __init__(
        self, app: ASGIApp, host: str = "127.0.0.1", port: int = 3333,
        connections: ConnectionPolicy = ConnectionPolicy(),
    ) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.connections = connections
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        if host in ("0.0.0.0", "[::]"):
            host = "127.0.0.1"
        return f"http://{host}:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        if self.running:
            return
        sock = _bind(self.host, self.port)
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            http=protocol_class(self.connections, connection_cap(self.connections, descriptor_limit())),
            log_level="error",  # its warnings are about clients' malformed requests: junk's to print
            access_log=False,
            lifespan="on",  # /mcp's session manager runs in the app's lifespan
            timeout_graceful_shutdown=5,
            server_header=False,
        )
        server = uvicorn.Server(config)
        self._server, self._error = server, None

        def serve() -> None:
            try:
                server.run(sockets=[sock])
            except BaseException as exc:  # reported by start(); a thread cannot raise
                self._error = exc
            finally:
                sock.close()

        self._thread = threading.Thread(target=serve, name=f"notewell-api-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise ServerError(
                    f"The API server on {self.url} did not start: {self._error or 'timed out'}."
                )
            time.sleep(0.01)

    def stop(self, timeout: float = 10.0) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive() and self._server is not None:
                self._server.force_exit = True
                self._thread.join(timeout)
        self._thread = self._server = None

    def restart(
        self, app: ASGIApp | None = None, host: str | None = None, port: int | None = None
    ) -> None:
        self.stop()
        self.app = app or self.app
        self.host = host or self.host
        self.port = self.port if port is None else port
        self.start()


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUse(
                f"Port {port} on {host} is already in use, perhaps by another Notewell. "
                f"Stop that program, or choose another port (notewell serve --port {port + 1}, "
                "or the Port setting)."
            ) from exc
        raise ServerError(
            f"Cannot listen on {host}:{port}: {exc.strerror or exc}. "
            "Check the Host and Port settings."
        ) from exc
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock
