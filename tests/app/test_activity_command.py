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
