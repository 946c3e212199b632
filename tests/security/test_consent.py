"""Issue 15: "The consent prompt can be spoofed and spammed", and redirect URIs.

Replayed: a registered `client_name` was rendered as Qt rich text (a green "ChatGPT
(verified by OpenAI)"); the return host of `https://chatgpt.com@evil.example/cb` was
shown as "chatgpt.com@evil.example"; 30 /authorize calls in 0.1 s opened 30 consent
dialogs; registration accepted `javascript:`, `data:`, `file:` and plain `http:`
redirect URIs, and an unknown scope redirected to a URI nobody had verified.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from notewell.plugin_api.app import ApiConfig
from notewell.plugin_api.limits import Limits
from tests.security.conftest import Serve
from tests.security.oauth_client import REDIRECT, authorize, pkce, register

SPOOF = '<font color="#1a7f37"><b>ChatGPT ✔ (verified by OpenAI)</b></font>'


def test_a_client_name_cannot_style_the_consent_prompt(serve: Serve, qtbot) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("PySide6.QtWidgets", exc_type=ImportError)
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QWidget

    from notewell.app.gui.bridge import Bridge
    from notewell.app.gui.consent import ConsentPrompt

    served = serve()
    bridge, parent = Bridge(), QWidget()
    qtbot.addWidget(parent)
    prompt = ConsentPrompt(parent, bridge, served.consents.approve, served.consents.deny, lambda: None)
    served.consents.subscribe(bridge.consent)
    with served.http() as http:
        client_id = register(http, SPOOF + " " * 10 + "\u202e" + "x" * 300).json()["client_id"]
        assert authorize(http, client_id, pkce()[1]).status_code == 302
    qtbot.waitUntil(lambda: len(prompt.open) == 1)
    [question] = prompt.open.values()
    assert question.box.textFormat() == Qt.TextFormat.PlainText
    assert '<font color="#1a7f37">' in question.box.text()  # shown as the characters it is
    assert "\u202e" not in question.box.text() and len(question.box.text()) < 200
    assert "chatgpt.com" in question.box.informativeText()


def test_the_return_host_is_the_redirect_uris_host(serve: Serve) -> None:
    served = serve()
    with served.http() as http:
        spoofed = register(http, "ChatGPT", "https://chatgpt.com@evil.example/cb")
        assert spoofed.status_code == 400 and spoofed.json()["error"] == "invalid_redirect_uri"
        tricky = "https://evil.example:8443/chatgpt.com?return=chatgpt.com"
        client_id = register(http, "ChatGPT", tricky).json()["client_id"]
        assert authorize(http, client_id, pkce()[1], redirect=tricky).status_code == 302
    [request] = served.consents.pending()
    assert request.redirect_host == "evil.example:8443"


def test_a_flood_of_authorize_calls_asks_once(serve: Serve) -> None:
    served = serve(ApiConfig(limits=Limits(rate_burst=1000)))  # past the rate limit, to reach the queue
    heard: list[object] = []
    served.consents.subscribe(heard.append)
    with served.http() as http:
        client_id = register(http).json()["client_id"]
        pages = []
        for n in range(30):
            answer = authorize(http, client_id, pkce()[1], state=f"tab{n}")
            assert answer.status_code == 302 and answer.headers["location"].startswith("/oauth/consent?")
            pages.append(answer.headers["location"])
        assert len(heard) == 1 and len(served.consents.pending()) == 1  # one question, the same client
        assert served.consents.approve(served.consents.pending()[0].id)
        for n, page in enumerate(pages):  # every tab that waited gets its own code and state
            back = urlsplit(http.get(page).headers["location"])
            assert parse_qs(back.query)["state"] == [f"tab{n}"] and parse_qs(back.query)["code"]

        others = [register(http, f"Spam {n}").json()["client_id"] for n in range(30)]
        answers = [authorize(http, other, pkce()[1]) for other in others]
    waiting = served.consents.pending()
    assert 1 <= len(waiting) <= 5 and len(heard) <= 6  # a few questions at most, whatever comes
    refused = [a for a in answers if a.status_code != 302]
    assert refused and all("location" not in a.headers for a in refused)
    assert "waiting" in refused[0].text


@pytest.mark.parametrize("uri", [
    "javascript:alert(document.cookie)", "data:text/html,<script>alert(1)</script>", "file:///etc/passwd",
    "http://evil.example/cb", "https://user:pass@evil.example/cb", "https://evil.example/cb#frag",
    "chatgpt://callback",
])
def test_redirect_uris_must_be_https_or_loopback_http(serve: Serve, uri: str) -> None:
    served = serve()
    with served.http() as http:
        answer = register(http, "X", uri)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] in ("invalid_redirect_uri", "invalid_client_metadata")


def test_good_redirect_uris_register(serve: Serve) -> None:
    served = serve()
    with served.http() as http:
        for uri in (REDIRECT, "http://127.0.0.1:33418/callback", "http://localhost:6274/oauth/callback",
                    "http://[::1]:8080/cb", "https://vscode.dev/redirect"):
            assert register(http, "X", uri).status_code == 201, uri


def test_no_redirect_before_the_user_saw_the_uri(serve: Serve) -> None:
    served = serve()
    evil = "https://evil.example/steal"
    with served.http() as http:
        client_id = register(http, "Bait", evil).json()["client_id"]
        for extra in ({"scope": "notes:admin"}, {"resource": "https://evil.example/other"},
                      {"code_challenge_method": "plain"}):
            answer = http.get("/authorize", params={
                "response_type": "code", "client_id": client_id, "redirect_uri": evil, "state": "s",
                "code_challenge": pkce()[1], "code_challenge_method": "S256", **extra})
            assert answer.status_code == 400, (extra, answer.status_code, answer.headers.get("location"))
            assert "location" not in answer.headers and "evil.example" not in answer.headers.get("refresh", "")
            assert answer.headers["content-type"].startswith("text/html")
        assert served.consents.pending() == []
    with httpx.Client(base_url=served.url) as http:  # a denied request does go back: the user saw where
        answer = authorize(http, client_id, pkce()[1], redirect=evil)
        assert served.consents.deny(served.consents.pending()[0].id)
        assert http.get(answer.headers["location"]).headers["location"].startswith(evil + "?error=access_denied")
