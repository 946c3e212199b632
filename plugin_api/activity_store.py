"""The activity record on disk: reads kept by age, refused traffic as counts (issue 15).

    activity.sqlite3
      reads    one row per authenticated request: client, source, what it searched
               (queries) and read (note titles, note id), status, time
      refused  one row per (source, reason): how many, first and last seen

Nothing that comes without a valid key or token writes a row of its own, so junk
cannot push the reads out; reads and refused counts older than the retention (90
days) are dropped. Writes happen on one background thread (a request only queues
them); refused counts are summed in memory and written every few seconds.
Another process (`notewell activity`) can read the file while a server writes it.
"""

from __future__ import annotations

import json
import os
import queue
import sqlite3
import threading
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable

FILE_NAME = "activity.sqlite3"
RETENTION_DAYS = 90
MAX_REFUSED_ROWS = 10_000
FLUSH_SECONDS = 2.0
PRUNE_SECONDS = 3600.0
_SCHEMA = """
CREATE TABLE IF NOT EXISTS reads (
    at REAL NOT NULL, time TEXT NOT NULL, client TEXT NOT NULL, source TEXT NOT NULL,
    method TEXT NOT NULL, endpoint TEXT NOT NULL, status INTEGER NOT NULL, outcome TEXT NOT NULL,
    queries TEXT NOT NULL, titles TEXT NOT NULL, note_id TEXT, result_count INTEGER,
    truncated INTEGER NOT NULL, duration_ms REAL NOT NULL, saved_path TEXT);
CREATE INDEX IF NOT EXISTS reads_at ON reads (at);
CREATE TABLE IF NOT EXISTS refused (
    source TEXT NOT NULL, reason TEXT NOT NULL, count INTEGER NOT NULL,
    first_seen REAL NOT NULL, last_seen REAL NOT NULL, PRIMARY KEY (source, reason));
"""


@dataclass(frozen=True)
class ActivityEntry:
    """One request, as the guard saw it: a read by a client, or a count of refused ones."""

    time: str  # ISO 8601, UTC
    client: str  # who the credential names: "API key", an OAuth client's name; "" if refused
    source: str  # the address it came from (see addresses.client_address)
    method: str
    endpoint: str  # the path, or "/mcp search" for MCP tools
    status: int
    outcome: str = "ok"  # or why it was refused: "unauthorized", "locked_out", ...
    queries: tuple[str, ...] = ()
    titles: tuple[str, ...] = ()  # the notes it found or read
    result_count: int | None = None
    note_id: str | None = None
    truncated: bool = False
    duration_ms: float = 0.0
    count: int = 1  # refused requests: how many from this source for this reason so far
    saved_path: str | None = None  # a note saved into the inbox (issue 18): its file, to open it

    @property
    def refused(self) -> bool:
        return not self.client

    @property
    def at(self) -> float:
        return datetime.fromisoformat(self.time).timestamp()

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["queries"], data["titles"] = list(self.queries), list(self.titles)
        return data


@dataclass(frozen=True)
class RefusedCount:
    source: str
    reason: str  # "unauthorized", "locked_out", "rate_limited", "bad_host", "abandoned", ...
    count: int
    first_seen: float
    last_seen: float

    def to_dict(self) -> dict[str, object]:
        return {"source": self.source, "reason": self.reason, "count": self.count,
                "first_seen": iso(self.first_seen), "last_seen": iso(self.last_seen)}


def iso(at: float) -> str:
    return datetime.fromtimestamp(at, timezone.utc).isoformat(timespec="milliseconds")


