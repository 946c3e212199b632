"""An assistant saves a note into the inbox, with the user's OK (issue 18).

A whole runtime (index with its one writer and watcher, uvicorn on 127.0.0.1, OAuth,
activity record) over real folders; REST with httpx, MCP with the official client.
The user's answer comes from the runtime's save questions, as the app's buttons give it.
"""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path
from typing import Any, Callable, Iterator

import anyio
import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from notewell.app.preferences import Preferences
from notewell.app.runtime import Runtime, RuntimeOptions
from notewell.app.settings import Settings
from notewell.indexer.embedding import HashEmbedder
from tests.helpers import wait_until, write_notes

NOTES = {
    "git.md": "# Git\n\nUse git revert to undo a pushed commit.\n",
    "Inbox/old.md": "# Plan\n\nAn older plan already in the inbox.\n",
    "Inbox/Plan.md": "# Plan\n\nThe plan the user wrote.\n",
}
SAVE = {"title": "Lisbon trip", "text": "Trams, tiles and custard tarts.\n\nBook the 28 tram early.",
        "tags": ["travel"]}


class Answers:
    """The runtime's events; save questions are answered by `answer` (None: left waiting)."""

    def __init__(self) -> None:
        self.asked: list[Any] = []
        self.answer: Callable[[Any], object] | None = None

    def save_consent(self, request: Any) -> None:
        if request.decision == "pending":
            self.asked.append(request)
            if self.answer is not None:
                self.answer(request)

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


class Running:
    def __init__(self, runtime: Runtime, answers: Answers, notes: Path, inbox: Path | None) -> None:
        self.runtime, self.answers, self.notes, self.inbox = runtime, answers, notes, inbox
        self.url = runtime.sharing.server_state.url
        self.key = runtime.tokens.get()

    def post(self, body: dict[str, Any], token: str | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token or self.key}"}
        return httpx.post(f"{self.url}/notes", json=body, headers=headers, timeout=60)

    def search(self, query: str) -> list[dict[str, Any]]:
        body = {"queries": [{"query": query, "top_k": 5, "mode": "keyword"}]}
        answer = httpx.post(f"{self.url}/query", json=body, headers={"Authorization": f"Bearer {self.key}"})
        return answer.json()["results"][0]["results"]


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., Running]]:
    runtimes: list[Runtime] = []

    def make(inbox: str | None = "notes/Inbox", *, ask: bool = True, **options: Any) -> Running:
        notes = write_notes(tmp_path / "notes", NOTES) if not (tmp_path / "notes").exists() else tmp_path / "notes"
        data = tmp_path / "data"
        folder = tmp_path / inbox if inbox else None
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
        Settings(folders=[str(notes)], port=0, inbox_folder=str(folder or ""), ask_before_saving=ask).save(data)
        answers = Answers()
        runtime = Runtime(Preferences(Settings.load(data), data),
                          RuntimeOptions(share=False, embedder=HashEmbedder(), **options), answers)
        runtimes.append(runtime)
        runtime.start()
        assert wait_until(lambda: runtime.sharing.server_state.state == "running"
                          and runtime.indexing.state == "idle", 30)
        return Running(runtime, answers, notes, folder)

    yield make
    for runtime in runtimes:
        runtime.close()


def hashes(*folders: Path) -> dict[Path, str]:
    return {path: hashlib.sha256(path.read_bytes()).hexdigest()
            for folder in folders for path in sorted(folder.rglob("*")) if path.is_file()}


def test_allowed_once_the_note_is_saved_found_recorded_and_nothing_else_changes(start) -> None:  # type: ignore[no-untyped-def]
    served = start()
    approvals = served.runtime.save_approvals
    served.answers.answer = lambda request: approvals.allow_once(request.id)
    before = hashes(served.notes)

    saved = served.post(SAVE)

    assert saved.status_code == 200, saved.text
    [asked] = served.answers.asked
    assert (asked.client_name, asked.title) == ("API key", "Lisbon trip")
    assert asked.source == "This computer"  # review of #18, finding 6: where the save came from
    assert asked.preview.startswith("Trams, tiles and custard tarts.")
    path = served.inbox / "Lisbon trip.md"
    assert saved.json()["path"] == "Inbox/Lisbon trip.md"
    after = hashes(served.notes)
    assert set(after) - set(before) == {path}  # one new file, in the inbox
    assert all(after[p] == h for p, h in before.items())  # every other file as it was
    text = path.read_text(encoding="utf-8")
    assert "title: Lisbon trip" in text and "saved_by: API key" in text and "- travel" in text

    assert wait_until(lambda: any(r["note_id"] == saved.json()["id"]
                                  for r in served.search("custard tarts")), 10)
    record = served.runtime.activity
    assert wait_until(lambda: any(e.saved_path == str(path) for e in record.entries()), 10)
    entry = next(e for e in record.entries() if e.saved_path)
    assert (entry.client, entry.titles, entry.endpoint) == ("API key", ("Lisbon trip",), "/notes")

    # Once means once: the next save asks again.
    assert served.post({**SAVE, "title": "Second"}).status_code == 200
    assert len(served.answers.asked) == 2


