"""`notewell serve [FOLDER...]`: index, then serve the notes to assistants until stopped."""

from __future__ import annotations

import argparse
import os
import queue
import signal
import threading
from pathlib import Path
from typing import Any


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
    parser.add_argument("--inbox", metavar="DIR",
                        help="let assistants save new notes into this folder (default: the setting; off)")
    parser.add_argument("--allow-saves", action="store_true",
                        help="with --inbox: save without asking (nobody can be asked without the app)")
    return parser


def run(args: argparse.Namespace) -> int:
    from notewell.app.cli import UsageError, existing_folders
    from notewell.app.console import ConsoleReport
    from notewell.app.paths import data_dir, sample_notes_dir
    from notewell.app.leaving import leave
    from notewell.app.preferences import Preferences
    from notewell.app.progress import terminal_progress
    from notewell.app.runtime import Runtime, RuntimeOptions, inbox_problem
    from notewell.app.services import api_config
    from notewell.app.settings import Settings

    root = data_dir(args.data_dir)
    settings = Settings.load(root)
    folders = existing_folders(args.folders)
    if args.port is not None and not 0 <= args.port <= 65535:
        raise UsageError("--port must be between 0 and 65535")
    inbox = _inbox(args.inbox, args.allow_saves, settings.inbox_folder)
    if settings.add_folders(folders):
        settings.save(root)
    chosen = inbox or (Path(settings.inbox_folder) if settings.inbox_folder else None)
    problem = inbox_problem(settings, chosen, (sample_notes_dir(),)) if chosen is not None else None
    if problem is not None:  # review of #18, finding 9: never saves that are not searchable
        raise UsageError(problem.replace("in Notewell's Settings (Saving notes)", "with --inbox DIR"))
    if not settings.folders:
        print(f"No notes folders yet: serving the sample notes in {sample_notes_dir()}.")
        print("Add yours with `notewell serve ~/path/to/notes`.")
    public = args.public_url or settings.public_url
    options = RuntimeOptions(
        host=args.host, port=args.port, share=args.tunnel == "ngrok" or bool(public),
        tunnel="ngrok" if args.tunnel == "ngrok" else None, public_url=args.public_url,
        ngrok_domain=args.ngrok_domain, ngrok_path=args.ngrok_path, chroma_url=args.chroma_url,
        fallback_folders=(sample_notes_dir(),), inbox=inbox, allow_saves=args.allow_saves, headless=True,
    )
    prefs = Preferences(settings, root)
    console = ConsoleReport(api_config(settings).manifest)
    runtime = Runtime(prefs, options, console)
    console.set_locations(runtime.tokens.location, str(runtime.activity.path))
    console.saving = _saving_line(runtime.inbox(), args.allow_saves or not settings.ask_before_saving)
    stopped = _stop_on_signals(runtime)

    def preparing() -> bool:
        index = runtime.indexing.index
        return index is not None and index.model_preparing()

    try:
        # Serve first: keyword search answers as soon as a note is read, and dense
        # search as soon as it is embedded, so a big first index never blocks the API.
        with terminal_progress(preparing=preparing) as progress:
            console.progress = progress
            runtime.start()
            while not (stopped.is_set() or console.server_failed.is_set() or console.first_sync_done.is_set()):
                stopped.wait(0.2)
            console.progress = lambda p: None
        while not (stopped.is_set() or console.server_failed.is_set()):
            stopped.wait(0.5)
    finally:
        runtime.close()
    if console.server_failed.is_set():
        raise ServeError(console.failure)
    leave(0)


def _inbox(given: str | None, allow_saves: bool, setting: str) -> Path | None:
    """`--inbox DIR`, made if missing; `--allow-saves` only makes sense with an inbox."""
    from notewell.app.cli import UsageError

    if given is None:
        if allow_saves and not setting:
            raise UsageError("--allow-saves needs an inbox folder: add --inbox DIR")
        return None
    folder = Path(given).expanduser().resolve()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(
            f"Cannot use {folder} as the inbox: {exc.strerror}. Choose a folder you can write to.") from exc
    if not folder.is_dir():
        raise UsageError(f"{folder} is not a folder: --inbox needs a folder.")
    return folder


def _saving_line(inbox: Path | None, allowed: bool) -> str:
    if inbox is None:
        return ""
    if allowed:
        return (f"saving: assistants may save new notes into {inbox} without asking; outside the notes "
                "folders, only the notes saved there are searchable")
    return (f"saving: the inbox is {inbox}, but saves are refused: nobody can be asked without the app, "
            "and it is not indexed. Add --allow-saves to let assistants save without asking.")


class ServeError(Exception):
    """The local server could not start (the message says why and what to do)."""


def _stop_on_signals(runtime: Any) -> threading.Event:
    """Ctrl+C and SIGTERM stop serving; a second press leaves at once."""
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
        print("Stopping… (press Ctrl+C again to quit at once)", flush=True)
        runtime.indexing.worker.cancel()  # a running sync ends at its next file or batch
        stopped.set()

    threading.Thread(target=stop_on_signal, name="notewell-signals", daemon=True).start()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, on_signal)
    return stopped
