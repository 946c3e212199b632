"""Expose the local API at a public HTTPS URL (issue 4).

`make_tunnel` picks one provider behind the small `Tunnel` interface:

- ``"none"``: nothing is public; the status stays ``off``.
- ``"url"``: the user's own HTTPS URL (cloudflared, Tailscale Funnel, a reverse proxy).
- ``"ngrok"``: an ngrok agent driven through pyngrok (`plugin_api.tunnel_ngrok`).

Each provider publishes `TunnelStatus` values (off / connecting / online with URL /
error with a message a user can act on) to its subscribers, the CLI and the GUI bridge.
Callbacks run on the tunnel's own threads: keep them short (re-emit as a Qt signal).

Errors, each message saying what to do next:

    TunnelError
     ├── PublicUrlError      "my own URL" is not an https:// URL
     ├── AuthtokenError      ngrok is missing the authtoken or rejected it
     ├── AgentMissingError   no runnable agent at --ngrok-path
     ├── AgentDownloadError  the agent could not be downloaded
     ├── AgentStartError     the agent could not start or connect (retried)
     └── NgrokRefusedError   ngrok refused with an ERR_NGROK_* code
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal, Protocol
from urllib.parse import urlsplit, urlunsplit

from .listeners import Listeners

TunnelState = Literal["off", "connecting", "online", "error"]
TunnelKind = Literal["none", "ngrok", "url"]
StatusCallback = Callable[["TunnelStatus"], None]

MANIFEST_PATH = "/.well-known/ai-plugin.json"
MCP_PATH = "/mcp"
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


@dataclass(frozen=True)
class TunnelStatus:
    state: TunnelState
    public_url: str | None = None
    message: str = ""
    retrying: bool = False  # an error the tunnel is still trying to get past (issue 17)

    @property
    def active(self) -> bool:
        """The tunnel is up or still trying: "Stop sharing" applies, "Start sharing" would
        only start a second attempt."""
        return self.state in ("connecting", "online") or (self.state == "error" and self.retrying)


class Tunnel(Protocol):
    def start(self, local_port: int) -> None:
        """Begin exposing 127.0.0.1:local_port; returns quickly, `status` tells the outcome."""

    def stop(self) -> None: ...

    @property
    def status(self) -> TunnelStatus: ...

    def subscribe(self, callback: StatusCallback) -> Callable[[], None]:
        """Call `callback` with every new status; returns a function that unsubscribes."""


class TunnelError(Exception):
    """A tunnel problem; `str(error)` is the sentence shown to the user."""

    retry: bool = False

    def __init__(self, message: str, *, retry: bool | None = None) -> None:
        super().__init__(message)
        if retry is not None:
            self.retry = retry


class PublicUrlError(TunnelError, ValueError):
    pass


class AuthtokenError(TunnelError):
    pass


class AgentMissingError(TunnelError):
    pass


class AgentDownloadError(TunnelError):
    retry = True


class AgentStartError(TunnelError):
    retry = True


class NgrokRefusedError(TunnelError):
    pass


def manifest_url(public_url: str) -> str:
    return public_url.rstrip("/") + MANIFEST_PATH


def validate_public_url(url: str) -> str:
    """Return `url` normalised (no trailing slash); remote URLs must be HTTPS."""
    text = url.strip()
    parts = urlsplit(text)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise PublicUrlError(
            f"{text!r} is not a web address. Enter the full public URL, like https://notes.example.com."
        )
    if parts.query or parts.fragment:
        raise PublicUrlError(f"Leave the query and fragment off the public URL {text!r}.")
    if parts.scheme == "http" and parts.hostname not in _LOCAL_HOSTS:
        raise PublicUrlError(
            f"ChatGPT only connects over HTTPS: use https:// instead of {text!r} "
            "(http:// is accepted only for localhost)."
        )
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


class StatusBoard:
    """The current status plus its subscribers; providers publish through it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._status = TunnelStatus("off")
        self._subscribers: Listeners[TunnelStatus] = Listeners()

    @property
    def status(self) -> TunnelStatus:
        with self._lock:
            return self._status

    def subscribe(self, callback: StatusCallback) -> Callable[[], None]:
        return self._subscribers.subscribe(callback)

    def publish(self, status: TunnelStatus) -> None:
        with self._lock:
            if status == self._status:
                return
            self._status = status
        self._subscribers.notify(status)


class _Published:
    def __init__(self) -> None:
        self._board = StatusBoard()

    @property
    def status(self) -> TunnelStatus:
        return self._board.status

    def subscribe(self, callback: StatusCallback) -> Callable[[], None]:
        return self._board.subscribe(callback)


class NoTunnel(_Published):
    """Sharing off: the API stays on this computer."""

    def start(self, local_port: int) -> None:
        self._board.publish(TunnelStatus("off"))

    def stop(self) -> None:
        self._board.publish(TunnelStatus("off"))


class UrlTunnel(_Published):
    """A public URL the user runs themselves (cloudflared, Tailscale Funnel, reverse proxy)."""

    def __init__(self, public_url: str) -> None:
        super().__init__()
        self.public_url = validate_public_url(public_url)

    def start(self, local_port: int) -> None:
        self._board.publish(TunnelStatus("online", self.public_url))

    def stop(self) -> None:
        self._board.publish(TunnelStatus("off"))


def make_tunnel(
    kind: TunnelKind,
    *,
    public_url: str | None = None,
    authtoken: str | None = None,
    domain: str | None = None,
    region: str | None = None,
    ngrok_path: str | None = None,
    config_dir: Path | None = None,
    traffic_policy: dict | None = None,
) -> Tunnel:
    """Build the provider for `kind`; raises `TunnelError` for settings that cannot work."""
    if kind == "none":
        return NoTunnel()
    if kind == "url":
        if not public_url:
            raise PublicUrlError("Enter your public HTTPS URL (Settings → Sharing, or --public-url).")
        return UrlTunnel(public_url)
    if kind == "ngrok":
        from notewell.plugin_api.tunnel_ngrok import NgrokTunnel

        return NgrokTunnel(
            authtoken=authtoken or os.environ.get("NGROK_AUTHTOKEN") or None,
            domain=domain or None,
            region=region or None,
            ngrok_path=ngrok_path or None,
            config_dir=config_dir,
            traffic_policy=traffic_policy or None,
        )
    raise ValueError(f"unknown tunnel kind {kind!r}; use 'none', 'ngrok' or 'url'")
