"""The one runtime the desktop app and `notewell serve` both run (#14)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Sequence

import httpx
import pytest

from notewell.app.preferences import Preferences
from notewell.app.runtime import Runtime, RuntimeOptions, tunnel_kind
from notewell.app.settings import Settings
from notewell.indexer.embedding import HashEmbedder
from tests.helpers import finishes, wait_until, write_notes


class Slow(HashEmbedder):
    def embed_documents(self, texts: Sequence[str]):  # type: ignore[no-untyped-def]
        time.sleep(0.1)
        return super().embed_documents(texts)


class Heard:
    def __init__(self) -> None:
        self.states: list[str] = []

    def index_state(self, state: str, message: str) -> None:
        self.states.append(state)

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return lambda *args, **kwargs: None


@pytest.mark.parametrize(
    ("setting", "options", "expected"),
    [
        ("", RuntimeOptions(), "ngrok"),
        ("https://notes.example.com", RuntimeOptions(), "url"),
        ("", RuntimeOptions(public_url="https://mine.example.com"), "url"),
        ("https://notes.example.com", RuntimeOptions(tunnel="ngrok"), "ngrok"),  # `serve --tunnel ngrok`
    ],
)
def test_one_rule_decides_how_sharing_reaches_the_internet(setting, options, expected):
    assert tunnel_kind(Settings(public_url=setting), options) == expected


def test_the_api_answers_while_the_first_index_is_built_and_close_is_prompt(tmp_path: Path) -> None:
    notes = write_notes(tmp_path / "notes", {
        f"n{i:03}.md": f"# Note {i}\n\nHarbor lantern number {i}.\n\n## More\n\nDetail {i}.\n" for i in range(300)
    })
    data = tmp_path / "data"
    Settings(folders=[str(notes)], port=0).save(data)
    heard = Heard()
    runtime = Runtime(Preferences(Settings.load(data), data), RuntimeOptions(share=False, embedder=Slow()), heard)
    runtime.start()
    try:
        assert wait_until(lambda: runtime.sharing.server_state.state == "running" and "embedding" in heard.states, 30)
        url = runtime.sharing.server_state.url
        headers = {"Authorization": f"Bearer {runtime.tokens.get()}"}
        body = {"queries": [{"query": "harbor lantern number 7", "top_k": 1}]}
        answer = httpx.post(f"{url}/query", json=body, headers=headers, timeout=30)
        assert answer.status_code == 200
        assert runtime.indexing.state == "embedding"  # still building, and it answered
        assert answer.json()["results"][0]["results"][0]["path"] == "n007.md"
    finally:
        assert finishes(runtime.close, 15)  # mid-embedding: the batch in hand ends, the rest waits
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{url}/healthz", timeout=2)


def test_changing_settings_that_reopen_the_index_never_breaks_the_api(tmp_path: Path) -> None:
    """Changing file types or the size cap gave 500s ("closed database") and a 2 s outage
    (review of #14): the server now goes on answering across a reopen."""
    import threading

    notes = write_notes(tmp_path / "notes", {f"n{i}.md": f"# Note {i}\n\nHarbor lantern {i}.\n" for i in range(30)})
    data = tmp_path / "data"
    Settings(folders=[str(notes)], port=0).save(data)
    runtime = Runtime(Preferences(Settings.load(data), data), RuntimeOptions(share=False, embedder=HashEmbedder()),
                      Heard())
    runtime.start()
    statuses: list[int] = []
    stop = threading.Event()
    try:
        assert wait_until(lambda: runtime.sharing.server_state.state == "running"
                          and runtime.indexing.state == "idle", 30)
        url = runtime.sharing.server_state.url
        headers = {"Authorization": f"Bearer {runtime.tokens.get()}"}

        def ask() -> None:
            with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
                while not stop.is_set():
                    try:
                        statuses.append(client.post("/query", json={"queries": [{"query": "harbor"}]}).status_code)
                    except httpx.TransportError:
                        statuses.append(0)  # the server was not there
                    time.sleep(0.02)

        asker = threading.Thread(target=ask)
        asker.start()
        for size in (10.0, 15.0, 20.0):
            runtime.prefs.update({"max_file_mb": size})
            runtime.settings_changed(frozenset({"max_file_mb"}))
            assert wait_until(lambda: runtime.indexing.state == "idle", 30)
            time.sleep(0.3)
        stop.set()
        asker.join(30)
        assert runtime.sharing.server_state.url == url
        assert statuses and set(statuses) == {200}, sorted(set(statuses))
    finally:
        stop.set()
        runtime.close()
