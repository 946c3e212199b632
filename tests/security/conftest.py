"""A real Notewell server for the attack replays of issue 15.

The API, /mcp (official MCP SDK server) and OAuth, composed as the app composes
them, behind a real uvicorn on 127.0.0.1 over a real index of real files
(HashEmbedder: these tests are about who gets in, not about ranking).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Sequence

import httpx
import pytest
from starlette.routing import BaseRoute

from notewell.indexer.embedding import HashEmbedder
from notewell.indexer.notes_index import NotesIndex
from notewell.plugin_api.activity import ActivityLog
from notewell.plugin_api.app import ApiConfig, create_app
from notewell.plugin_api.consent import ConsentQueue
from notewell.plugin_api.mcp import McpEndpoint
from notewell.plugin_api.oauth import OAuthServer
from notewell.plugin_api.oauth_store import OAuthStore
from notewell.plugin_api.server import ApiServer
from tests.helpers import write_notes

TOKEN = "nw_security-test-token-0123456789abcdefghijklmnop"
PUBLIC = "https://quiet-notes.ngrok-free.app"
PUBLIC_HOST = "quiet-notes.ngrok-free.app"
NOTES = {
    "sourdough.md": "# Sourdough\n\nFeed the starter, then mix flour and water.\n",
    "tar.md": "# Tar\n\nUse tar -xzf archive.tar.gz to extract an archive.\n",
    "git.txt": "Git\n\nUse git rebase -i to squash commits.\n",
}


@dataclass
class Served:
    url: str
    server: ApiServer
    activity: ActivityLog
    store: OAuthStore
    consents: ConsentQueue
    data_dir: Path
    public: list[str | None] = field(default_factory=lambda: [None])

    def http(self, **headers: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def keyed(self, **headers: str) -> httpx.Client:
        return self.http(Authorization=f"Bearer {TOKEN}", **headers)

    @property
    def host(self) -> str:
        return self.url.removeprefix("http://")


Serve = Callable[..., Served]


@pytest.fixture(scope="session")
def security_notes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_notes(tmp_path_factory.mktemp("security") / "notes", NOTES)


@pytest.fixture(scope="session")
def security_index(security_notes: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[NotesIndex]:
    index = NotesIndex.open(tmp_path_factory.mktemp("security-data"), HashEmbedder())
    index.sync([security_notes])
    yield index
    index.close()


@pytest.fixture
def serve(security_index: NotesIndex, tmp_path: Path) -> Iterator[Serve]:
    """Start a whole server (API, /mcp, OAuth, activity record in its own data dir)."""
    running: list[tuple[ApiServer, ActivityLog]] = []

    def start(config: ApiConfig = ApiConfig(), *, public_url: str | None = None,
              store: OAuthStore | None = None, consents: ConsentQueue | None = None,
              data_dir: Path | None = None, extra_routes: Sequence[BaseRoute] = ()) -> Served:
        root = data_dir or tmp_path / f"data{len(running)}"
        root.mkdir(parents=True, exist_ok=True)
        public: list[str | None] = [public_url]
        activity = ActivityLog.open(root)
        store = store or OAuthStore(root / "oauth.json")
        consents = consents or ConsentQueue()
        oauth = OAuthServer(store, consents, lambda: public[0])
        endpoint = McpEndpoint(security_index, config.limits, lambda: public[0])
        app = create_app(security_index, config, token=lambda: TOKEN, public_url=lambda: public[0],
                         activity=activity, oauth=oauth, extra_routes=[endpoint.route(), *extra_routes],
                         lifespan=endpoint.lifespan)
        server = ApiServer(app, port=0)
        server.start()
        running.append((server, activity))
        return Served(server.url, server, activity, store, consents, root, public)

    yield start
    for server, activity in running:
        server.stop()
        activity.close()
