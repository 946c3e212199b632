"""What `notewell serve` prints: the runtime's events as lines on the terminal (no Qt).

Every method runs on a worker thread; `print` is line-buffered by the caller's
`flush=True`. A progress bar is shown on a TTY while the first index is built.
"""

from __future__ import annotations

import sys
import threading
from typing import Any, Callable
from urllib.parse import urlsplit

from notewell.indexer.types import Progress

from .connect_help import serve_lines


class ConsoleReport:
    def __init__(self, manifest_config: Any, progress: Callable[[Progress], None] = lambda p: None) -> None:
        self._token_location = ""
        self._activity_path = ""
        self.saving = ""  # how saving into the inbox stands, for the start banner
        self._manifest_config = manifest_config
        self.progress = progress  # the terminal's bar, while the first index is built
        self.first_sync_done = threading.Event()
        self.server_failed = threading.Event()
        self.failure = ""
        self._lock = threading.Lock()
        self._served = False
        self._held: list[str] = []  # the first sync's lines, when it ends before the server is up

    def set_locations(self, token: str, activity: str) -> None:
        self._token_location, self._activity_path = token, activity

    # -- the index ------------------------------------------------------------------------
    def index_progress(self, progress: Progress) -> None:
        if not self.first_sync_done.is_set():
            self.progress(progress)

    def index_state(self, state: str, message: str) -> None:
        if state == "idle" and not self.first_sync_done.is_set():
            lines = [message, "Watching the folders for changes."]
            with self._lock:
                if not self._served:
                    self._held = lines
                    lines = []
            for line in lines:
                _say(line)
            self.first_sync_done.set()
        elif state == "error":
            _say(f"Indexing stopped: {message}", err=True)

    def index_folders(self, statuses: Any) -> None: ...

    def index_ready(self, index: Any) -> None: ...

    def folder_missing(self, folder: str) -> None: ...

    def index_changed(self, event: Any) -> None:
        if event.kind in ("updated", "reconciled", "missing", "limit", "error"):
            _say(event.message, err=event.kind in ("limit", "error"))

    # -- the server and the tunnel --------------------------------------------------------
    def server_changed(self, state: Any) -> None:
        if state.state == "running" and not self._served:
            _say(f"Serving your notes at {state.url}")
            _say(f"  manifest: {state.url}/.well-known/ai-plugin.json")
            for line in serve_lines(state.url):
                _say(line)
            _say(f"  API token: {self._token_location} (print it with `notewell token`)")
            _say(f"  activity log: {self._activity_path}")
            if self.saving:
                _say(f"  {self.saving}")
            _say("Press Ctrl+C to stop.")
            with self._lock:
                self._served = True
                held, self._held = self._held, []
            for line in held:
                _say(line)
        elif state.state == "error":
            self.failure = state.message
            self.server_failed.set()

    def tunnel_changed(self, status: Any) -> None:
        from notewell.plugin_api.manifest import build_manifest, domain_warnings

        if status.state == "online" and status.public_url:
            _say(f"Public URL: {status.public_url}")
            _say(f"  manifest: {status.public_url}/.well-known/ai-plugin.json")
            for line in serve_lines(status.public_url):
                _say(line)
            _say(f"  ChatGPT connector: {status.public_url}/mcp with OAuth (Settings → Apps & Connectors → "
                 "Create, in Developer mode); allow it with the code printed here")
            manifest = build_manifest(status.public_url, self._manifest_config)
            for warning in domain_warnings(manifest, urlsplit(status.public_url).hostname or ""):
                _say(f"Warning: {warning}", err=True)
        elif status.state == "error":
            _say(f"Tunnel error: {status.message}", err=True)
        elif status.state == "connecting":
            _say(f"Tunnel connecting… {status.message}".rstrip())

    # -- who reads the notes --------------------------------------------------------------
    def activity(self, entry: Any) -> None:
        from notewell.plugin_api.activity import describe

        _say(describe(entry))

    def consent(self, request: Any) -> None:
        from notewell.plugin_api.consent import describe_consent

        _say(describe_consent(request))

    def save_consent(self, request: Any) -> None: ...  # serve never asks: it refuses, or --allow-saves

    def clients(self) -> None: ...


_print_lock = threading.Lock()


def _say(line: str, err: bool = False) -> None:
    with _print_lock:
        print(line, file=sys.stderr if err else sys.stdout, flush=True)
