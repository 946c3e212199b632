"""Issue 15: "The activity log can be erased by anyone".

Replayed: unauthenticated requests with long paths rotated the 2 MB log twice, and the
record of what assistants read was gone; after a restart the GUI's Activity tab was
empty although the file held entries. Now reads (client, query, note titles, time)
are kept by age in their own record, and refused traffic is only counted per source.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from notewell.plugin_api.activity import ActivityLog
from tests.security.conftest import Serve, Served
from tests.security.oauth_client import connect, sdk_search

QUERY = "sourdough starter"


def raw_get(served: Served, path: str) -> None:
    host, port = served.host.split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {served.host}\r\nConnection: close\r\n\r\n".encode())
        while sock.recv(65536):
            pass


def files_holding(root: Path, text: str) -> list[str]:
    return [p.name for p in root.rglob("*") if p.is_file() and text.encode() in p.read_bytes()]


def read_the_notes(served: Served) -> str:
    """An assistant searches and reads one note with the key; returns the note's id."""
    with served.keyed() as http:
        found = http.post("/query", json={"queries": [{"query": QUERY}]}).json()
        note_id = found["results"][0]["results"][0]["note_id"]
        assert http.get(f"/notes/{note_id}").status_code == 200
    return note_id


def test_junk_cannot_flush_the_record_of_reads(serve: Serve) -> None:
    served = serve()
    read_the_notes(served)
    for n in range(80):  # the review's replay: 60,000-character paths, no credentials
        raw_get(served, "/" + "a" * 60_000 + str(n))
    for n in range(400):  # and junk that gets as far as the guard: 4.8 MB of paths
        raw_get(served, "/" + "b" * 12_000 + str(n))
    served.activity.flush()
    assert files_holding(served.data_dir, QUERY), "the record of the search is gone from the disk"
    size = sum(p.stat().st_size for p in served.data_dir.rglob("*") if p.is_file())
    assert size < 512 * 1024, f"junk is stored line by line ({size} bytes)"

    served.activity.close()  # a restart
    record = ActivityLog.open(served.data_dir)
    try:
        search, read = record.reads()
        assert search.client == "API key" and search.source == "127.0.0.1" and search.queries == (QUERY,)
        assert "Sourdough" in search.titles and search.time
        assert read.titles == ("Sourdough",) and read.note_id
        refused = record.refused()
        assert len(refused) <= 3 and sum(r.count for r in refused) <= 480  # counts, not lines
        assert {r.source for r in refused} <= {"127.0.0.1"}
    finally:
        record.close()


def test_oauth_reads_carry_the_client_name(serve: Serve) -> None:
    served = serve()
    _, _, issued = connect(served, name="Claude")
    assert sdk_search(served.url + "/mcp", issued["access_token"], QUERY)["results"]
    served.activity.flush()
    searches = [r for r in served.activity.reads() if r.queries]
    assert [(r.client, r.queries) for r in searches] == [("Claude", (QUERY,))]
    assert "Sourdough" in searches[0].titles


def test_the_activity_tab_shows_the_record_after_a_restart(serve: Serve, qtbot) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("PySide6.QtWidgets", exc_type=ImportError)
    from notewell.app.gui.activity_tab import ActivityTab
    from notewell.app.gui.bridge import Bridge

    served = serve()
    read_the_notes(served)
    for n in range(20):
        raw_get(served, f"/junk{n}")
    served.activity.close()
    record = ActivityLog.open(served.data_dir)  # the app started again
    try:
        tab = ActivityTab(Bridge(), record.entries())
        qtbot.addWidget(tab)
        rows = [[tab.table.topLevelItem(i).text(c) for c in range(6)] for i in range(tab.table.topLevelItemCount())]
        assert any(QUERY in row[3] and row[1] == "API key" for row in rows), rows
        assert any("Sourdough" in row[3] for row in rows), rows
        assert "20 refused" in tab.summary.text()
    finally:
        record.close()
