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
