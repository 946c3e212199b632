"""`notewell index FOLDER...`: add folders and bring the index up to date."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from notewell.app.settings import Settings
    from notewell.indexer.notes_index import NotesIndex


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = sub.add_parser("index", help="add folders to Notewell and bring the index up to date")
    parser.add_argument("folders", nargs="*", metavar="FOLDER", help="notes folders to add")
    return parser


def run(args: argparse.Namespace) -> int:
    from notewell.app.cli import UsageError, existing_folders
    from notewell.app.paths import data_dir
    from notewell.app.settings import Settings
    from notewell.indexer.data_lock import DataFolderLock

    root = data_dir(args.data_dir)
    lock = DataFolderLock.acquire(root, "notewell index")  # not beside the app or `serve`
    try:
        settings = Settings.load(root)
        folders = existing_folders(args.folders)
        if settings.add_folders(folders):
            settings.save(root)
        if not settings.folders:
            raise UsageError("no notes folders yet: run `notewell index ~/path/to/notes`")
        return _index(args, root, settings)
    finally:
        lock.release()


def _index(args: argparse.Namespace, root: Path, settings: Settings) -> int:
    from notewell.app.progress import terminal_progress
    from notewell.app.services import open_index

    index = open_index(settings, root, chroma_url=args.chroma_url)
    index.prepare_search()  # the model's first-run preparation overlaps the scan
    try:
        with terminal_progress(preparing=index.model_preparing) as progress:
            summary = index.sync_only([Path(f) for f in settings.folders], progress)
            if index.catalog.has_vectors() and not index.searches_by_meaning():
                # Nothing new to embed, but an upgrade left the model unprepared: searches
                # would fall back to keywords until it is (#14 review). Said only when the
                # one-time preparation really runs, not while a prepared model just loads.
                if not _ready_within(index, 5.0):  # a prepared model only loads: a second or two
                    print("Preparing the embedding model (first run after an upgrade, about a minute)…",
                          file=sys.stderr)
                index.prepare_search(wait=True)
    finally:
        index.close()
    print(summary.line())
    return 0


def _ready_within(index: NotesIndex, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not index.searches_by_meaning():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True
