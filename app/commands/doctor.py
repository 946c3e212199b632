"""`notewell doctor [--repair]`: check that the index matches the notes on disk, and fix it."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


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
    finally:
        index.close()
        if lock is not None:
            lock.release()
    if args.json:
        out: dict[str, object] = {"report": report.to_dict()}
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
    if report.ok:
        return 0
    hint = "" if args.repair else "; run `notewell doctor --repair` to fix them"
    print(f"notewell: {len(report.problems)} problems in the index{hint}", file=sys.stderr)
    return 1
