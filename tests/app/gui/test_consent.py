"""OAuth in the desktop app: Allow / Deny when a client asks, and revoking a connected client."""

from __future__ import annotations

import base64
import hashlib
import secrets

import httpx

from tests.app.gui.conftest import wait_ready

REDIRECT = "https://chatgpt.com/connector_platform_oauth_redirect"


def start_authorizing(url: str, scope: str | None = None) -> tuple[str, str, str]:
    """A client registers and sends the browser to /authorize; returns (client_id, verifier, page)."""
    client_id = httpx.post(f"{url}/register", json={
        "client_name": "ChatGPT", "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"}).json()["client_id"]
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    answer = httpx.get(f"{url}/authorize", params={
        "response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT, "state": "s",
        "code_challenge": challenge, "code_challenge_method": "S256", **({"scope": scope} if scope else {})})
    assert answer.status_code == 302
    return client_id, verifier, url + answer.headers["location"]


def test_allow_in_the_app_then_revoke_from_connected_clients(qtbot, make_desktop, notes):
    answers: list[bool] = []
    asked: list[str] = []

    def confirm(parent, question: str) -> bool:
        asked.append(question)
        return answers.pop(0)

    desktop = make_desktop([notes], confirm=confirm)
    wait_ready(qtbot, desktop)
    url = desktop.sharing.server_state.url
    client_id, verifier, page = start_authorizing(url)
    waiting = httpx.get(page).text  # the browser page: the app asks, no code to type (#17)
    assert "choose Allow in the Notewell app" in waiting
    assert "notewell serve" not in waiting and 'name="code"' not in waiting
    prompt = desktop.consent_prompt
    qtbot.waitUntil(lambda: len(prompt.open) == 1)
    [question] = prompt.open.values()
    assert "“ChatGPT” wants to read your notes" in question.box.text()
    assert "chatgpt.com" in question.box.informativeText()
    question.allow.click()
    assert prompt.open == {}

    back = httpx.get(page)
    assert back.status_code == 302 and back.headers["location"].startswith(REDIRECT + "?code=")
    code = back.headers["location"].split("code=")[1].split("&")[0]
    issued = httpx.post(f"{url}/token", data={"grant_type": "authorization_code", "code": code,
                                              "redirect_uri": REDIRECT, "client_id": client_id,
                                              "code_verifier": verifier}).json()
    headers = {"Authorization": f"Bearer {issued['access_token']}", "Accept": "application/json, text/event-stream"}
    call = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    assert httpx.post(f"{url}/mcp", headers=headers, json=call).status_code == 200

    clients = desktop.clients_box
    qtbot.waitUntil(lambda: clients.list.count() == 1)
    assert clients.list.item(0).text().startswith("ChatGPT (chatgpt.com)")
    clients.list.setCurrentRow(0)
    answers.append(False)  # Revoke asks first, like Rotate; No keeps the client
    clients.revoke_button.click()
    assert asked[-1].startswith("Revoke “ChatGPT”?") and clients.list.count() == 1
    assert httpx.post(f"{url}/mcp", headers=headers, json=call).status_code == 200
    clients.list.setCurrentRow(0)
    answers.append(True)
    clients.revoke_button.click()
    assert clients.list.count() == 0
    assert httpx.post(f"{url}/mcp", headers=headers, json=call).status_code == 401


def test_deny_in_the_app_sends_access_denied(qtbot, make_desktop, notes):
    desktop = make_desktop([notes])
    wait_ready(qtbot, desktop)
    _, _, page = start_authorizing(desktop.sharing.server_state.url)
    qtbot.waitUntil(lambda: len(desktop.consent_prompt.open) == 1)
    [question] = desktop.consent_prompt.open.values()
    question.deny.click()
    back = httpx.get(page)
    assert back.status_code == 302 and "error=access_denied" in back.headers["location"]
    assert desktop.clients_box.list.count() == 0


def test_a_client_that_asks_to_save_is_named_as_such(qtbot, make_desktop, notes):
    """Issue 18: the question and the browser's page name the write scope when it is asked for."""
    desktop = make_desktop([notes])
    wait_ready(qtbot, desktop)
    _, _, page = start_authorizing(desktop.sharing.server_state.url, "notes:read notes:write")
    qtbot.waitUntil(lambda: len(desktop.consent_prompt.open) == 1)
    [question] = desktop.consent_prompt.open.values()
    assert question.box.text() == ("An app calling itself “ChatGPT” wants to read your notes and save new notes "
                                   "into your inbox folder.")
    assert "ask to save new notes" in question.box.informativeText()
    assert "save new notes into your inbox folder" in httpx.get(page).text
    question.deny.click()
