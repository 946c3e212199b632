"""A real index over real files (HashEmbedder) behind a real uvicorn on 127.0.0.1."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import httpx
import pytest

from notewell.indexer.embedding import HashEmbedder
from notewell.indexer.notes_index import NotesIndex
from notewell.plugin_api.activity import ActivityLog
from notewell.plugin_api.app import ApiConfig, create_app
from notewell.plugin_api.server import ApiServer
from tests.helpers import write_notes

TOKEN = "nw_test-token-0123456789abcdefghijklmnopqrstuvwxyz"
SENTINEL = "OUTSIDE-SECRET-7f3a9c"
LONG_WORD = "zebrastripe" * 4  # long words make long passages under HashEmbedder


def _huge_note(sections: int) -> str:
    parts = []
    for n in range(sections):
        words = " ".join(f"{LONG_WORD}{n}x{i}" for i in range(120))
        parts.append(f"## Part {n}\n\nzebra {words}\n")
    return "# Huge\n\n" + "\n".join(parts)


NOTES = {
    "tar.md": "# Tar\n\n## Extract\n\nUse tar -xzf archive.tar.gz to extract an archive.\n",
    "bread.md": "---\ntags: [baking]\n---\n# Sourdough\n\nFeed the starter, then mix flour and water.\n",
    "zh/笔记.md": "# 周末计划\n\n周六去爬山，周日在家读书。\n",
    "sub/git.md": "# Git\n\nUse git rebase -i to squash commits.\n",
    "huge/one.md": _huge_note(30),
    "huge/line.txt": "zebra " + "q" * 250_000 + "\n",
    # Search returns at most a couple of passages per note: many long notes fill top_k.
    **{f"long/{n:02}.md": _huge_note(3).replace("# Huge", f"# Long {n}") for n in range(12)},
}


@dataclass
class Api:
    url: str
    server: ApiServer
    activity: ActivityLog
    token: str = TOKEN

    def client(self, token: str | None = None, **kwargs: object) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token or self.token}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def notes_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tree")
    notes = write_notes(root / "notes", NOTES)
    outside = write_notes(root / "outside", {"secret.md": f"# Secret\n\n{SENTINEL} zebra tar\n"})
    (notes / "link.md").symlink_to(outside / "secret.md")
    (notes / "linkdir").symlink_to(outside, target_is_directory=True)
    return root


@pytest.fixture(scope="session")
def index(notes_tree: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[NotesIndex]:
    notes_index = NotesIndex.open(tmp_path_factory.mktemp("data"), HashEmbedder())
    notes_index.sync([notes_tree / "notes"])
    yield notes_index
    notes_index.close()


StartApi = Callable[..., Api]


@pytest.fixture
def start_api(index: NotesIndex) -> Iterator[StartApi]:
    """Start a server with its own config; stopped after the test."""
    running: list[ApiServer] = []

    def start(
        config: ApiConfig = ApiConfig(),
        token: Callable[[], str] = lambda: TOKEN,
        public_url: Callable[[], str | None] = lambda: None,
        activity: ActivityLog | None = None,
        notes: object | None = None,
    ) -> Api:
        log = activity or ActivityLog()
        app = create_app(notes or index, config, token=token, public_url=public_url, activity=log)  # type: ignore[arg-type]
        server = ApiServer(app, port=0)
        server.start()
        running.append(server)
        return Api(server.url, server, log)

    yield start
    for server in running:
        server.stop()


@pytest.fixture(scope="module")
def api(index: NotesIndex) -> Iterator[Api]:
    """The shared default server (default limits: tests here stay under the rate limit)."""
    log = ActivityLog()
    server = ApiServer(create_app(index, ApiConfig(), token=lambda: TOKEN, activity=log), port=0)
    server.start()
    yield Api(server.url, server, log)
    server.stop()


def raw_request(url: str, request_line: str, headers: dict[str, str], body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
    """Send bytes exactly as written (httpx would normalise `..` and encodings)."""
    host, port = url.removeprefix("http://").split(":")
    lines = [request_line, f"Host: {host}:{port}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, payload = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parsed = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)}
    return int(status_line.split()[1]), parsed, payload
