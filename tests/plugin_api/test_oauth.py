"""OAuth 2.1 for /mcp end to end: a scripted client against uvicorn on 127.0.0.1 (issue 7).

register → authorize → consent (approved by the test, as the app or serve's code
would) → token → MCP call with the official client → refresh → revoke; plus the
ways it must fail.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from notewell.indexer.notes_index import NotesIndex
from notewell.plugin_api.activity import ActivityLog
from notewell.plugin_api.app import ApiConfig, create_app
from notewell.plugin_api.consent import ConsentQueue
from notewell.plugin_api.mcp import McpEndpoint
from notewell.plugin_api.oauth import OAuthServer
from notewell.plugin_api.oauth_store import ACCESS_SECONDS, OAuthStore
from notewell.plugin_api.server import ApiServer
from tests.plugin_api.conftest import TOKEN
from tests.security.oauth_client import sdk_oauth_dance

REDIRECT = "https://chatgpt.com/connector_platform_oauth_redirect"


@dataclass
class Server:
    url: str
    store: OAuthStore
    consents: ConsentQueue
    now: list[float]
    http: httpx.Client


@pytest.fixture
def server(index: NotesIndex, tmp_path: Path) -> Iterator[Server]:
    now = [time.time()]
    store = OAuthStore(tmp_path / "oauth.json", clock=lambda: now[0])
    consents = ConsentQueue()
    oauth = OAuthServer(store, consents, lambda: None)
    config = ApiConfig()
    endpoint = McpEndpoint(index, config.limits, lambda: None)
    app = create_app(index, config, token=lambda: TOKEN, activity=ActivityLog(), oauth=oauth,
                     extra_routes=[endpoint.route()], lifespan=endpoint.lifespan)
    api = ApiServer(app, port=0)
    api.start()
    with httpx.Client(base_url=api.url, timeout=30) as http:
        yield Server(api.url, store, consents, now, http)
    api.stop()


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return verifier, challenge


def register(server: Server, name: str = "ChatGPT") -> str:
    answer = server.http.post("/register", json={
        "client_name": name, "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"]})
    assert answer.status_code == 201, answer.text
    return answer.json()["client_id"]


def authorize(server: Server, client_id: str, challenge: str, redirect: str = REDIRECT) -> httpx.Response:
    return server.http.get("/authorize", params={
        "response_type": "code", "client_id": client_id, "redirect_uri": redirect, "state": "st4te",
        "code_challenge": challenge, "code_challenge_method": "S256", "scope": "notes:read",
        "resource": f"{server.url}/mcp"})


def consent_page(server: Server, location: str) -> str:
    """The page's ticket (the browser's); the question it waits on is `question_id(server)`."""
    assert location.startswith("/oauth/consent?request=")
    return location.split("=", 1)[1]


def question_id(server: Server) -> str:
    [request] = server.consents.pending()
    return request.id


def code_from(response: httpx.Response) -> str:
    assert response.status_code == 302, response.text
    target = urlsplit(response.headers["location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == REDIRECT
    query = parse_qs(target.query)
    assert query["state"] == ["st4te"]
    return query["code"][0]


def tokens(server: Server, **form: str) -> httpx.Response:
    return server.http.post("/token", data=form)


def connect(server: Server) -> tuple[str, dict[str, Any]]:
    """The whole dance up to the first tokens; the consent is approved as the app would."""
    client_id = register(server)
    verifier, challenge = pkce()
    request_id = consent_page(server, authorize(server, client_id, challenge).headers["location"])
    assert server.consents.approve(question_id(server))
    code = code_from(server.http.get("/oauth/consent", params={"request": request_id}))
    answer = tokens(server, grant_type="authorization_code", code=code, redirect_uri=REDIRECT,
                    client_id=client_id, code_verifier=verifier)
    assert answer.status_code == 200, answer.text
    return client_id, answer.json()


def mcp_search(server: Server, access_token: str) -> dict[str, Any]:
    async def main() -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {access_token}"}
        async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
            async with Client(streamable_http_client(server.url + "/mcp", http_client=http), mode="legacy") as client:
                result = await client.call_tool("search", {"query": "sourdough starter"})
                return json.loads(result.content[0].text)

    return anyio.run(main)


def mcp_status(server: Server, access_token: str) -> int:
    return server.http.post("/mcp", headers={"Authorization": f"Bearer {access_token}",
                                             "Accept": "application/json, text/event-stream"},
                            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).status_code


def test_discovery_starts_from_the_401(server: Server) -> None:
    refused = server.http.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    assert refused.status_code == 401
    challenge = refused.headers["www-authenticate"]
    metadata_url = challenge.split('resource_metadata="')[1].rstrip('"')
    assert metadata_url == f"{server.url}/.well-known/oauth-protected-resource/mcp"
    resource = httpx.get(metadata_url).json()
    assert resource["resource"] == f"{server.url}/mcp"
    assert resource["scopes_supported"] == ["notes:read", "notes:write"]  # write: saving (issue 18)
    issuer = resource["authorization_servers"][0].rstrip("/")
    metadata = httpx.get(f"{issuer}/.well-known/oauth-authorization-server").json()
    assert metadata["registration_endpoint"] == f"{server.url}/register"
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["revocation_endpoint"] == f"{server.url}/revoke"
    assert metadata["scopes_supported"] == ["notes:read", "notes:write"]


def test_register_authorize_consent_token_mcp_refresh_revoke(server: Server) -> None:
    client_id, first = connect(server)
    assert first["token_type"].lower() == "bearer" and first["expires_in"] == ACCESS_SECONDS
    assert first["scope"] == "notes:read" and first["refresh_token"]
    assert mcp_search(server, first["access_token"])["results"]
    assert TOKEN not in first.values()
    [grant] = server.store.grants()
    assert grant.client_name == "ChatGPT" and grant.redirect_host == "chatgpt.com"
    assert grant.last_used_at is not None

    refreshed = tokens(server, grant_type="refresh_token", refresh_token=first["refresh_token"],
                       client_id=client_id)
    assert refreshed.status_code == 200, refreshed.text
    second = refreshed.json()
    assert second["access_token"] != first["access_token"]
    assert mcp_search(server, second["access_token"])["results"]
    assert mcp_status(server, first["access_token"]) == 401  # the old access token went with it
    again = tokens(server, grant_type="refresh_token", refresh_token=first["refresh_token"], client_id=client_id)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"  # rotated: single use

    revoked = server.http.post("/revoke", data={"token": second["access_token"], "client_id": client_id})
    assert revoked.status_code == 200, revoked.text
    assert mcp_status(server, second["access_token"]) == 401
    after = tokens(server, grant_type="refresh_token", refresh_token=second["refresh_token"], client_id=client_id)
    assert after.status_code == 400
    assert server.store.grants() == []


def test_the_token_file_is_private_and_holds_no_token(server: Server) -> None:
    _, issued = connect(server)
    path = server.store.path
    assert path is not None and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    text = path.read_text()
    assert issued["access_token"] not in text and issued["refresh_token"] not in text
    reopened = OAuthStore(path, clock=server.store.clock)  # tokens outlive a restart
    assert reopened.verify_access(issued["access_token"])


def test_revoking_from_the_list_of_connected_clients(server: Server) -> None:
    _, issued = connect(server)
    [grant] = server.store.grants()
    assert server.store.revoke(grant.id)
    assert mcp_status(server, issued["access_token"]) == 401
    body = server.http.post("/mcp", headers={"Authorization": f"Bearer {issued['access_token']}"}, json={}).json()
    assert "connect again" in body["error"]["message"]


def test_expired_access_token_is_refused_then_refresh_works(server: Server) -> None:
    client_id, issued = connect(server)
    assert mcp_status(server, issued["access_token"]) == 200
    server.now[0] += ACCESS_SECONDS + 1
    assert mcp_status(server, issued["access_token"]) == 401
    refreshed = tokens(server, grant_type="refresh_token", refresh_token=issued["refresh_token"], client_id=client_id)
    assert refreshed.status_code == 200
    assert mcp_status(server, refreshed.json()["access_token"]) == 200


def test_wrong_redirect_uri_is_refused_without_redirecting(server: Server) -> None:
    client_id = register(server)
    _, challenge = pkce()
    answer = authorize(server, client_id, challenge, redirect="https://evil.example/callback")
    assert answer.status_code == 400 and "location" not in answer.headers
    assert server.consents.pending() == []


def test_a_code_works_once(server: Server) -> None:
    client_id = register(server)
    verifier, challenge = pkce()
    request_id = consent_page(server, authorize(server, client_id, challenge).headers["location"])
    server.consents.approve(question_id(server))
    code = code_from(server.http.get("/oauth/consent", params={"request": request_id}))
    right = tokens(server, grant_type="authorization_code", code=code, redirect_uri=REDIRECT,
                   client_id=client_id, code_verifier=verifier)
    assert right.status_code == 200
    reused = tokens(server, grant_type="authorization_code", code=code, redirect_uri=REDIRECT,
                    client_id=client_id, code_verifier=verifier)
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    # A wrong PKCE verifier burns the code too: tests/security/test_oauth_tokens.py


def test_denied_consent_returns_access_denied(server: Server) -> None:
    client_id = register(server)
    _, challenge = pkce()
    request_id = consent_page(server, authorize(server, client_id, challenge).headers["location"])
    waiting = server.http.get("/oauth/consent", params={"request": request_id})
    assert waiting.status_code == 200 and "ChatGPT" in waiting.text and "chatgpt.com" in waiting.text
    assert server.http.get("/oauth/consent", params={"request": request_id, "poll": "1"}).status_code == 204
    server.consents.deny(question_id(server))
    assert server.http.get("/oauth/consent", params={"request": request_id, "poll": "1"}).status_code == 205
    answer = server.http.get("/oauth/consent", params={"request": request_id})
    assert answer.status_code == 302
    query = parse_qs(urlsplit(answer.headers["location"]).query)
    assert query["error"] == ["access_denied"] and query["state"] == ["st4te"] and "code" not in query
    assert server.store.grants() == []


def test_headless_one_time_code_typed_into_the_page(server: Server) -> None:
    shown = []
    server.consents.subscribe(shown.append)  # what `notewell serve` prints
    client_id = register(server, name="Claude")
    _, challenge = pkce()
    request_id = consent_page(server, authorize(server, client_id, challenge).headers["location"])
    [request] = shown
    assert request.client_name == "Claude" and request.code not in server.http.get(
        "/oauth/consent", params={"request": request_id}).text
    wrong = server.http.post("/oauth/consent", data={"request": request_id, "code": "AAAA-AAAA"})
    assert wrong.status_code == 200 and "not right" in wrong.text
    right = server.http.post("/oauth/consent", data={"request": request_id, "code": request.code.lower()})
    code_from(right)


def test_five_wrong_codes_deny(server: Server) -> None:
    client_id = register(server)
    _, challenge = pkce()
    request_id = consent_page(server, authorize(server, client_id, challenge).headers["location"])
    for _ in range(4):
        assert server.http.post("/oauth/consent", data={"request": request_id, "code": "x"}).status_code == 200
    last = server.http.post("/oauth/consent", data={"request": request_id, "code": "x"})
    assert last.status_code == 302 and "access_denied" in last.headers["location"]


def test_only_notewells_scopes_are_granted(server: Server) -> None:
    def register(scope: str) -> int:
        return server.http.post("/register", json={
            "client_name": "x", "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none",
            "scope": scope}).status_code

    assert register("notes:admin") == 400
    assert register("notes:read notes:write") == 201  # saving into the inbox (issue 18)


def test_the_api_key_still_works_on_mcp(server: Server) -> None:
    assert mcp_status(server, TOKEN) == 200
    assert mcp_status(server, "nwo_forged") == 401


def test_the_official_client_does_the_whole_oauth_dance(server: Server) -> None:
    """The SDK's own OAuthClientProvider: 401 → discovery → registration → consent → MCP."""
    tools, access_token = sdk_oauth_dance(server.url, server.consents, server.url + "/mcp")
    assert tools == ["fetch", "search"] and access_token.startswith("nwo_")
    assert [g.client_name for g in server.store.grants()] == ["Scripted"]


