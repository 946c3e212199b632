"""`notewell serve` serves /mcp and says how to connect each client (issue 7)."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.app.test_serve import TOKEN, data_dir, read_until, serving  # noqa: F401 (fixture)


def test_serve_prints_the_mcp_url_and_snippets_and_serves_mcp(data_dir: Path) -> None:  # noqa: F811
    with serving(data_dir, "--port", "0") as proc:
        lines = read_until(proc, "Press Ctrl+C")
        url = next(line.split()[-1] for line in lines if line.startswith("Serving your notes at"))
        mcp_url = f"{url}/mcp"
        assert any(line.endswith(f"MCP URL (header Authorization: Bearer <API key>): {mcp_url}") for line in lines)
        snippet = next(line for line in lines if "mcp.json:" in line).split("mcp.json: ", 1)[1]
        assert json.loads(snippet)["mcpServers"]["notewell"] == {
            "url": mcp_url, "headers": {"Authorization": "Bearer <API key from `notewell token`>"}}
        vscode = next(line for line in lines if "VS Code .vscode/mcp.json:" in line).split("mcp.json: ", 1)[1]
        assert json.loads(vscode)["servers"]["notewell"]["type"] == "http"  # VS Code's own format (#17)
        assert any(f"Claude Code: claude mcp add --transport http --scope user notewell {mcp_url}" in line
                   for line in lines)
        claude = json.loads(next(line for line in lines if "Claude Desktop config:" in line).split(": ", 1)[1])
        assert mcp_url in claude["mcpServers"]["notewell"]["args"]
        assert any(f"import {url}/openapi.json" in line for line in lines)
        assert TOKEN not in "\n".join(lines)

        async def session() -> list[str]:
            headers = {"Authorization": f"Bearer {TOKEN}"}
            async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
                async with Client(streamable_http_client(mcp_url, http_client=http), mode="legacy") as client:
                    tools = await client.list_tools()
                    found = await client.call_tool("search", {"query": "anything", "mode": "keyword"})
                    assert json.loads(found.content[0].text) == {"results": []}
                    return [tool.name for tool in tools.tools]

        assert sorted(anyio.run(session)) == ["fetch", "search"]
        read_until(proc, "POST /mcp search 200 anything → 0", timeout=10)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0


def test_serve_prints_a_one_time_code_for_oauth_consent(data_dir: Path) -> None:  # noqa: F811
    import re

    import httpx

    REDIRECT = "https://chatgpt.com/connector_platform_oauth_redirect"

    with serving(data_dir, "--port", "0") as proc:
        lines = read_until(proc, "Press Ctrl+C")
        url = next(line.split()[-1] for line in lines if line.startswith("Serving your notes at"))
        client_id = httpx.post(f"{url}/register", json={
            "client_name": "ChatGPT", "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none",
        }).json()["client_id"]
        page = httpx.get(f"{url}/authorize", params={
            "response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT,
            "code_challenge": "x" * 43, "code_challenge_method": "S256"}).headers["location"]
        asked = read_until(proc, "asks to read your notes", timeout=10)[-1]
        assert asked.startswith("An app calling itself “ChatGPT” (returning to chatgpt.com) asks to read your notes.")
        code = re.search(r"type ([A-Z2-9]{4}-[A-Z2-9]{4}) on the page", asked).group(1)
        request_id = page.split("request=")[1]
        back = httpx.post(f"{url}/oauth/consent", data={"request": request_id, "code": code})
        assert back.status_code == 302 and back.headers["location"].startswith(REDIRECT + "?code=")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
