"""Client addresses (who is asking) and the public base URL (where they reached us).

The client address keys rate limits, lockout and the activity log.

Rule (issue 3): the TCP peer is the client, except for requests that came through
the tunnel. A tunnel agent (ngrok, cloudflared) runs on this machine, so its
requests arrive from loopback with the visitor's address appended to
X-Forwarded-For, and with the public host name in `Host` (ngrok forwards the Host
header unchanged unless told to rewrite it). So X-Forwarded-For is trusted only when

  * the peer is a loopback address, and
  * a public URL is known (tunnel online or `--public-url`), and
  * the request's Host is that public URL's host;

and then only its last entry is used: the one the tunnel itself appended, which a
visitor cannot forge by sending an X-Forwarded-For of their own. A local process can
still claim any address this way, but local processes can read the token file
anyway. IPv6 visitors are grouped by /64, so rotating addresses inside one
allocation does not escape the limits.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import Scope


LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


def public_host(public_url: str | None) -> str | None:
    if not public_url:
        return None
    return (urlsplit(public_url).hostname or "").lower() or None


def request_host(headers: Headers) -> str:
    host = headers.get("host", "")
    return (urlsplit(f"//{host}").hostname or "").lower() if host else ""


def client_address(scope: Scope, public_url: str | None) -> str:
    peer = scope.get("client")
    address = peer[0] if peer else "unknown"
    if not _is_loopback(address):
        return _group(address)
    expected = public_host(public_url)
    headers = Headers(scope=scope)
    if expected is None or request_host(headers) != expected:
        return address
    forwarded = headers.getlist("x-forwarded-for")
    last = forwarded[-1].split(",")[-1].strip() if forwarded else ""
    try:
        return _group(str(ipaddress.ip_address(last)))
    except ValueError:
        return "tunnel"  # via the tunnel, but without a usable address


def _is_loopback(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)  # ::ffff:127.0.0.1 (Python < 3.13 says no)
    return (mapped or ip).is_loopback


def _group(address: str) -> str:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 6 and ip.ipv4_mapped is None and not ip.is_loopback:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    if ip.version == 6 and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


_HOST_HEADER = re.compile(r"[A-Za-z0-9.-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")


# Headers a proxy or tunnel agent adds (ngrok sets X-Forwarded-For/-Proto/-Host).
_FORWARDING_HEADERS = ("x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "forwarded", "x-real-ip",
                       "cf-connecting-ip", "true-client-ip", "x-original-host")


def is_direct_local(scope: Scope) -> bool:
    """From this machine straight to the loopback address: no tunnel or proxy in between
    (the tunnel agent runs here too, so its requests come from loopback, but it forwards
    the public Host and adds forwarding headers)."""
    if not is_local(scope):
        return False
    headers = Headers(scope=scope)
    return not any(name in headers for name in _FORWARDING_HEADERS)


def is_local(scope: Scope) -> bool:
    """From this machine to a loopback address: not a visitor through the tunnel."""
    peer = scope.get("client")
    if not peer or not _is_loopback(peer[0]):
        return False
    host = request_host(Headers(scope=scope)).strip("[]")
    return host in LOOPBACK_NAMES or _is_loopback(host)


def base_url(scope: Scope, public_url: str | None) -> str:
    """The base URL this request should see in links (DESIGN.md "Public base URL").

    From loopback to a loopback host, the local URL: a local client (an OAuth client
    checking the protected resource, say) must see the address it used, even while
    sharing. Otherwise the tunnel's or configured public URL, else the request's origin.
    """
    if public_url and not is_local(scope):
        return public_url.rstrip("/")
    headers = Headers(scope=scope)
    proto = headers.get("x-forwarded-proto", "").lower()
    scheme = proto if proto in ("http", "https") else scope.get("scheme", "http")
    host = headers.get("host", "")
    if not _HOST_HEADER.fullmatch(host):
        server = scope.get("server") or ("127.0.0.1", 80)
        host = f"{server[0]}:{server[1]}"
    return f"{scheme}://{host}"
