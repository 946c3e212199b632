"""/mcp with the official MCP Python client over streamable HTTP, against uvicorn on 127.0.0.1."""

from __future__ import annotations

import json
from typing import Any, Callable, Iterator

import anyio
import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from notewell.indexer.notes_index import NotesIndex
from notewell.plugin_api.activity import ActivityLog
from notewell.plugin_api.app import ApiConfig, create_app
from notewell.plugin_api.mcp import McpEndpoint
from notewell.plugin_api.server import ApiServer
from tests.plugin_api.conftest import TOKEN, Api

PUBLIC = "https://notes-abc.ngrok-free.app"


@pytest.fixture(scope="module")
def mcp_api(index: NotesIndex) -> Iterator[Api]:
    log = ActivityLog()
    public: list[str | None] = [None]
    config = ApiConfig()
    endpoint = McpEndpoint(index, config.limits, lambda: public[0])
    app = create_app(index, config, token=lambda: TOKEN, public_url=lambda: public[0], activity=log,
                     extra_routes=[endpoint.route()], lifespan=endpoint.lifespan)
    server = ApiServer(app, port=0)
    server.start()
    api = Api(server.url, server, log)
    api.public = public  # type: ignore[attr-defined]
    yield api
    server.stop()


def run(api: Api, session: Callable[[Client], Any], token: str | None = TOKEN, mode: str = "legacy",
        headers: dict[str, str] | None = None) -> Any:
    async def main() -> Any:
        sent = {"Authorization": f"Bearer {token}"} if token else {}
        sent.update(headers or {})
        async with httpx2.AsyncClient(headers=sent, timeout=30) as http:
            transport = streamable_http_client(api.url + "/mcp", http_client=http)
            async with Client(transport, mode=mode) as client:  # type: ignore[arg-type]
                return await session(client)

    return anyio.run(main)


