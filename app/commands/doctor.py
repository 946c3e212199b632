"""`notewell doctor [--repair]`: check that the index matches the notes on disk, and fix it."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from notewell.app.settings import Settings


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "doctor",
        help="check that the index matches your notes on disk (and fix it with --repair)",
        description="Check that every indexed note exists with the recorded size and time, every passage has "
        "its vector and keyword entry, and nothing is orphaned. Stop `notewell serve` and the app before --repair.",
    )
    parser.add_argument("--repair", action="store_true", help="fix what is found, then check again")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser


def run(args: argparse.Namespace) -> int:
    from notewell.app.paths import data_dir
    from notewell.app.services import open_index
    from notewell.app.settings import Settings
    from notewell.indexer import doctor
    from notewell.indexer.data_lock import DataFolderLock

    root = data_dir(args.data_dir)
    settings = Settings.load(root)
    # A repair writes the index: not beside the app or `serve` (a check only reads).
    lock = DataFolderLock.acquire(root, "notewell doctor --repair") if args.repair else None
    index = open_index(settings, root, chroma_url=args.chroma_url, writing=bool(args.repair))
    try:
        folders = [Path(f) for f in settings.folders] or None
        if args.repair:
            result = doctor.repair(index, folders)
            found, report = result.found, result.remaining
        else:
            found = report = doctor.check(index, folders)
        model = index.embedder.name
    finally:
        index.close()
        if lock is not None:
            lock.release()
    if args.json:
        out: dict[str, object] = {"report": report.to_dict(), "model": model}
        if args.repair:
            out["found"] = found.to_dict()
        print(json.dumps(out, ensure_ascii=False, indent=2))
    else:
        if args.repair and not found.ok:
            print("Found:")
            for line in found.lines():
                print(f"  {line}")
            print("After repair:")
        for line in report.lines():
            print(f"  {line}" if args.repair and not found.ok else line)
        print(_model_line(settings, model, folders or []))
    if report.ok:
        return 0
    hint = "" if args.repair else "; run `notewell doctor --repair` to fix them"
    count = len(report.problems)
    print(f"notewell: {count} problem{'s' if count != 1 else ''} in the index{hint}", file=sys.stderr)
    return 1


def _model_line(settings: Settings, model: str, folders: list[Path]) -> str:
    """Which model embeds the notes and, with "auto", what in the notes decided it."""
    from notewell.app.services import model_choice

    choice = model_choice(settings, model, folders)
    line = f"Model: {choice.model}" + (f" ({model})" if model != choice.model else "")
    return line + (f"; chosen by auto: {choice.why}" if choice.mix is not None else "")