def test_denied_the_assistant_hears_the_user_declined_and_nothing_is_written(start) -> None:  # type: ignore[no-untyped-def]
    served = start()
    served.answers.answer = lambda request: served.runtime.save_approvals.deny(request.id)
    before = hashes(served.notes)
    refused = served.post(SAVE)
    assert refused.status_code == 403
    assert "declined" in refused.json()["error"]["message"]
    assert hashes(served.notes) == before
    assert wait_until(lambda: any(e.endpoint == "/notes" and e.status == 403
                                  for e in served.runtime.activity.entries()), 10)


def test_always_for_this_client_is_remembered(start, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    served = start()
    served.answers.answer = lambda request: served.runtime.save_approvals.allow_always(request.id)
    assert served.post(SAVE).status_code == 200
    served.answers.answer = None  # would leave a question waiting
    assert served.post({**SAVE, "title": "Again"}).status_code == 200
    assert len(served.answers.asked) == 1
    kept = json.loads((tmp_path / "data" / "trusted_savers.json").read_text())
    assert kept == {"key": "API key"}
    assert (tmp_path / "data" / "trusted_savers.json").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize(("title", "name"), [
    ("../../etc/x", "etc x.md"),
    ("/abs", "abs.md"),
    ("CON", "CON note.md"),
    ("", "Untitled note.md"),
    ("🌱 Seeds", "🌱 Seeds.md"),
    ("x" * 1000, "x" * 120 + ".md"),
])
def test_hostile_titles_land_in_the_inbox_and_nowhere_else(start, tmp_path: Path, title: str, name: str) -> None:  # type: ignore[no-untyped-def]
    served = start(ask=False)
    before = hashes(tmp_path)
    saved = served.post({**SAVE, "title": title})
    assert saved.status_code == 200, saved.text
    new = set(hashes(tmp_path)) - set(before)
    assert new and all(p.parent == served.inbox or (tmp_path / "data") in p.parents for p in new)
    assert served.inbox / name in new


def test_a_title_over_the_limit_is_refused_and_nothing_written(start, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    served = start(ask=False)
    before = hashes(served.notes)
    refused = served.post({**SAVE, "title": "x" * 10_000})
    assert refused.status_code == 422 and "title" in refused.json()["error"]["message"]
    too_long = served.post({**SAVE, "text": "y" * 60_000})
    assert too_long.status_code in (413, 422)
    assert hashes(served.notes) == before


def test_a_clash_gets_a_new_name_and_the_users_note_is_untouched(start) -> None:  # type: ignore[no-untyped-def]
    served = start(ask=False)
    mine = (served.inbox / "Plan.md").read_bytes()
    first, second = served.post({**SAVE, "title": "Plan"}), served.post({**SAVE, "title": "Plan"})
    assert [first.json()["path"], second.json()["path"]] == ["Inbox/Plan 2.md", "Inbox/Plan 3.md"]
    assert (served.inbox / "Plan.md").read_bytes() == mine


def test_an_inbox_outside_the_notes_folders_is_indexed_too(start) -> None:  # type: ignore[no-untyped-def]
    served = start("elsewhere/inbox", ask=False)
    saved = served.post(SAVE)
    assert saved.status_code == 200 and saved.json()["path"] == "Lisbon trip.md"
    assert wait_until(lambda: any(r["note_id"] == saved.json()["id"] for r in served.search("custard tarts")), 10)


def test_without_an_inbox_saving_is_refused_and_not_offered(start) -> None:  # type: ignore[no-untyped-def]
    served = start(None)
    before = hashes(served.notes)
    refused = served.post(SAVE)
    assert refused.status_code == 403 and "inbox folder" in refused.json()["error"]["message"]
    spec = httpx.get(f"{served.url}/openapi.json").json()
    assert "/notes" not in spec["paths"]
    assert "save_note" not in mcp_tools(served)
    assert hashes(served.notes) == before


def test_the_spec_marks_saving_consequential(start) -> None:  # type: ignore[no-untyped-def]
    served = start()
    for path in ("/openapi.json", "/openapi.yaml"):
        assert httpx.get(served.url + path).status_code == 200
    operation = httpx.get(f"{served.url}/openapi.json").json()["paths"]["/notes"]["post"]
    assert operation["x-openai-isConsequential"] is True
    assert operation["operationId"] == "saveNote"


def test_headless_without_allow_saves_refuses_and_says_how(start) -> None:  # type: ignore[no-untyped-def]
    served = start(headless=True)
    refused = served.post(SAVE)
    assert refused.status_code == 403 and "--allow-saves" in refused.json()["error"]["message"]
    assert served.answers.asked == [] and not (served.inbox / "Lisbon trip.md").exists()


def test_headless_with_allow_saves_saves_without_asking(start) -> None:  # type: ignore[no-untyped-def]
    served = start(headless=True, allow_saves=True)
    assert served.post(SAVE).status_code == 200
    assert served.answers.asked == [] and (served.inbox / "Lisbon trip.md").exists()


# -- MCP, with the official client --------------------------------------------------------
def mcp_call(served: Running, call: Callable[[Client], Any], token: str | None = None) -> Any:
    async def main() -> Any:
        headers = {"Authorization": f"Bearer {token or served.key}"}
        async with httpx2.AsyncClient(headers=headers, timeout=60) as http:
            async with Client(streamable_http_client(f"{served.url}/mcp", http_client=http), mode="legacy") as client:
                return await call(client)

    return anyio.run(main)


def mcp_tools(served: Running, token: str | None = None) -> dict[str, Any]:
    async def tools(client: Client) -> dict[str, Any]:
        return {tool.name: tool for tool in (await client.list_tools()).tools}

    return mcp_call(served, tools, token)


def mcp_save(served: Running, arguments: dict[str, Any], token: str | None = None) -> Any:
    async def save(client: Client) -> Any:
        return await client.call_tool("save_note", arguments)

    return mcp_call(served, save, token)


def test_mcp_save_note_allowed_and_denied(start) -> None:  # type: ignore[no-untyped-def]
    served = start()
    tool = mcp_tools(served)["save_note"]
    assert tool.annotations.read_only_hint is False and tool.annotations.destructive_hint is False
    approvals = served.runtime.save_approvals
    before = hashes(served.notes)

    served.answers.answer = lambda request: approvals.allow_once(request.id)
    result = mcp_save(served, {"title": "../Ferry times", "text": "The ferry leaves at 7.", "tags": ["boats"]})
    assert not result.is_error, result.content[0].text
    payload = json.loads(result.content[0].text)
    assert payload["path"] == "Inbox/Ferry times.md"
    assert set(hashes(served.notes)) - set(before) == {served.inbox / "Ferry times.md"}
    assert wait_until(lambda: any(r["note_id"] == payload["id"] for r in served.search("ferry leaves")), 10)

    served.answers.answer = lambda request: approvals.deny(request.id)
    denied = mcp_save(served, {"title": "Nope", "text": "Not this one."})
    assert denied.is_error and "declined" in denied.content[0].text
    assert not (served.inbox / "Nope.md").exists()
    assert wait_until(lambda: any(e.endpoint == "/mcp save_note" and e.saved_path
                                  for e in served.runtime.activity.entries()), 10)


# -- OAuth: read-only grants cannot save ----------------------------------------------------
def oauth_token(served: Running, scope: str) -> str:
    from types import SimpleNamespace

    from tests.security.oauth_client import REDIRECT, approved_code, authorize, pkce, register

    with httpx.Client(base_url=served.url, timeout=30) as http:
        client_id = register(http).json()["client_id"]
        verifier, challenge = pkce()
        answer = authorize(http, client_id, challenge, resource=served.url + "/mcp", scope=scope)
        assert answer.status_code == 302, answer.text
        asked = served.runtime.consents.pending()[-1]
        assert ("save new notes" in asked.question) == ("notes:write" in scope)
        code = approved_code(SimpleNamespace(consents=served.runtime.consents), http, answer.headers["location"])
        issued = http.post("/token", data={"grant_type": "authorization_code", "code": code,
                                           "redirect_uri": REDIRECT, "client_id": client_id,
                                           "code_verifier": verifier})
        assert issued.status_code == 200, issued.text
        return issued.json()["access_token"]


def test_a_read_only_oauth_grant_cannot_save_and_a_write_grant_can(start) -> None:  # type: ignore[no-untyped-def]
    served = start(ask=False)
    reader = oauth_token(served, "notes:read")
    refused = served.post(SAVE, token=reader)
    assert refused.status_code == 403 and 'error="insufficient_scope"' in refused.headers["www-authenticate"]
    # MCP: the read tools work; calling save_note is refused with the scope to ask for (step-up).
    assert "search" in mcp_tools(served, reader)
    call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "save_note", "arguments": {"title": "Via MCP", "text": "Read-only."}}}
    stepped = httpx.post(f"{served.url}/mcp", json=call, headers={
        "Authorization": f"Bearer {reader}", "Accept": "application/json, text/event-stream"})
    assert stepped.status_code == 403
    challenge = stepped.headers["www-authenticate"]
    assert 'error="insufficient_scope"' in challenge and 'scope="notes:read notes:write"' in challenge
    assert "resource_metadata=" in challenge
    assert sorted(p.name for p in served.inbox.iterdir()) == ["Plan.md", "old.md"]

    writer = oauth_token(served, "notes:read notes:write")
    saved = served.post(SAVE, token=writer)
    assert saved.status_code == 200, saved.text
    assert "saved_by: ChatGPT" in (served.inbox / "Lisbon trip.md").read_text(encoding="utf-8")
    by_mcp = mcp_save(served, {"title": "Via MCP", "text": "With notes:write."}, token=writer)
    assert not by_mcp.is_error and json.loads(by_mcp.content[0].text)["path"] == "Inbox/Via MCP.md"


