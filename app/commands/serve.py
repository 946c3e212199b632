"""`notewell serve [FOLDER...]`: index, then serve the notes to assistants until stopped."""

from __future__ import annotations

import argparse
import os
import queue
import signal
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = sub.add_parser("serve", help="index and serve your notes to assistants (headless)")
    parser.add_argument("folders", nargs="*", metavar="FOLDER", help="notes folders to add")
    parser.add_argument("--host", help="address to listen on (default: the setting, 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default: the setting, 3333)")
    parser.add_argument(
        "--tunnel", choices=("none", "ngrok"), default="none", help="share through an ngrok tunnel"
    )
    parser.add_argument("--ngrok-path", metavar="PATH", help="use this ngrok agent binary")
    parser.add_argument("--ngrok-domain", metavar="DOMAIN", help="your static ngrok domain")
    parser.add_argument("--public-url", metavar="URL", help="your own public HTTPS URL")
    return parser


def run(args: argparse.Namespace) -> int:
    from notewell.app.cli import UsageError, existing_folders
    from notewell.app.paths import data_dir, sample_notes_dir
    from notewell.app.progress import terminal_progress
    from notewell.app.secrets import open_token_store
    from notewell.app.services import open_index
    from notewell.app.settings import Settings

    root = data_dir(args.data_dir)
    settings = Settings.load(root)
    folders = existing_folders(args.folders)
    if args.port is not None and not 0 <= args.port <= 65535:
        raise UsageError("--port must be between 0 and 65535")
    if settings.add_folders(folders):
        settings.save(root)
    serving = [Path(f) for f in settings.folders] or [sample_notes_dir()]
    if not settings.folders:
        print(f"No notes folders yet: serving the sample notes in {serving[0]}.")
        print("Add yours with `notewell serve ~/path/to/notes`.")
    store = open_token_store(root)
    store.get()  # created on first run, before anyone can ask
    tunnel = _make_tunnel(args, settings, root)

    index = open_index(settings, root, chroma_url=args.chroma_url)
    index.prepare_search()
    try:
        # Serve first: keyword search answers as soon as a note is read, and dense
        # search as soon as it is embedded, so a big first index never blocks the API.
        with _serving(args, settings, root, index, store, tunnel) as stopped:
            with terminal_progress(preparing=index.model_preparing) as progress:
                summary = index.sync(serving, progress)
            print(summary.line(), flush=True)
            if not stopped.is_set():
                stop_watching = _start_watching(index, serving)
                try:
                    while not stopped.wait(0.5):
                        pass
                finally:
                    stop_watching()
    finally:
        index.close()
    return 0


@contextmanager
def _serving(
    args: argparse.Namespace, settings: Any, root: Path, index: Any, store: Any, tunnel: Any
) -> Iterator[threading.Event]:
    """Run the API (and tunnel) until the block ends; the event is set on SIGINT/SIGTERM."""
    from notewell.app.connect_help import serve_lines
    from notewell.app.services import api_config, create_api, make_oauth
    from notewell.plugin_api.activity import ActivityLog, describe
    from notewell.plugin_api.consent import ConsentQueue
    from notewell.plugin_api.oauth_store import FILE_NAME as OAUTH_FILE
    from notewell.plugin_api.oauth_store import OAuthStore
    from notewell.plugin_api.server import ApiServer

    public_url = _public_url_source(tunnel)
    activity = ActivityLog.open(root)
    activity.subscribe(lambda entry: print(describe(entry), flush=True))
    consents = ConsentQueue()
    consents.subscribe(_report_consent)
    oauth = make_oauth(OAuthStore.open(root / OAUTH_FILE), public_url, consents)
    app = create_api(settings, index, store.get, public_url=public_url, activity=activity, oauth=oauth)
    config = api_config(settings)
    server = ApiServer(
        app,
        host=args.host or settings.host,
        port=settings.port if args.port is None else args.port,
    )
    stopped = threading.Event()
    signals: queue.SimpleQueue[int] = queue.SimpleQueue()
    presses = [0]

    def on_signal(signum: int, _frame: object) -> None:
        # A handler runs between two bytecodes of the main thread, which may hold a lock the
        # stop needs (an Event's, a file's): it was seen to hang. So it takes no lock itself:
        # SimpleQueue.put is reentrant, and a second press leaves at once.
        presses[0] += 1
        if presses[0] > 1:  # asked twice: don't wait for the model to finish a batch
            os.write(2, "Stopped.\n".encode())
            os._exit(130)
        signals.put(signum)

    def stop_on_signal() -> None:
        signals.get()
        stopped.set()
        index.stop()  # a running sync ends at its next file or batch and resumes next time
        print("Stopping… (press Ctrl+C again to quit at once)", flush=True)

    threading.Thread(target=stop_on_signal, name="notewell-signals", daemon=True).start()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, on_signal)
    server.start()
    print(f"Serving your notes at {server.url}")
    print(f"  manifest: {server.url}/.well-known/ai-plugin.json")
    for line in serve_lines(server.url):
        print(line)
    print(f"  API token: {store.location} (print it with `notewell token`)")
    print(f"  activity log: {activity.path}")
    unsubscribe = None
    if tunnel is not None:
        unsubscribe = tunnel.subscribe(lambda status: _report_tunnel(status, config))
        tunnel.start(server.port)
    print("Press Ctrl+C to stop.", flush=True)
    try:
        yield stopped
    finally:
        if tunnel is not None:
            if unsubscribe:
                unsubscribe()
            tunnel.stop()
        server.stop()
        activity.close()


def _make_tunnel(args: argparse.Namespace, settings: Any, root: Path) -> Any:
    public = args.public_url or settings.public_url
    kind = "ngrok" if args.tunnel == "ngrok" else ("url" if public else "none")
    if kind == "none":
        return None
    from notewell.app.services import make_tunnel

    return make_tunnel(
        settings, root, kind, public_url=public or None, domain=args.ngrok_domain,
        ngrok_path=args.ngrok_path,
    )


def _public_url_source(tunnel: Any) -> Callable[[], str | None]:
    if tunnel is None:
        return lambda: None

    def current() -> str | None:
        status = tunnel.status
        return status.public_url if status.state == "online" else None

    return current


def _report_tunnel(status: Any, config: Any) -> None:
    from urllib.parse import urlsplit

    from notewell.app.connect_help import serve_lines
    from notewell.plugin_api.manifest import build_manifest, domain_warnings

    if status.state == "online" and status.public_url:
        print(f"Public URL: {status.public_url}")
        print(f"  manifest: {status.public_url}/.well-known/ai-plugin.json")
        for line in serve_lines(status.public_url):
            print(line)
        print(f"  ChatGPT connector: {status.public_url}/mcp with OAuth (Settings → Connectors → Create); "
              "allow it with the code printed here")
        manifest = build_manifest(status.public_url, config.manifest)
        for warning in domain_warnings(manifest, urlsplit(status.public_url).hostname or ""):
            print(f"Warning: {warning}", file=sys.stderr)
    elif status.state == "error":
        print(f"Tunnel error: {status.message}", file=sys.stderr)
    elif status.state == "connecting":
        print(f"Tunnel connecting… {status.message}".rstrip())
    sys.stdout.flush()


def _report_consent(request: Any) -> None:
    from notewell.plugin_api.consent import describe_consent

    print(describe_consent(request), flush=True)


def _start_watching(index: Any, folders: list[Path]) -> Callable[[], None]:
    """Follow edits in the folders from now on; returns the function that stops watching."""
    from notewell.indexer.watcher import watch_index

    stop = watch_index(index, folders)
    print("Watching the folders for changes.")
    return stop
