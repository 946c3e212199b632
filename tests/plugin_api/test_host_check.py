from __future__ import annotations

import pytest

from notewell.plugin_api.host_check import HostCheck

PUBLIC = "https://quiet-notes.ngrok-free.app"
check = HostCheck(lambda: PUBLIC, allowed_origins=("https://chatgpt.com",))


@pytest.mark.parametrize(
    "host, public, allowed",
    [
        ("127.0.0.1:3333", None, True),
        ("localhost:3333", None, True),
        ("[::1]:3333", None, True),
        ("192.168.1.20:3333", None, True),  # an IP literal cannot be rebound
        ("quiet-notes.ngrok-free.app", PUBLIC, True),
        ("QUIET-NOTES.ngrok-free.app:443", PUBLIC, True),
        ("quiet-notes.ngrok-free.app", None, False),  # tunnel down: just a name
        ("evil.example", PUBLIC, False),
        ("localhost.evil.example", None, False),
        ("", None, False),
        ("bad host", None, False),
    ],
)
def test_hosts(host: str, public: str | None, allowed: bool) -> None:
    assert check.host_allowed(host, public) is allowed


@pytest.mark.parametrize(
    "origin, host, allowed",
    [
        ("https://chatgpt.com", "127.0.0.1:3333", True),
        ("http://localhost:6274", "127.0.0.1:3333", True),
        ("http://127.0.0.1:5173", "127.0.0.1:3333", True),
        (PUBLIC, "quiet-notes.ngrok-free.app", True),
        ("http://192.168.1.20:3333", "192.168.1.20:3333", True),  # same origin
        ("http://192.168.1.20:8080", "192.168.1.20:3333", False),
        ("https://evil.example", "127.0.0.1:3333", False),
        ("null", "127.0.0.1:3333", False),
        ("file://", "127.0.0.1:3333", False),
    ],
)
def test_origins(origin: str, host: str, allowed: bool) -> None:
    assert check.origin_allowed(origin, host, PUBLIC) is allowed
