from __future__ import annotations

import json

import httpx

from notewell.app.gui.theme import tint
from tests.app.gui.conftest import wait_ready


def test_requests_appear_and_refused_ones_stand_out(qtbot, make_desktop, notes):
    desktop = make_desktop([notes])
    tab = desktop.activity_tab
    wait_ready(qtbot, desktop)
    assert tab.table.topLevelItemCount() == 0 and "No assistant" in tab.summary.text()
    url = desktop.sharing.server_state.url
    good = {"Authorization": f"Bearer {desktop.tokens.get()}"}
    body = {"queries": [{"query": "sourdough starter", "top_k": 2}]}
    assert httpx.post(f"{url}/query", json=body, headers=good).status_code == 200
    assert httpx.post(f"{url}/query", json=body, headers={"Authorization": "Bearer wrong"}).status_code == 401
    qtbot.waitUntil(lambda: tab.table.topLevelItemCount() == 2)

    refused, ok = tab.table.topLevelItem(0), tab.table.topLevelItem(1)  # newest first
    # The second title is whichever note ties at zero similarity: only the first is certain.
    assert ok.text(3).startswith("searched “sourdough starter” → Sourdough, ") and ok.text(4) == "2"
    assert ok.text(5) == "OK"
    assert (ok.text(1), ok.text(2)) == ("API key", "This computer")
    assert refused.text(5) == "Refused (401)" and refused.text(3) == "refused ×1: no valid key or token"
    assert refused.text(2) == "This computer"
    assert refused.background(0).color() == tint("refused")
    assert ok.background(0).color() != tint("refused")
    assert "1 refused" in tab.summary.text()


def mcp_session(url: str, token: str, work) -> object:  # type: ignore[no-untyped-def]
    import anyio
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    async def main() -> object:
        async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
            async with Client(streamable_http_client(url + "/mcp", http_client=http), mode="legacy") as client:
                return await work(client)

    return anyio.run(main)


def test_activity_names_clients_and_notes_without_protocol_noise(qtbot, make_desktop, notes):
    desktop = make_desktop([notes])
    tab, clients = desktop.activity_tab, desktop.clients_box
    wait_ready(qtbot, desktop)
    store = desktop.runtime.oauth_store
    grant = store.add_grant("client-1", "ChatGPT", "chatgpt.com", ("notes:read",))
    access, _, _ = store.issue(grant, None)
    qtbot.waitUntil(lambda: clients.list.count() == 1)
    assert "not used yet" in clients.list.item(0).text()
    url = desktop.sharing.server_state.url

    async def work(client):  # type: ignore[no-untyped-def]
        found = await client.call_tool("search", {"query": "sourdough starter"})
        note_id = json.loads(found.content[0].text)["results"][0]["id"]
        await client.call_tool("fetch", {"id": note_id})
        return note_id

    note_id = mcp_session(url, access, work)
    key = {"Authorization": f"Bearer {desktop.tokens.get()}"}
    assert httpx.get(f"{url}/notes/{note_id}", headers=key).status_code == 200
    qtbot.waitUntil(lambda: tab.table.topLevelItemCount() >= 3)
    qtbot.wait(300)  # any protocol chatter would have arrived by now

    rows = [[tab.table.topLevelItem(n).text(c) for c in range(6)] for n in range(tab.table.topLevelItemCount())]
    whats = [row[3] for row in rows]
    assert len(rows) == 3, rows  # the search, the fetch, the key's read: no initialize, tools/list, 202s
    read_by_key, fetched, searched = rows
    assert searched[1] == "ChatGPT" and searched[2] == "This computer"
    assert searched[3].startswith("searched “sourdough starter” → Sourdough")
    assert fetched[1] == "ChatGPT" and fetched[3] == "read “Sourdough”"
    assert read_by_key[1] == "API key" and read_by_key[3] == "read “Sourdough”"
    assert not any(note_id in what or "/mcp" in what or "initialize" in what for what in whats)
    assert all(row[5] == "OK" for row in rows), rows
    qtbot.waitUntil(lambda: "not used yet" not in clients.list.item(0).text())  # last used follows the search

    tab.client_filter.setCurrentText("ChatGPT")
    shown = [n for n in range(tab.table.topLevelItemCount()) if not tab.table.topLevelItem(n).isHidden()]
    assert [tab.table.topLevelItem(n).text(1) for n in shown] == ["ChatGPT", "ChatGPT"]
    tab.client_filter.setCurrentText("API key")
    shown = [n for n in range(tab.table.topLevelItemCount()) if not tab.table.topLevelItem(n).isHidden()]
    assert [tab.table.topLevelItem(n).text(1) for n in shown] == ["API key"]


def test_activity_is_kept_across_restarts_with_client_names(qtbot, make_desktop, notes):
    desktop = make_desktop([notes])
    wait_ready(qtbot, desktop)
    url = desktop.sharing.server_state.url
    body = {"queries": [{"query": "sourdough starter", "top_k": 1}]}
    key = {"Authorization": f"Bearer {desktop.tokens.get()}"}
    assert httpx.post(f"{url}/query", json=body, headers=key).status_code == 200
    qtbot.waitUntil(lambda: desktop.activity_tab.table.topLevelItemCount() == 1)
    desktop.shutdown()
    again = make_desktop([notes])
    row = again.activity_tab.table.topLevelItem(0)
    assert row is not None and (row.text(1), row.text(2)) == ("API key", "This computer")
    assert row.text(3).startswith("searched “sourdough starter”")
