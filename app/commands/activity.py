"""`notewell activity [--json] [--since WHEN]`: what each assistant searched and read."""

from __future__ import annotations

import argparse
import json
import re
from datetime import datetime, timedelta, timezone

_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "activity", help="what each assistant searched and read (kept 90 days); refused traffic as counts")
    parser.add_argument("--json", action="store_true", help='print {"reads": [...], "refused": [...]}')
    parser.add_argument("--since", metavar="WHEN",
                        help="only from then on: 2024-05-31, 2024-05-31T09:00, or 30m, 12h, 7d, 2w ago")
    return parser


def run(args: argparse.Namespace) -> int:
    from notewell.app.paths import data_dir
    from notewell.plugin_api.activity import ActivityLog

    since = parse_since(args.since) if args.since else None
    log = ActivityLog.open(data_dir(args.data_dir))
    try:
        reads, refused = log.reads(since), log.refused(since)
    finally:
        log.close()
    if args.json:
        print(json.dumps({"reads": [e.to_dict() for e in reads], "refused": [c.to_dict() for c in refused]},
                         ensure_ascii=False, indent=2))
        return 0
    for line in report(reads, refused):
        print(line)
    return 0


def parse_since(when: str, now: datetime | None = None) -> float:
    """`WHEN` as seconds since the epoch: an ISO date or date-time (local time), or an age."""
    from notewell.app.cli import UsageError

    now = now or datetime.now(timezone.utc)
    age = re.fullmatch(r"\s*(\d+)\s*([mhdw])\s*", when.lower())
    if age:
        return (now - timedelta(seconds=int(age.group(1)) * _UNITS[age.group(2)])).timestamp()
    try:
        moment = datetime.fromisoformat(when.strip())
    except ValueError:
        raise UsageError(f"--since {when!r} is not a date or an age; try 2024-05-31, 2024-05-31T09:00, "
                         "12h or 7d") from None
    return (moment if moment.tzinfo else moment.astimezone()).timestamp()


def report(reads: list, refused: list) -> list[str]:  # type: ignore[type-arg]
    from notewell.plugin_api.printable import printable

    if not reads and not refused:
        return ["No assistant has searched or read anything in this time."]
    lines = [f"{_local(e.time)}  {printable(e.client, 60)} ({e.source})  {printable(_what(e), 300)}" for e in reads]
    if refused:
        lines.append("Refused (counted per source, not kept one by one):")
        lines += [f"  {c.source}  {c.reason} ×{c.count}  (last {_local_ts(c.last_seen)})" for c in refused]
    return lines


def _what(entry) -> str:  # type: ignore[no-untyped-def]
    from notewell.plugin_api.activity import SAVE_ENDPOINTS

    found = f" → {', '.join(entry.titles)}" if entry.titles else ""
    title = entry.titles[0] if entry.titles else ""
    if entry.saved_path:
        return f'saved "{title}" → {entry.saved_path}'
    if entry.endpoint in SAVE_ENDPOINTS:
        return f'did not save "{title}" ({entry.status} {entry.outcome})'
    if entry.queries:
        return "searched " + "; ".join(f'"{q}"' for q in entry.queries) + found
    if entry.titles:
        return f'read "{entry.titles[0]}"'
    status = "" if entry.status < 400 else f" ({entry.status} {entry.outcome})"
    return f"{entry.method} {entry.endpoint}{status}"


def _local(iso: str) -> str:
    try:
        return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return iso


def _local_ts(at: float) -> str:
    return datetime.fromtimestamp(at).strftime("%Y-%m-%d %H:%M:%S")
