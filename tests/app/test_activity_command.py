"""`notewell activity`: the record of reads, as a user runs it (a real process, the record on disk)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from notewell.plugin_api.activity import ActivityEntry, ActivityLog

REPO = Path(__file__).resolve().parents[2]


def activity(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "notewell.app", "activity", "--data-dir", str(data_dir), *args],
                          cwd=REPO, capture_output=True, text=True, timeout=60, env={**os.environ})


def seed(data_dir: Path) -> None:
    now = datetime.now(timezone.utc)
    log = ActivityLog.open(data_dir)
    log.record(ActivityEntry((now - timedelta(days=3)).isoformat(), "ChatGPT", "203.0.113.5", "POST",
                             "/mcp search", 200, queries=("old trip",), titles=("Trips",)))
    log.record(ActivityEntry(now.isoformat(), "Claude\x1b[2J", "127.0.0.1", "POST", "/mcp search", 200,
                             queries=("sourdough\nstarter",), titles=("Sourdough", "Bread")))
    log.record(ActivityEntry(now.isoformat(), "API key", "127.0.0.1", "GET", "/notes/abc", 200,
                             titles=("Sourdough",), note_id="abc"))
    for _ in range(80):
        log.refuse("198.51.100.7", "unauthorized", status=401, method="GET", endpoint="/x")
    log.close()


def test_json_and_since(tmp_path: Path) -> None:
    seed(tmp_path)
    everything = json.loads(activity(tmp_path, "--json").stdout)
    assert [r["client"] for r in everything["reads"]] == ["ChatGPT", "Claude\x1b[2J", "API key"]
    assert everything["reads"][1]["titles"] == ["Sourdough", "Bread"]
    assert everything["refused"] == [everything["refused"][0]] and everything["refused"][0]["count"] == 80
    recent = json.loads(activity(tmp_path, "--json", "--since", "1d").stdout)
    assert [r["queries"] for r in recent["reads"]] == [["sourdough\nstarter"], []]
    today = datetime.now().strftime("%Y-%m-%d")
    assert len(json.loads(activity(tmp_path, "--json", "--since", today).stdout)["reads"]) == 2


def test_plain_lines_escape_what_a_client_sent(tmp_path: Path) -> None:
    seed(tmp_path)
    out = activity(tmp_path, "--since", "12h").stdout
    assert "\x1b" not in out and "Claude\\x1b[2J (127.0.0.1)" in out
    assert 'searched "sourdough\\x0astarter" → Sourdough, Bread' in out
    assert 'read "Sourdough"' in out and "old trip" not in out
    assert "198.51.100.7  unauthorized ×80" in out


def test_bad_since_is_usage_and_an_empty_record_says_so(tmp_path: Path) -> None:
    bad = activity(tmp_path, "--since", "last tuesday")
    assert bad.returncode == 2 and "try 2024-05-31" in bad.stderr
    assert "No assistant has searched or read anything" in activity(tmp_path).stdout


def test_saves_are_in_the_record_with_their_file(tmp_path: Path) -> None:
    """Issue 18: what each assistant saved, and where; a refused save says so."""
    now = datetime.now(timezone.utc).isoformat()
    log = ActivityLog.open(tmp_path)
    log.record(ActivityEntry(now, "ChatGPT", "127.0.0.1", "POST", "/mcp save_note", 200, titles=("Ferry",),
                             note_id="abc", saved_path="/home/u/notes/Inbox/Ferry.md"))
    log.record(ActivityEntry(now, "ChatGPT", "127.0.0.1", "POST", "/notes", 403, "forbidden", titles=("Nope",)))
    log.close()
    lines = activity(tmp_path).stdout.splitlines()
    assert lines[0].endswith('saved "Ferry" → /home/u/notes/Inbox/Ferry.md')
    assert lines[1].endswith('did not save "Nope" (403 forbidden)')
    reads = json.loads(activity(tmp_path, "--json").stdout)["reads"]
    assert [r["saved_path"] for r in reads] == ["/home/u/notes/Inbox/Ferry.md", None]


def test_a_record_from_before_saving_opens_and_keeps_its_rows(tmp_path: Path) -> None:
    import sqlite3

    old = sqlite3.connect(tmp_path / "activity.sqlite3")
    old.executescript("""
    CREATE TABLE reads (at REAL NOT NULL, time TEXT NOT NULL, client TEXT NOT NULL, source TEXT NOT NULL,
        method TEXT NOT NULL, endpoint TEXT NOT NULL, status INTEGER NOT NULL, outcome TEXT NOT NULL,
        queries TEXT NOT NULL, titles TEXT NOT NULL, note_id TEXT, result_count INTEGER,
        truncated INTEGER NOT NULL, duration_ms REAL NOT NULL);
    """)
    now = datetime.now(timezone.utc)
    old.execute("INSERT INTO reads VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (now.timestamp(), now.isoformat(), "ChatGPT", "127.0.0.1", "POST", "/query", 200, "ok",
                 '["tar"]', '["Tar"]', None, 1, 0, 3.0))
    old.commit()
    old.close()
    reads = json.loads(activity(tmp_path, "--json").stdout)["reads"]
    assert [(r["queries"], r["saved_path"]) for r in reads] == [(["tar"], None)]
