from __future__ import annotations

import httpx
import pytest

from notewell.plugin_api.addresses import base_url, client_address
from tests.plugin_api.conftest import StartApi

PUBLIC = "https://abc.ngrok-free.app"


def scope(peer: str, host: str = "abc.ngrok-free.app", xff: list[str] | None = None, **extra: object) -> dict:
    headers = [(b"host", host.encode())] + [(b"x-forwarded-for", v.encode()) for v in xff or []]
    return {"type": "http", "client": (peer, 50000), "headers": headers, "scheme": "http",
            "server": ("127.0.0.1", 3333), **extra}


@pytest.mark.parametrize(
    "peer, host, xff, public, expected",
    [
        ("127.0.0.1", "abc.ngrok-free.app", ["203.0.113.9"], PUBLIC, "203.0.113.9"),
        ("127.0.0.1", "abc.ngrok-free.app:443", ["203.0.113.9"], PUBLIC, "203.0.113.9"),
        # A visitor's own X-Forwarded-For is ignored: the tunnel appends the real address last.
        ("127.0.0.1", "abc.ngrok-free.app", ["6.6.6.6, 203.0.113.9"], PUBLIC, "203.0.113.9"),
        ("127.0.0.1", "abc.ngrok-free.app", ["6.6.6.6", "203.0.113.9"], PUBLIC, "203.0.113.9"),
        ("127.0.0.1", "abc.ngrok-free.app", ["not-an-ip"], PUBLIC, "tunnel"),
        # Local clients (Host is not the public host) are the peer, whatever they claim.
        ("127.0.0.1", "127.0.0.1:3333", ["203.0.113.9"], PUBLIC, "127.0.0.1"),
        ("127.0.0.1", "abc.ngrok-free.app", ["203.0.113.9"], None, "127.0.0.1"),
        # A remote peer is never overridden by headers.
        ("198.51.100.7", "abc.ngrok-free.app", ["203.0.113.9"], PUBLIC, "198.51.100.7"),
        # IPv6 visitors are grouped by /64.
        ("::1", "abc.ngrok-free.app", ["2001:db8:1:2:aaaa::1"], PUBLIC, "2001:db8:1:2::/64"),
        ("::ffff:127.0.0.1", "abc.ngrok-free.app", ["::ffff:203.0.113.9"], PUBLIC, "203.0.113.9"),
    ],
)
def test_client_address_rule(peer: str, host: str, xff: list[str], public: str | None, expected: str) -> None:
    assert client_address(scope(peer, host, xff), public) == expected


def test_base_url() -> None:
    assert base_url(scope("127.0.0.1"), PUBLIC + "/") == PUBLIC
    forwarded = scope("127.0.0.1", "notes.example.com")
    forwarded["headers"].append((b"x-forwarded-proto", b"https"))
    assert base_url(forwarded, None) == "https://notes.example.com"
    assert base_url(scope("127.0.0.1", "evil.example/<script>"), None) == "http://127.0.0.1:3333"


def test_lockout_through_the_tunnel_is_per_visitor(start_api: StartApi) -> None:
    from notewell.plugin_api.app import ApiConfig
    from notewell.plugin_api.auth import LockoutPolicy

    api = start_api(ApiConfig(lockout=LockoutPolicy(max_failures=2)), public_url=lambda: PUBLIC)
    attacker = {"Host": "abc.ngrok-free.app", "X-Forwarded-For": "203.0.113.66"}
    assistant = {"Host": "abc.ngrok-free.app", "X-Forwarded-For": "20.1.2.3"}
    with httpx.Client(base_url=api.url) as client:
        for _ in range(2):
            client.get("/notes/0123456789abcdef0123", headers={**attacker, "Authorization": "Bearer x"})
        wrong = client.get("/notes/0123456789abcdef0123", headers={**attacker, "Authorization": "Bearer x"})
        assert wrong.status_code == 429
        ok = client.get("/notes/0123456789abcdef0123", headers={**assistant, "Authorization": f"Bearer {api.token}"})
        assert ok.status_code == 404  # authenticated; the note just does not exist
        local = client.get("/notes/0123456789abcdef0123", headers={"Authorization": f"Bearer {api.token}"})
        assert local.status_code == 404
    clients = {e.source for e in api.activity.reads()} | {r.source for r in api.activity.refused()}
    assert {"203.0.113.66", "20.1.2.3", "127.0.0.1"} <= clients