def test_behind_the_tunnel_the_issuer_is_the_public_https_url(index: NotesIndex, tmp_path: Path) -> None:
    public = "https://quiet-notes.ngrok-free.app"
    oauth = OAuthServer(OAuthStore(tmp_path / "oauth.json"), ConsentQueue(), lambda: public)
    endpoint = McpEndpoint(index, ApiConfig().limits, lambda: public)
    app = create_app(index, ApiConfig(), token=lambda: TOKEN, public_url=lambda: public, oauth=oauth,
                     extra_routes=[endpoint.route()], lifespan=endpoint.lifespan)
    api = ApiServer(app, port=0)
    api.start()
    try:
        via_tunnel = {"Host": "quiet-notes.ngrok-free.app", "X-Forwarded-For": "203.0.113.7",
                      "X-Forwarded-Proto": "https"}
        refused = httpx.post(api.url + "/mcp", headers=via_tunnel, json={})
        assert refused.status_code == 401
        assert f'resource_metadata="{public}/.well-known/oauth-protected-resource/mcp"' in (
            refused.headers["www-authenticate"])
        resource = httpx.get(api.url + "/.well-known/oauth-protected-resource/mcp", headers=via_tunnel).json()
        assert resource["resource"] == f"{public}/mcp" and resource["authorization_servers"] == [public]
        metadata = httpx.get(api.url + "/.well-known/oauth-authorization-server", headers=via_tunnel).json()
        assert metadata["issuer"] == public and metadata["token_endpoint"] == f"{public}/token"
    finally:
        api.stop()


def test_oauth_over_plain_http_on_a_lan_address_says_to_use_the_tunnel(server: Server) -> None:
    answer = server.http.get("/.well-known/oauth-authorization-server", headers={"Host": "192.168.1.20:3333"})
    assert answer.status_code == 404 and "https://" in answer.json()["error"]["message"]


def test_discovery_probes_without_a_token_never_lock_a_client_out(server: Server) -> None:
    for _ in range(15):  # more than LockoutPolicy.max_failures
        assert server.http.post("/mcp", json={}).status_code == 401
    _, issued = connect(server)
    assert mcp_status(server, issued["access_token"]) == 200
