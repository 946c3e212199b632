"""One writing process per data folder.

Inside a process, `indexer.worker` is the index's one writer. Across processes nothing
stopped `notewell index` from writing the catalog and Chroma while the desktop app or
`notewell serve` was writing them too, each with its own folder list (so each would
take the other's folders out), and Chroma's local store is not safe for two writers.
The process that keeps the index up to date holds an exclusive lock on
`<data dir>/writer.lock` for as long as it runs; the kernel drops it when the process
ends, however it ends (kill -9 included), so a stale lock never blocks anyone.
Searching needs no lock.

    with DataFolderLock.acquire(data_dir, "notewell index"):
        index.sync_only(folders)
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from types import TracebackType

from .errors import StoreError

try:
    import fcntl
except ImportError:  # not a POSIX system: no lock (one app per user is still the rule)
    fcntl = None  # type: ignore[assignment]

LOCK_FILE = "writer.lock"


class DataFolderBusy(StoreError):
    """Another process keeps this data folder's index up to date."""

    def __init__(self, data_dir: Path, holder: dict[str, object]) -> None:
        what = str(holder.get("what") or "")
        pid = holder.get("pid")
        who = "Another Notewell" + (f" ({what}, process {pid})" if pid else f" ({what})" if what else "")
        super().__init__(
            f"{who} is already keeping the index in {data_dir} up to date, and only one "
            "program at a time may change it. Add or remove folders there (it watches them, "
            "so your notes stay current), or quit it first; searching works alongside it. "
            "For a separate index, use --data-dir."
        )
        self.data_dir = data_dir
        self.holder = holder


class DataFolderLock:
    def __init__(self, path: Path, fd: int | None) -> None:
        self.path = path
        self._fd = fd

    @classmethod
    def acquire(cls, data_dir: Path, what: str) -> "DataFolderLock":
        """Take the data folder's writer lock for `what` (a phrase such as "notewell serve"),
        or raise `DataFolderBusy` naming the process that has it."""
        data_dir = Path(data_dir)
        path = data_dir / LOCK_FILE
        if fcntl is None:
            return cls(path, None)
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise DataFolderBusy(data_dir, holder) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "what": what, "since": time.time()}).encode(), 0)
        return cls(path, fd)

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None and fcntl is not None:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    @property
    def held(self) -> bool:
        return self._fd is not None or fcntl is None

    def __enter__(self) -> "DataFolderLock":
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.release()


def _read_holder(fd: int) -> dict[str, object]:
    try:
        raw = os.pread(fd, 4096, 0)
        holder = json.loads(raw.decode("utf-8")) if raw else {}
        return holder if isinstance(holder, dict) else {}
    except (OSError, ValueError):
        return {}
