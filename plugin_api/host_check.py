"""DNS-rebinding protection that follows the tunnel (issue 7), for the routes the access
table marks `checks_host` (/mcp); its Origin rule is also who `cors.AccessCors` lets in
for the assistants' routes.

The MCP spec asks servers to check `Host` and `Origin`. The SDK's check takes
fixed lists, so behind ngrok (whose URL is known only once the tunnel is up) it
answers 421 to every request. Here the lists are computed per request:

  Host    a loopback name or any IP literal (a rebinding attack needs a host *name*
          the attacker controls), or the public URL's host.
  Origin  absent (server-side clients such as ChatGPT's connectors), loopback on any
          port, the public URL's origin, the configured browser origins, or the
          request's own origin.
"""

from __future__ import annotations

import ipaddress
from typing import Callable
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import Scope

from .addresses import LOOPBACK_NAMES, public_host
from .errors import ApiError


class MisdirectedRequest(ApiError):
    status, code = 421, "bad_host"


class ForbiddenOrigin(ApiError):
    status, code = 403, "bad_origin"


class HostCheck:
    def __init__(self, public_url: Callable[[], str | None], allowed_origins: tuple[str, ...] = ()) -> None:
        self._public_url = public_url
        self._origins = frozenset(origin.rstrip("/").lower() for origin in allowed_origins)

    def check(self, scope: Scope) -> None:
        """Return if Host and Origin are acceptable; raise 421 or 403 otherwise."""
        headers = Headers(scope=scope)
        host = headers.get("host", "")
        public = self._public_url()
        if not self.host_allowed(host, public):
            raise MisdirectedRequest(
                f"This server does not answer to the host {host[:100]!r}. If you reach Notewell "
                "through your own proxy or domain, set that address as its public URL "
                "(notewell serve --public-url https://…, or the Public URL setting)."
            )
        origin = headers.get("origin")
        if origin is not None and not self.origin_allowed(origin, host, public):
            raise ForbiddenOrigin(
                f"Requests from web pages at {origin[:100]!r} may not use /mcp. Use an MCP client "
                "app, or the public URL Notewell shows."
            )

    def allows_origin_of(self, origin: str, scope: Scope) -> bool:
        """For CORS on the assistants' routes: may a page at `origin` call this server?"""
        return self.origin_allowed(origin, Headers(scope=scope).get("host", ""), self._public_url())

    def host_allowed(self, host: str, public_url: str | None) -> bool:
        name = _hostname(host)
        if not name:
            return False
        if name in LOOPBACK_NAMES or _is_ip(name):
            return True
        return name == public_host(public_url)

    def origin_allowed(self, origin: str, host: str, public_url: str | None) -> bool:
        origin = origin.rstrip("/").lower()
        if origin in self._origins:
            return True
        parts = urlsplit(origin)
        name = (parts.hostname or "").lower()
        if parts.scheme not in ("http", "https") or not name:
            return False
        if name in LOOPBACK_NAMES or (_is_ip(name) and ipaddress.ip_address(name).is_loopback):
            return True
        if public_url and origin == _origin(public_url):
            return True
        return parts.netloc == host.lower()  # same origin as the request itself


def _hostname(host: str) -> str:
    try:
        return (urlsplit(f"//{host}").hostname or "").lower()
    except ValueError:
        return ""


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()
