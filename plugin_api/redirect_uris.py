"""Which redirect URIs an OAuth client may register (issue 15; OAuth 2.1 §2.3.1, RFC 8252 §7.3).

Only `https://host/…`, or `http://` to a loopback address (a native app listening on
this machine: 127.0.0.1, [::1] or localhost, any port). Never another scheme
(`javascript:`, `data:`, `file:`, custom ones), user info in the authority (it
disguises the host: `https://chatgpt.com@evil.example/`), or a fragment.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

LOOPBACK_HOSTS = frozenset({"localhost"})


def redirect_uri_problem(uri: str) -> str | None:
    """Why `uri` may not be registered, or None if it may."""
    try:
        parts = urlsplit(uri)
        host = parts.hostname or ""
        parts.port  # noqa: B018 (raises ValueError on a bad port)
    except ValueError:
        return f"{uri[:100]!r} is not a valid URL."
    if parts.scheme not in ("https", "http"):
        return f"Redirect URIs must use https (or http to a loopback address), not {parts.scheme or 'none'}:."
    if not host:
        return "A redirect URI needs a host."
    if "@" in parts.netloc:
        return "A redirect URI may not carry user info (user@host): it hides the real host."
    if parts.fragment or uri.endswith("#"):
        return "A redirect URI may not have a fragment (#…)."
    if parts.scheme == "http" and not _is_loopback(host):
        return "Plain http:// redirect URIs must point to this machine (127.0.0.1, [::1] or localhost); use https."
    return None


def _is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