class ActivityStore:
    def __init__(self, path: Path, retention_days: float = RETENTION_DAYS,
                 clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.retention = retention_days * 86400
        self.clock = clock
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)  # private from the first byte
        os.close(fd)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(reads)")}
        if "saved_path" not in columns:  # a record from before issue 18
            self._db.execute("ALTER TABLE reads ADD COLUMN saved_path TEXT")
        self._prune()
        self._queue: queue.SimpleQueue[ActivityEntry | threading.Event | None] = queue.SimpleQueue()
        self._counts: dict[tuple[str, str], list[float]] = {}  # (source, reason) → [count, first, last]
        self._writer: threading.Thread | None = None
        self._closed = False

    # -- writing (any thread; the writer thread does the work) -------------------------
    def add(self, row: ActivityEntry) -> None:
        self._queue.put(row)
        self._start_writer()

    def count(self, source: str, reason: str) -> None:
        now = self.clock()
        with self._lock:
            counted = self._counts.get((source, reason))
            if counted is None:
                self._counts[(source, reason)] = [1, now, now]
            else:
                counted[0] += 1
                counted[2] = now
        self._start_writer()

    def flush(self) -> None:
        """Return once everything recorded so far is on disk."""
        if self._writer is None or not self._writer.is_alive():
            self._write([])
            return
        done = threading.Event()
        self._queue.put(done)
        done.wait(30)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._writer is not None and self._writer.is_alive():
            self._queue.put(None)
            self._writer.join(30)
        else:
            self._write([])
        with self._lock:
            self._db.close()

    # -- reading ------------------------------------------------------------------------
    def reads(self, since: float | None = None, limit: int | None = None) -> list[ActivityEntry]:
        """Reads from `since` on (all kept ones if None), oldest first; the newest `limit`."""
        sql = "SELECT * FROM reads WHERE at >= ? ORDER BY at DESC, rowid DESC"
        params: list[object] = [since if since is not None else 0.0]
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        with self._lock:
            rows = self._db.execute(sql, params).fetchall()
        return [_read_row(row) for row in reversed(rows)]

    def refused(self, since: float | None = None) -> list[RefusedCount]:
        with self._lock:
            rows = self._db.execute(
                "SELECT source, reason, count, first_seen, last_seen FROM refused WHERE last_seen >= ? "
                "ORDER BY count DESC, last_seen DESC", (since or 0.0,)).fetchall()
        return [RefusedCount(*row) for row in rows]

    # -- the writer thread ---------------------------------------------------------------
    def _start_writer(self) -> None:
        if self._writer is None and not self._closed:
            with self._lock:
                if self._writer is None:
                    self._writer = threading.Thread(target=self._run, name="notewell-activity", daemon=True)
                    self._writer.start()

    def _run(self) -> None:
        pruned = self.clock()
        while True:
            batch: list[ActivityEntry] = []
            waiting: list[threading.Event] = []
            stop = False
            try:
                item = self._queue.get(timeout=FLUSH_SECONDS)
                while True:
                    if item is None:
                        stop = True
                    elif isinstance(item, threading.Event):
                        waiting.append(item)
                    else:
                        batch.append(item)
                    item = self._queue.get_nowait()
            except queue.Empty:
                pass
            self._write(batch)
            if self.clock() - pruned > PRUNE_SECONDS:
                self._prune()
                pruned = self.clock()
            for event in waiting:
                event.set()
            if stop:
                return

    def _write(self, batch: Iterable[ActivityEntry]) -> None:
        rows = [(r.at, r.time, r.client, r.source, r.method, r.endpoint, r.status, r.outcome,
                 json.dumps(list(r.queries), ensure_ascii=False), json.dumps(list(r.titles), ensure_ascii=False),
                 r.note_id, r.result_count, int(r.truncated), r.duration_ms, r.saved_path) for r in batch]
        with self._lock:
            counts, self._counts = self._counts, {}
            if not rows and not counts:
                return
            try:
                with self._db:
                    self._db.executemany("INSERT INTO reads VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
                    self._db.executemany(
                        "INSERT INTO refused VALUES (?,?,?,?,?) ON CONFLICT (source, reason) DO UPDATE SET "
                        "count = count + excluded.count, last_seen = excluded.last_seen",
                        [(s, r, int(c[0]), c[1], c[2]) for (s, r), c in counts.items()])
            except sqlite3.Error:
                pass  # a full or read-only disk must not fail requests; the live view still has it

    def _prune(self) -> None:
        cutoff = self.clock() - self.retention
        with self._lock, self._db:
            self._db.execute("DELETE FROM reads WHERE at < ?", (cutoff,))
            self._db.execute("DELETE FROM refused WHERE last_seen < ?", (cutoff,))
            self._db.execute(
                "DELETE FROM refused WHERE rowid NOT IN "
                "(SELECT rowid FROM refused ORDER BY last_seen DESC LIMIT ?)", (MAX_REFUSED_ROWS,))


def _read_row(row: tuple) -> ActivityEntry:  # type: ignore[type-arg]
    (_, when, client, source, method, endpoint, status, outcome, queries, titles, note_id, result_count,
     truncated, duration_ms, saved_path) = row
    return ActivityEntry(when, client, source, method, endpoint, status, outcome, tuple(json.loads(queries)),
                         tuple(json.loads(titles)), result_count, note_id, bool(truncated), duration_ms,
                         saved_path=saved_path)