def test_a_revoked_oauth_client_is_no_longer_trusted_to_save(start) -> None:  # type: ignore[no-untyped-def]
    served = start()
    writer = oauth_token(served, "notes:read notes:write")
    approvals = served.runtime.save_approvals
    served.answers.answer = lambda request: approvals.allow_always(request.id)
    assert served.post(SAVE, token=writer).status_code == 200
    [grant] = served.runtime.oauth_store.grants()
    assert approvals.trusted.names() == {grant.id: "ChatGPT"}
    served.runtime.oauth_store.revoke(grant.id)
    assert approvals.trusted.names() == {}


# -- review of #18 ---------------------------------------------------------------------------
def test_an_inbox_outside_the_notes_folders_makes_only_saved_notes_readable(start, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Finding 1: choosing ~/Downloads as the inbox must not publish what was already there."""
    home = write_notes(tmp_path / "home_like", {"passwords.md": "# SSH\n\nhunter2 is my passphrase\n",
                                                "old.txt": "hunter2 again in a text file\n"})
    served = start("home_like", ask=False)
    saved = served.post({**SAVE, "text": "hunter2 lookalike saved by the assistant"})
    assert saved.status_code == 200, saved.text
    assert wait_until(lambda: any(r["note_id"] == saved.json()["id"] for r in served.search("hunter2")), 10)
    assert all(r["note_id"] == saved.json()["id"] for r in served.search("hunter2 passphrase"))
    assert (home / "passwords.md").exists()


def test_an_inbox_outside_the_notes_folders_is_not_indexed_while_saving_is_refused(start, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    write_notes(tmp_path / "home_like", {"saved.md": "---\nsaved_by: API key\n---\n\nhunter2 passphrase\n"})
    served = start("home_like", headless=True)
    assert str(tmp_path / "home_like") not in served.runtime.indexing.worker.folders
    assert served.search("hunter2 passphrase") == []


def test_turning_saving_off_with_an_index_setting_in_one_save_turns_saving_off(start) -> None:  # type: ignore[no-untyped-def]
    """Finding 2: the Settings tab applies every field with one prefs.update."""
    served = start(ask=False)
    assert served.post(SAVE).status_code == 200
    runtime = served.runtime
    runtime.settings_changed(runtime.prefs.update({"inbox_folder": "", "extensions": [".md", ".txt", ".markdown"]}))

    def restarted_without_saving() -> bool:  # the server restarts in the background
        if runtime.sharing.server_state.state != "running":
            return False
        served.url = runtime.sharing.server_state.url
        try:
            return "save_note" not in mcp_tools(served)
        except Exception:
            return False

    assert wait_until(restarted_without_saving, 30)
    assert wait_until(lambda: runtime.indexing.state == "idle", 30)
    refused = served.post({**SAVE, "title": "After turning saving off"})
    assert refused.status_code == 403 and "inbox folder" in refused.json()["error"]["message"]
    assert not (served.inbox / "After turning saving off.md").exists()


def test_a_nul_in_the_text_is_dropped_and_the_note_can_be_read(start) -> None:  # type: ignore[no-untyped-def]
    """Finding 9: a save answers 200 only with an id that works."""
    served = start(ask=False)
    saved = served.post({**SAVE, "text": "alpha\u0000beta gamma"})
    assert saved.status_code == 200, saved.text
    headers = {"Authorization": f"Bearer {served.key}"}
    assert wait_until(lambda: httpx.get(f"{served.url}/notes/{saved.json()['id']}", headers=headers).status_code
                      == 200, 10)
    assert "\x00" not in (served.inbox / "Lisbon trip.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("text", ["%%only a comment%%", "![[embed.png]]"])
def test_a_note_that_would_index_to_nothing_is_refused(start, text: str) -> None:  # type: ignore[no-untyped-def]
    served = start(ask=False)
    before = hashes(served.notes)
    refused = served.post({**SAVE, "text": text})
    assert refused.status_code == 422 and "searchable" in refused.json()["error"]["message"]
    assert hashes(served.notes) == before


@pytest.mark.parametrize("inbox", ["notes/.inbox", "notes/skipme/inbox"])
def test_an_inbox_the_indexer_skips_is_refused(start, tmp_path: Path, inbox: str) -> None:  # type: ignore[no-untyped-def]
    from notewell.app.runtime import inbox_problem

    settings = Settings(folders=[str(tmp_path / "notes")], ignore_patterns=["skipme/"])
    (tmp_path / inbox).mkdir(parents=True)
    (tmp_path / "notes" / "Inbox").mkdir()
    assert "not be searchable" in (inbox_problem(settings, tmp_path / inbox) or "")
    assert inbox_problem(settings, tmp_path / "notes" / "Inbox") is None
    assert inbox_problem(settings, tmp_path / "elsewhere" / ".inbox") is None  # a folder of its own
    served = start(inbox, ask=False)
    served.runtime.settings_changed(served.runtime.prefs.update({"ignore_patterns": ["skipme/"]}))
    assert wait_until(lambda: served.runtime.indexing.state == "idle", 30)
    refused = served.post(SAVE)
    assert refused.status_code == 409 and "not be searchable" in refused.json()["error"]["message"]
    assert str(tmp_path) not in refused.text  # the folder's path stays on this computer
    assert list(served.inbox.iterdir()) == []


def test_saves_that_do_not_ask_stop_at_the_daily_cap_with_a_429_that_says_when(start) -> None:  # type: ignore[no-untyped-def]
    """Finding 3: --allow-saves, Always or the setting off must not let one client fill the disk."""
    from notewell.plugin_api.limits import Limits, SaveQuota

    served = start(ask=False)
    served.runtime.save_quota.limits = Limits(max_saves_per_day=2)
    assert [served.post({**SAVE, "title": f"n{i}"}).status_code for i in range(2)] == [200, 200]
    refused = served.post({**SAVE, "title": "n3"})
    assert refused.status_code == 429 and "UTC" in refused.json()["error"]["message"]
    assert int(refused.headers["Retry-After"]) > 3600
    assert not (served.inbox / "n3.md").exists()
    assert isinstance(served.runtime.save_quota, SaveQuota)


def test_a_saved_note_carries_no_terminal_escapes(start) -> None:  # type: ignore[no-untyped-def]
    """Finding 11: the body is written without control characters (but newlines and tabs)."""
    served = start(ask=False)
    saved = served.post({**SAVE, "text": "Trams\x1b]0;owned\x07 \x1b[2Jand\ttiles\u202e\nline two"})
    assert saved.status_code == 200, saved.text
    text = (served.inbox / "Lisbon trip.md").read_text(encoding="utf-8")
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert "Trams]0;owned [2Jand\ttiles\nline two" in text
