"""A scripted OAuth client (register → authorize → consent → token) and MCP calls with the official SDK."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from notewell.plugin_api.consent import ConsentQueue
from tests.security.conftest import Served

REDIRECT = "https://chatgpt.com/connector_platform_oauth_redirect"
MCP_ACCEPT = "application/json, text/event-stream"
TOOLS_LIST = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return verifier, challenge


def register(http: httpx.Client, name: str = "ChatGPT", redirect: str = REDIRECT) -> httpx.Response:
    return http.post("/register", json={
        "client_name": name, "redirect_uris": [redirect], "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"]})


def authorize(http: httpx.Client, client_id: str, challenge: str, redirect: str = REDIRECT,
              **extra: str) -> httpx.Response:
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect, "state": "st4te",
              "code_challenge": challenge, "code_challenge_method": "S256", "scope": "notes:read", **extra}
    return http.get("/authorize", params={k: v for k, v in params.items() if v})


def approved_code(served: Served, http: httpx.Client, location: str) -> str:
    """Approve the consent the browser was sent to (as the app's Allow button does); the code."""
    pending = served.consents.pending()
    assert pending, "no consent is waiting"
    assert served.consents.approve(pending[-1].id)
    back = http.get(location)
    assert back.status_code == 302, back.text
    return parse_qs(urlsplit(back.headers["location"]).query)["code"][0]


def connect(served: Served, http: httpx.Client | None = None, resource: str | None = "default",
            name: str = "ChatGPT") -> tuple[str, str, dict[str, Any]]:
    """The whole dance; returns (client_id, the code, the token response)."""
    http = http or served.http()
    client_id = register(http, name).json()["client_id"]
    verifier, challenge = pkce()
    target = served.url + "/mcp" if resource == "default" else resource
    answer = authorize(http, client_id, challenge, resource=target or "")
    assert answer.status_code == 302, answer.text
    code = approved_code(served, http, answer.headers["location"])
    issued = http.post("/token", data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                                       "client_id": client_id, "code_verifier": verifier})
    assert issued.status_code == 200, issued.text
    return client_id, code, issued.json()


def mcp_post(http: httpx.Client, token: str | None, path: str = "/mcp", **headers: str) -> httpx.Response:
    sent = {"Accept": MCP_ACCEPT, **headers}
    if token:
        sent["Authorization"] = f"Bearer {token}"
    return http.post(path, headers=sent, json=TOOLS_LIST)


def sdk_search(url: str, token: str, query: str = "sourdough starter") -> dict[str, Any]:
    """The official MCP client: initialize, then call `search`."""
    async def main() -> dict[str, Any]:
        async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
            async with Client(streamable_http_client(url, http_client=http), mode="legacy") as client:
                result = await client.call_tool("search", {"query": query})
                return json.loads(result.content[0].text)

    return anyio.run(main)


def sdk_oauth_dance(server_url: str, consents: ConsentQueue, mcp_url: str) -> tuple[list[str], str]:
    """The SDK's own OAuthClientProvider: 401 → discovery → registration → consent → MCP.

    Returns the tool names and the access token it ended with."""
    from mcp.client.auth import OAuthClientProvider
    from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

    class Memory:
        tokens: OAuthToken | None = None
        client: OAuthClientInformationFull | None = None

        async def get_tokens(self) -> OAuthToken | None:
            return self.tokens

        async def set_tokens(self, tokens: OAuthToken) -> None:
            self.tokens = tokens

        async def get_client_info(self) -> OAuthClientInformationFull | None:
            return self.client

        async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
            self.client = client_info

    landed: list[str] = []

    async def browser(url: str) -> None:  # the user's browser, and the user clicking Allow in the app
        async with httpx2.AsyncClient() as http:
            consent = (await http.get(url)).headers["location"]
            for request in consents.pending():
                consents.approve(request.id)
            landed.append((await http.get(server_url + consent)).headers["location"])

    async def callback() -> AuthorizationCodeResult:
        query = parse_qs(urlsplit(landed[-1]).query)
        return AuthorizationCodeResult(code=query["code"][0], state=query.get("state", [None])[0])

    storage = Memory()
    auth = OAuthClientProvider(
        mcp_url,
        OAuthClientMetadata(client_name="Scripted", redirect_uris=["http://localhost:3030/callback"],
                            grant_types=["authorization_code", "refresh_token"], response_types=["code"]),
        storage, redirect_handler=browser, callback_handler=callback,
    )

    async def main() -> list[str]:
        async with httpx2.AsyncClient(auth=auth, timeout=30) as http:
            async with Client(streamable_http_client(mcp_url, http_client=http), mode="legacy") as client:
                return sorted(tool.name for tool in (await client.list_tools()).tools)

    tools = anyio.run(main)
    assert storage.tokens is not None
    return tools, storage.tokens.access_token
