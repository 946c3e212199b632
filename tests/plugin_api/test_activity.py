from __future__ import annotations

import json
import stat
from pathlib import Path

from notewell.plugin_api.activity import ActivityEntry, ActivityLog, now_iso
from tests.plugin_api.conftest import TOKEN, StartApi


def entry(n: int = 0) -> ActivityEntry:
    return ActivityEntry(now_iso(), "127.0.0.1", "POST", "/query", 200, "ok", (f"q{n}",), 3)


def test_memory_is_bounded_and_listeners_hear_each_entry() -> None:
    log = ActivityLog(maxlen=3)
    heard: list[ActivityEntry] = []
    unsubscribe = log.subscribe(heard.append)
    for n in range(5):
        log.record(entry(n))
    assert [e.queries for e in log.entries()] == [("q2",), ("q3",), ("q4",)]
    unsubscribe()
    log.record(entry(9))
    assert len(heard) == 5


def test_file_is_private_and_rotates(tmp_path: Path) -> None:
    path = tmp_path / "activity.jsonl"
    log = ActivityLog(path=path, max_file_bytes=2000)
    for n in range(40):
        log.record(entry(n))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.stat().st_size <= 2000
    assert (tmp_path / "activity.jsonl.1").exists()
    last = json.loads(path.read_text().splitlines()[-1])
    assert last["queries"] == ["q39"] and last["result_count"] == 3


def test_every_authenticated_and_refused_request_is_logged(start_api: StartApi) -> None:
    api = start_api()
    with api.client() as client:
        client.post("/query", json={"queries": [{"query": "tar archive"}, {"query": "git"}]})
        hit = client.post("/query", json={"queries": [{"query": "tar", "mode": "keyword"}]}).json()
        note_id = hit["results"][0]["results"][0]["note_id"]
        client.get(f"/notes/{note_id}")
        client.post("/query", json={"queries": []})
        client.get("/healthz")
    with api.client(token="nw_wrong-token") as stranger:
        stranger.get(f"/notes/{note_id}")
    entries = api.activity.entries()
    assert [(e.endpoint, e.status, e.outcome) for e in entries] == [
        ("/query", 200, "ok"),
        ("/query", 200, "ok"),
        (f"/notes/{note_id}", 200, "ok"),
        ("/query", 422, "invalid_request"),
        (f"/notes/{note_id}", 401, "unauthorized"),
    ]
    first = entries[0]
    assert first.queries == ("tar archive", "git") and first.result_count and first.result_count > 0
    assert first.client == "127.0.0.1" and first.method == "POST" and first.time
    assert entries[2].note_id == note_id and entries[2].result_count == 1
    assert all(TOKEN not in json.dumps(e.to_dict()) for e in entries)
