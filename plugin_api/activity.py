"""What assistants read: a bounded log of authenticated and refused requests.

Kept in memory for the GUI (newest last, `maxlen` entries) and, when a path is
given, appended as JSON lines to a private (0600) file that rotates at `max_file_bytes` (one
previous file is kept), so the user can always see what an assistant read.
Never holds the token.
"""

from __future__ import annotations

import json
import os
import threading
from collections import deque
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from .listeners import Listeners

Listener = Callable[["ActivityEntry"], None]


@dataclass(frozen=True)
class ActivityEntry:
    time: str  # ISO 8601, UTC
    client: str
    method: str
    endpoint: str
    status: int
    outcome: str  # "ok", or why it was refused: "unauthorized", "locked_out", ...
    queries: tuple[str, ...] = ()
    result_count: int | None = None
    note_id: str | None = None
    truncated: bool = False
    duration_ms: float = 0.0

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["queries"] = list(self.queries)
        return data


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


@dataclass
class ActivityLog:
    maxlen: int = 1000
    path: Path | None = None
    max_file_bytes: int = 2 * 1024 * 1024
    _entries: deque[ActivityEntry] = field(init=False)
    _listeners: Listeners[ActivityEntry] = field(init=False, default_factory=Listeners)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._entries = deque(maxlen=self.maxlen)

    def record(self, entry: ActivityEntry) -> None:
        with self._lock:
            self._entries.append(entry)
            if self.path is not None:
                self._append_to_file(entry)
        self._listeners.notify(entry)

    def entries(self) -> list[ActivityEntry]:
        with self._lock:
            return list(self._entries)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener` (on the server's thread) for each new entry; returns unsubscribe."""
        return self._listeners.subscribe(listener)

    def _append_to_file(self, entry: ActivityEntry) -> None:
        assert self.path is not None
        line = json.dumps(entry.to_dict(), ensure_ascii=False) + "\n"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self.path.exists() and self.path.stat().st_size + len(line) > self.max_file_bytes:
                self.path.replace(self.path.with_name(self.path.name + ".1"))
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as handle:
                handle.write(line)
        except OSError:
            pass  # the in-memory log still has it; a full disk must not fail requests