def payload(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    assert len(result.content) == 1 and result.content[0].type == "text"
    data = json.loads(result.content[0].text)
    assert result.structured_content == (data if "results" in data else None)
    return data


def test_initialize_list_tools_search_and_fetch(mcp_api: Api) -> None:
    async def session(client: Client) -> Any:
        tools = (await client.list_tools()).tools
        found = payload(await client.call_tool("search", {"query": "extract a tar archive"}))
        first = found["results"][0]
        note = payload(await client.call_tool("fetch", {"id": first["id"]}))
        return client.server_info, tools, found, note

    info, tools, found, note = run(mcp_api, session)
    assert info.name == "notewell"
    by_name = {tool.name: tool for tool in tools}
    assert set(by_name) == {"search", "fetch"}
    for tool in tools:
        assert tool.annotations.read_only_hint is True and tool.annotations.destructive_hint is False
    assert by_name["search"].input_schema["required"] == ["query"]
    assert by_name["fetch"].input_schema["required"] == ["id"]

    results = found["results"]
    assert results and all(set(r) == {"id", "title", "url"} for r in results)
    assert len({r["id"] for r in results}) == len(results)  # one result per note
    assert results[0]["title"].startswith("Tar")
    assert results[0]["url"].startswith(f"{mcp_api.url}/open/{results[0]['id']}.")
    assert set(note) == {"id", "title", "text", "url", "metadata"}
    assert note["id"] == results[0]["id"] and "tar -xzf" in note["text"]
    assert note["metadata"]["path"] == "tar.md" and note["metadata"]["truncated"] is False


def test_richer_arguments_and_errors(mcp_api: Api) -> None:
    async def session(client: Client) -> Any:
        one = payload(await client.call_tool("search", {"query": "zebra", "top_k": 1, "mode": "keyword"}))
        baking = payload(await client.call_tool("search", {"query": "starter", "tags": ["baking"]}))
        under = payload(await client.call_tool("search", {"query": "commits", "path_prefix": "sub/"}))
        missing = await client.call_tool("fetch", {"id": "nope"})
        bad_date = await client.call_tool("search", {"query": "x", "start_date": "yesterday"})
        too_many = await client.call_tool("search", {"query": "x", "top_k": 500})
        return one, baking, under, missing, bad_date, too_many

    one, baking, under, missing, bad_date, too_many = run(mcp_api, session)
    assert len(one["results"]) == 1
    assert [r["title"] for r in baking["results"]] == ["Sourdough"]
    assert [r["title"] for r in under["results"]] == ["Git"]
    assert missing.is_error and "Search again" in missing.content[0].text
    assert bad_date.is_error and "2024-05-31" in bad_date.content[0].text
    assert too_many.is_error


def test_long_note_is_cut_and_read_on(mcp_api: Api) -> None:
    async def session(client: Client) -> Any:
        found = payload(await client.call_tool("search", {"query": "zebrastripe", "path_prefix": "huge/line"}))
        note_id = found["results"][0]["id"]
        first = payload(await client.call_tool("fetch", {"id": note_id}))
        second = payload(await client.call_tool("fetch", {"id": note_id, "offset": first["metadata"]["next_offset"]}))
        return first, second

    first, second = run(mcp_api, session)
    assert first["metadata"]["truncated"] is True
    assert len(json.dumps(first, ensure_ascii=False)) <= 100_000
    assert second["metadata"]["offset"] == first["metadata"]["next_offset"]


def test_modern_client_mode_works_too(mcp_api: Api) -> None:
    async def session(client: Client) -> Any:
        return payload(await client.call_tool("search", {"query": "sourdough starter"}))

    assert run(mcp_api, session, mode="auto")["results"]


def test_refused_without_or_with_a_wrong_token(mcp_api: Api) -> None:
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
    headers = {"Accept": "application/json, text/event-stream"}
    for auth in ({}, {"Authorization": "Bearer wrong"}):
        response = httpx.post(mcp_api.url + "/mcp", json=initialize, headers={**headers, **auth})
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.json()["error"]["code"] == "unauthorized"
    with pytest.raises(Exception):
        run(mcp_api, lambda client: client.list_tools(), token=None)
    ok = httpx.post(mcp_api.url + "/mcp", json=initialize,
                    headers={**headers, "Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200 and ok.json()["result"]["serverInfo"]["name"] == "notewell"


def test_host_and_origin_checks_follow_the_tunnel(mcp_api: Api) -> None:
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
    base = {"Accept": "application/json, text/event-stream", "Authorization": f"Bearer {TOKEN}"}

    def post(**headers: str) -> httpx.Response:
        return httpx.post(mcp_api.url + "/mcp", json=initialize, headers={**base, **headers})

    tunnel_host = PUBLIC.removeprefix("https://")
    assert post(Host=tunnel_host).status_code == 421  # no tunnel yet: an unknown name
    assert post(Host="evil.example").status_code == 421
    assert "public URL" in post(Host="evil.example").json()["error"]["message"]
    assert post(Origin="https://evil.example").status_code == 403
    mcp_api.public[0] = PUBLIC  # type: ignore[attr-defined]
    try:
        assert post(Host=tunnel_host, **{"X-Forwarded-For": "203.0.113.9"}).status_code == 200
        assert post(Host=tunnel_host, Origin=PUBLIC).status_code == 200
        assert post(Origin="https://chatgpt.com").status_code == 200
        assert post(Origin="http://localhost:6274").status_code == 200  # MCP Inspector
        assert post(Host="evil.example").status_code == 421
    finally:
        mcp_api.public[0] = None  # type: ignore[attr-defined]


def test_activity_log_names_the_tool_and_what_it_read(mcp_api: Api) -> None:
    async def session(client: Client) -> Any:
        found = payload(await client.call_tool("search", {"query": "sourdough starter"}))
        await client.call_tool("fetch", {"id": found["results"][0]["id"]})
        return found

    before = len(mcp_api.activity.reads())
    found = run(mcp_api, session)
    entries = mcp_api.activity.reads()[before:]
    search = next(e for e in entries if e.endpoint == "/mcp search")
    assert search.queries == ("sourdough starter",) and search.result_count == len(found["results"])
    assert search.status == 200 and search.outcome == "ok"
    fetch = next(e for e in entries if e.endpoint == "/mcp fetch")
    assert fetch.note_id == found["results"][0]["id"] and fetch.result_count == 1
    assert search.titles and fetch.titles == (found["results"][0]["title"],) and search.client == "API key"
    assert not any(e.endpoint == "/mcp initialize" for e in entries)  # protocol chatter is no read
    assert all(TOKEN not in json.dumps(e.to_dict()) for e in entries)


def test_the_server_restarts_with_the_same_app(index: NotesIndex) -> None:
    endpoint = McpEndpoint(index, ApiConfig().limits, lambda: None)
    app = create_app(index, ApiConfig(), token=lambda: TOKEN, extra_routes=[endpoint.route()],
                     lifespan=endpoint.lifespan)
    server = ApiServer(app, port=0)
    server.start()
    try:
        server.restart()
        api = Api(server.url, server, ActivityLog())
        assert run(api, lambda client: client.list_tools()).tools
    finally:
        server.stop()


def test_fetch_fits_the_response_limit_even_with_many_escapes() -> None:
    from notewell.indexer.types import NoteContent
    from notewell.plugin_api.mcp import fetch_document

    text = '"quoted"\n\\path\\\n' * 20_000  # every character needs escaping, twice on the wire
    note = NoteContent("n1", "a.md", "/notes", "A", text, "2024-01-01T00:00:00+00:00")
    document = fetch_document(note, 0, lambda note_id: "http://x/open/" + note_id, 100_000)
    wire = json.dumps({"jsonrpc": "2.0", "id": 1, "result": {"content": [
        {"type": "text", "text": json.dumps(document, ensure_ascii=False)}]}}, ensure_ascii=False)
    assert len(wire) <= 100_000
    assert document["metadata"]["truncated"] and len(document["text"]) > 20_000


def test_building_the_endpoint_leaves_logging_alone(index: NotesIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    import logging

    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])  # as in a fresh process: basicConfig would act
    monkeypatch.setattr(root, "level", logging.WARNING)
    McpEndpoint(index, ApiConfig().limits, lambda: None)
    assert root.handlers == [] and root.level == logging.WARNING
