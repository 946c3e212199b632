from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

from notewell.plugin_api.activity import ActivityEntry, ActivityLog, describe, now_iso
from notewell.plugin_api.activity_store import FILE_NAME, ActivityStore
from tests.plugin_api.conftest import TOKEN, StartApi


def entry(n: int = 0, when: str | None = None) -> ActivityEntry:
    return ActivityEntry(when or now_iso(), "API key", "127.0.0.1", "POST", "/query", 200, queries=(f"q{n}",),
                         titles=("Tar",), result_count=3)


def test_listeners_hear_each_read_and_refusals_at_1_10_100() -> None:
    log = ActivityLog()
    heard: list[ActivityEntry] = []
    unsubscribe = log.subscribe(heard.append)
    for n in range(3):
        log.record(entry(n))
    for _ in range(150):
        log.refuse("203.0.113.9", "unauthorized", status=401, method="GET", endpoint="/x")
    assert [e.queries for e in heard[:3]] == [("q0",), ("q1",), ("q2",)]
    assert [(e.source, e.count, e.refused) for e in heard[3:]] == [
        ("203.0.113.9", 1, True), ("203.0.113.9", 10, True), ("203.0.113.9", 100, True)]
    [counted] = log.refused()
    assert (counted.source, counted.reason, counted.count) == ("203.0.113.9", "unauthorized", 150)
    unsubscribe()
    log.record(entry(9))
    assert len(heard) == 6 and len(log.reads()) == 4


def test_the_record_is_private_and_kept_by_age(tmp_path: Path) -> None:
    old = ActivityStore(tmp_path / FILE_NAME, clock=lambda: time.time() - 91 * 86400)
    old.add(entry(1, when="2000-01-01T00:00:00.000+00:00"))
    old.count("198.51.100.1", "unauthorized")
    old.close()
    log = ActivityLog.open(tmp_path)
    log.record(entry(2))
    log.flush()
    assert stat.S_IMODE(os.stat(tmp_path / FILE_NAME).st_mode) == 0o600
    assert [e.queries for e in log.reads()] == [("q2",)]  # the 91-day-old read and count are gone
    assert log.refused() == []
    log.close()


def test_the_old_log_moves_into_the_record(tmp_path: Path) -> None:
    lines = [{"time": now_iso(), "client": "127.0.0.1", "method": "POST", "endpoint": "/query", "status": 200,
              "outcome": "ok", "queries": ["tar"], "result_count": 2},
             {"time": now_iso(), "client": "6.6.6.6", "method": "GET", "endpoint": "/x" * 1000, "status": 401,
              "outcome": "unauthorized"}]
    (tmp_path / "activity.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines) + "not json\n")
    log = ActivityLog.open(tmp_path)
    [kept] = log.reads()
    assert kept.queries == ("tar",) and kept.source == "127.0.0.1"
    assert not (tmp_path / "activity.jsonl").exists()
    log.close()


def test_every_authenticated_request_is_kept_and_refused_ones_counted(start_api: StartApi) -> None:
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
    reads = api.activity.reads()
    assert [(e.endpoint, e.status, e.outcome) for e in reads] == [
        ("/query", 200, "ok"),
        ("/query", 200, "ok"),
        (f"/notes/{note_id}", 200, "ok"),
        ("/query", 422, "invalid_request"),
    ]
    first = reads[0]
    assert first.queries == ("tar archive", "git") and first.result_count and first.result_count > 0
    assert first.titles and first.client == "API key" and first.source == "127.0.0.1" and first.time
    assert reads[2].note_id == note_id and reads[2].result_count == 1 and reads[2].titles == ("Tar",)
    [refused] = api.activity.refused()
    assert (refused.source, refused.reason, refused.count) == ("127.0.0.1", "unauthorized", 1)
    assert all(TOKEN not in json.dumps(e.to_dict()) for e in reads)


def test_a_line_for_the_console_escapes_what_the_request_sent() -> None:
    read = ActivityEntry(now_iso(), "Claude\x1b[2J", "127.0.0.1", "POST", "/mcp search", 200,
                         queries=("tar\nFAKE 200 line",))
    line = describe(read)
    assert "\x1b" not in line and "\n" not in line and "\\x1b" in line and "\\x0a" in line
    refused = ActivityEntry(now_iso(), "", "6.6.6.6", "GET", "/\u202eevil", 401, "unauthorized", count=10)
    assert describe(refused).endswith("refused 6.6.6.6 ×10 (unauthorized) GET /\\u202eevil")
