"""What assistants read, and what was turned away: the activity log (issue 15).

    activity = ActivityLog.open(data_dir)   # the record in activity.sqlite3 (activity_store)
    activity.record(entry)                  # a request with a valid key or token: kept
    activity.refuse(source, reason, ...)    # anything else: counted per source
    activity.subscribe(show)                # the GUI's table, `notewell serve`'s lines

The record keeps what a caller searched or read, and its failed requests (not MCP's
protocol chatter). Listeners hear every caller's request, and a refused source only
when its count reaches 1, 10, 100, … (a flood prints a handful of lines). `entries()`
gives what a view shows at start: the kept reads and the refused counts, from disk.
Never holds a key or token. `describe` turns an entry into one printable line.
"""

from __future__ import annotations

import ipaddress
import json
import threading
from collections import OrderedDict, deque
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from .activity_store import FILE_NAME, RETENTION_DAYS, ActivityEntry, ActivityStore, RefusedCount, iso
from .listeners import Listeners
from .printable import printable

__all__ = ["ActivityEntry", "ActivityLog", "RefusedCount", "describe", "now_iso", "source_label", "summary",
           "worth_keeping"]
Listener = Callable[[ActivityEntry], None]
OLD_LOG = "activity.jsonl"  # before issue 15: one line per request, rotated at 2 MB
OLD_CLIENT = "an assistant"  # that log did not say which
MAX_TRACKED_SOURCES = 10_000
SAVE_ENDPOINTS = ("/notes", "/mcp save_note")


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class ActivityLog:
    def __init__(self, store: ActivityStore | None = None, memory: int = 1000) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._reads: deque[ActivityEntry] = deque(maxlen=memory)  # without a store (tests, embedding)
        self._refused: OrderedDict[tuple[str, str], RefusedCount] = OrderedDict()
        self._listeners: Listeners[ActivityEntry] = Listeners()

    @classmethod
    def open(cls, data_dir: Path, retention_days: float = RETENTION_DAYS) -> ActivityLog:
        store = ActivityStore(data_dir / FILE_NAME, retention_days)
        _import_old_log(data_dir, store)
        return cls(store)

    @property
    def path(self) -> Path | None:
        return self.store.path if self.store is not None else None

    # -- recording ------------------------------------------------------------------------
    def record(self, entry: ActivityEntry) -> None:
        """A request made with a valid key or token: kept if it searched, read or failed."""
        if worth_keeping(entry):
            if self.store is not None:
                self.store.add(entry)
            else:
                with self._lock:
                    self._reads.append(entry)
        self._listeners.notify(entry)

    def refuse(self, source: str, reason: str, *, status: int, method: str, endpoint: str) -> None:
        """A request turned away (or abandoned): counted, never stored on its own."""
        at = datetime.now(timezone.utc).timestamp()
        with self._lock:
            key = (source, reason)
            old = self._refused.pop(key, None)
            count = old.count + 1 if old else 1
            self._refused[key] = RefusedCount(source, reason, count, old.first_seen if old else at, at)
            while len(self._refused) > MAX_TRACKED_SOURCES:
                self._refused.popitem(last=False)
        if self.store is not None:
            self.store.count(source, reason)
        if _is_milestone(count):
            self._listeners.notify(ActivityEntry(
                iso(at), "", source, method, printable(endpoint, 200), status, reason, count=count))

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener` (on the server's thread) for each read and refusal milestone."""
        return self._listeners.subscribe(listener)

    # -- reading --------------------------------------------------------------------------
    def reads(self, since: float | None = None, limit: int | None = None) -> list[ActivityEntry]:
        """Kept reads, oldest first (all of them, or from `since` on; the newest `limit`)."""
        if self.store is not None:
            return self.store.reads(since, limit)
        with self._lock:
            kept = [e for e in self._reads if since is None or e.at >= since]
        return kept[-limit:] if limit else kept

    def refused(self, since: float | None = None) -> list[RefusedCount]:
        if self.store is not None:
            self.store.flush()
            return self.store.refused(since)
        with self._lock:
            counts = [c for c in self._refused.values() if since is None or c.last_seen >= since]
        return sorted(counts, key=lambda c: (-c.count, -c.last_seen))

    def entries(self, limit: int = 1000) -> list[ActivityEntry]:
        """What a view shows at start, oldest first: the newest reads and every refused count."""
        refused = [ActivityEntry(iso(c.last_seen), "", c.source, "", "", _STATUS.get(c.reason, 400), c.reason,
                                 count=c.count) for c in self.refused()]
        return sorted([*self.reads(limit=limit), *refused], key=lambda e: e.time)

    def flush(self) -> None:
        if self.store is not None:
            self.store.flush()

    def close(self) -> None:
        if self.store is not None:
            self.store.close()


_STATUS = {"unauthorized": 401, "forbidden": 403, "bad_origin": 403, "locked_out": 429, "rate_limited": 429,
           "bad_host": 421, "payload_too_large": 413, "abandoned": 499}


def describe(entry: ActivityEntry) -> str:
    """One line for a console: time, who, what; every part from the request escaped."""
    when = entry.time[11:19]
    if entry.refused:
        return printable(f"{when} refused {entry.source} ×{entry.count} ({entry.outcome}) "
                         f"{entry.method} {entry.endpoint}".rstrip(), 400)
    title = entry.titles[0] if entry.titles else ""
    if entry.saved_path:
        what = f"saved {title} → {entry.saved_path}"
    elif entry.endpoint in SAVE_ENDPOINTS:
        what = f"save {title}"  # not saved: the status and outcome say why
    else:
        what = "; ".join(entry.queries) or (f"read {entry.titles[0]}" if entry.titles else entry.note_id or "")
    count = "" if entry.result_count is None else f" → {entry.result_count}"
    outcome = "" if entry.outcome == "ok" else f" ({entry.outcome})"
    return printable(f"{when} {entry.client} ({entry.source}) {entry.method} {entry.endpoint} "
                     f"{entry.status}{outcome} {what}{count}".rstrip(), 400)


def worth_keeping(entry: ActivityEntry) -> bool:
    # MCP's own chatter (initialize, tools/list, the GET a client tries for a stream) is
    # not something the user asks "what did it read?" about; the live view still shows it.
    return bool(entry.queries or entry.titles or entry.note_id or entry.saved_path) or (entry.status >= 400 and entry.status != 405)


REASONS = {"unauthorized": "no valid key or token", "forbidden": "not allowed", "bad_origin": "from a web page",
           "locked_out": "locked out after wrong keys", "rate_limited": "too many requests",
           "bad_host": "to a wrong host name", "payload_too_large": "request too large",
           "abandoned": "gave up before the answer"}


def source_label(source: str) -> str:
    """Where a request came from, in words: "This computer", "Internet · 203.0.113.5", …"""
    if source == "tunnel":
        return "Internet (via sharing)"
    try:
        address = ipaddress.ip_network(source, strict=False).network_address
    except ValueError:
        return source
    if address.is_loopback:
        return "This computer"
    if address.is_private or address.is_link_local:
        return f"Local network · {source}"
    return f"Internet · {source}"


def summary(entry: ActivityEntry) -> str:
    """What a request did, for a person: the searches and the notes' titles, never ids or paths."""
    if entry.refused:
        return f"refused ×{entry.count}: {REASONS.get(entry.outcome, entry.outcome)}"
    if entry.queries:
        found = f" → {', '.join(entry.titles)}" if entry.titles else " → nothing found"
        return "searched " + "; ".join(f"“{q}”" for q in entry.queries) + found
    if entry.titles:
        return f"read “{entry.titles[0]}”"
    if entry.note_id:
        return "asked for a note that is not in the index" if entry.status == 404 else "read a note"
    return f"a request that failed ({entry.status})"


def _is_milestone(count: int) -> bool:
    while count % 10 == 0:
        count //= 10
    return count == 1


def _import_old_log(data_dir: Path, store: ActivityStore) -> None:
    # Trigger: a data dir from before issue 15. Why: its log mixed the reads with junk anyone
    # could send. Outcome: the successful requests move into the record, the files go.
    old = [data_dir / (OLD_LOG + ".1"), data_dir / OLD_LOG]
    for path in old:
        try:
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
        for line in lines:
            try:
                data = json.loads(line)
                if int(data["status"]) < 400:
                    store.add(ActivityEntry(
                        str(data["time"]), OLD_CLIENT, str(data["client"]), str(data["method"]),
                        str(data["endpoint"])[:200], int(data["status"]), queries=tuple(data.get("queries") or ()),
                        result_count=data.get("result_count"), note_id=data.get("note_id")))
            except (ValueError, KeyError, TypeError):
                continue
    store.flush()
    for path in old:
        path.unlink(missing_ok=True)
