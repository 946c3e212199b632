"""Citations that open: a result's url is a page for the person at this computer only.

A real index over real files behind a real uvicorn on 127.0.0.1; the "tunnel" is a
request carrying what ngrok adds (the public Host, X-Forwarded-For)."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from notewell.indexer.embedding import HashEmbedder
from notewell.indexer.notes_index import NotesIndex
from notewell.plugin_api.activity import ActivityLog
from notewell.plugin_api.app import ApiConfig, create_app
from notewell.plugin_api.mcp import McpEndpoint
from notewell.plugin_api.open_links import FILE_NAME, OpenLinks
from notewell.plugin_api.server import ApiServer
from tests.helpers import write_notes

TOKEN = "nw_test-token-0123456789abcdefghijklmnopqrstuvwxyz"
PUBLIC = "https://notes-example.ngrok-free.app"
NOTES = {
    "vault/.obsidian/app.json": "{}",
    "vault/Projects/Kayak trip.md": "# Kayak <trip> & co\n\nPaddle the fjord at dawn. <script>alert('x')</script>\n",
    "plain/tar.md": "# Tar\n\nUse tar -xzf archive.tar.gz to extract an archive.\n",
}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, OpenLinks]]:
    root = write_notes(tmp_path_factory.mktemp("open") / "notes", NOTES)
    data = tmp_path_factory.mktemp("data")
    index = NotesIndex.open(data, HashEmbedder())
    index.sync([root / "vault", root / "plain"])
    links = OpenLinks.load(data)
    public = lambda: PUBLIC  # noqa: E731 - sharing is on: the tunnel forwards to this same server
    mcp = McpEndpoint(index, ApiConfig().limits, public, links=links)
    app = create_app(index, ApiConfig(), token=lambda: TOKEN, public_url=public, activity=ActivityLog(),
                     extra_routes=[mcp.route()], lifespan=mcp.lifespan, links=links)
    server = ApiServer(app, port=0)
    server.start()
    yield server.url, links
    server.stop()
    index.close()


def cited_url(base: str, query: str, **headers: str) -> str:
    response = httpx.post(f"{base}/query", json={"queries": [{"query": query, "top_k": 1, "mode": "keyword"}]},
                          headers={"Authorization": f"Bearer {TOKEN}", **headers})
    assert response.status_code == 200, response.text
    return response.json()["results"][0]["results"][0]["metadata"]["url"]


def og(page: str, name: str) -> str:
    found = re.search(rf'<meta property="og:{name}" content="([^"]*)">', page)
    assert found, page
    return found.group(1)


def test_a_cited_url_opens_the_note_on_this_computer_without_a_key(served: tuple[str, OpenLinks]) -> None:
    base, _ = served
    url = cited_url(base, "extract archive")
    assert url.startswith(base.replace("localhost", "127.0.0.1") + "/open/")
    page = httpx.get(url)  # a browser after a click: no key
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert og(page.text, "title") == "Tar"
    assert "Use tar -xzf archive.tar.gz" in og(page.text, "description")
    assert "obsidian://" not in page.text  # not in a vault


def test_the_url_an_assistant_got_through_the_tunnel_also_points_at_this_computer(
        served: tuple[str, OpenLinks]) -> None:
    base, _ = served
    url = cited_url(base, "extract archive", host=PUBLIC.removeprefix("https://"),
                    **{"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"})
    assert url.startswith("http://127.0.0.1:") and "/open/" in url
    assert httpx.get(url).status_code == 200


def test_a_note_in_an_obsidian_vault_links_to_obsidian_and_its_text_is_escaped(served: tuple[str, OpenLinks]) -> None:
    base, _ = served
    page = httpx.get(cited_url(base, "paddle fjord")).text
    assert og(page, "title") == "Kayak &lt;trip&gt; &amp; co"
    assert "<script>" not in page and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert 'href="obsidian://open?vault=vault&amp;file=Projects%2FKayak%20trip.md"' in page


def test_a_forged_or_altered_link_finds_nothing(served: tuple[str, OpenLinks]) -> None:
    base, links = served
    url = cited_url(base, "extract archive")
    note_id = url.rsplit("/", 1)[1].split(".")[0]
    altered = url[:-2] + ("AA" if not url.endswith("AA") else "BB")
    other = OpenLinks(b"another secret, another computer").token(note_id)
    for bad in (altered, f"{base}/open/{note_id}", f"{base}/open/{other}", f"{base}/open/{note_id}.",
                f"{base}/open/x.y"):
        response = httpx.get(bad)
        assert response.status_code == 404, bad
        assert "Tar" not in response.text


def test_the_link_is_refused_through_the_tunnel_or_from_another_computer(served: tuple[str, OpenLinks]) -> None:
    url = cited_url(served[0], "extract archive")
    tunnel = {"Host": PUBLIC.removeprefix("https://"), "X-Forwarded-For": "203.0.113.9",
              "X-Forwarded-Proto": "https"}
    for headers in (tunnel, {"X-Forwarded-For": "203.0.113.9"}, {"Host": "notes-example.ngrok-free.app"},
                    {"Forwarded": "for=203.0.113.9"}):
        response = httpx.get(url, headers=headers)
        assert response.status_code == 403, headers
        assert "Tar" not in response.text and "archive" not in response.text


def test_the_mcp_tools_cite_the_same_pages(served: tuple[str, OpenLinks]) -> None:
    import anyio
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    base, _ = served

    async def main() -> str:
        async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30) as http:
            async with Client(streamable_http_client(base + "/mcp", http_client=http), mode="legacy") as client:
                found = await client.call_tool("search", {"query": "extract archive"})
                return found.structured_content["results"][0]["url"]

    url = anyio.run(main)
    assert "/open/" in url and og(httpx.get(url).text, "title") == "Tar"


def test_links_survive_a_restart_and_the_secret_is_private(tmp_path: Path) -> None:
    first = OpenLinks.load(tmp_path)
    assert OpenLinks.load(tmp_path).token("abc") == first.token("abc")
    assert stat.S_IMODE(os.stat(tmp_path / FILE_NAME).st_mode) == 0o600
    assert OpenLinks.load(tmp_path).note_id(first.token("abc")) == "abc"
