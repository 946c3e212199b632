"""`notewell token [--rotate]`: print or replace the API token."""

from __future__ import annotations

import argparse
import sys


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = sub.add_parser("token", help="print (or replace) the API token assistants use")
    parser.add_argument(
        "--rotate",
        action="store_true",
        help="replace the token; assistants holding the old one are refused from then on",
    )
    return parser


def run(args: argparse.Namespace) -> int:
    from notewell.app.paths import data_dir
    from notewell.app.secrets import open_token_store

    store = open_token_store(data_dir(args.data_dir))
    if args.rotate:
        token = store.rotate()
        print(token)
        print(
            f"New token stored in {store.location}. A running server uses it at once; "
            "paste it into the assistant's settings (plugin or GPT Action authentication).",
            file=sys.stderr,
        )
        return 0
    print(store.get())
    print(f"Stored in {store.location}.", file=sys.stderr)
    return 0
