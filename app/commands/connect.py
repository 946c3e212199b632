"""`notewell connect [CLIENT] [--json]`: what to paste into an assistant, and the steps."""

from __future__ import annotations

import argparse
import sys

from notewell.app.connect_help import CLIENTS


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = sub.add_parser("connect", help="show what to paste into an assistant (ChatGPT, Claude, Cursor, …)")
    parser.add_argument("client", nargs="?", choices=CLIENTS, metavar="CLIENT",
                        help=f"one of {', '.join(CLIENTS)}; all of them when left out")
    parser.add_argument("--json", action="store_true", help="print only that client's config, ready to paste")
    return parser


def run(args: argparse.Namespace) -> int:
    from notewell.app.cli import UsageError
    from notewell.app.connect_help import addresses_for, guide, guides
    from notewell.app.paths import data_dir
    from notewell.app.secrets import open_token_store
    from notewell.app.settings import Settings

    root = data_dir(args.data_dir)
    settings = Settings.load(root)
    token = open_token_store(root).get()
    addresses = addresses_for(settings)
    if args.json:
        if args.client is None:
            raise UsageError(f"--json prints one client's config: name one of {', '.join(CLIENTS)}")
        print(guide(args.client, addresses, token, "cli").config)
        return 0
    chosen = [guide(args.client, addresses, token, "cli")] if args.client else guides(addresses, token, "cli")
    for number, card in enumerate(chosen):
        if number:
            print()
        print(f"== {card.name} ({card.key}) ==")
        print(card.summary)
        for step, text in enumerate(card.steps, 1):
            print(f"  {step}. {text}")
        for paste in card.pastes:
            if "\n" in paste.text:
                print(f"{paste.label}:")
                print(paste.text)
            else:
                print(f"{paste.label}: {paste.text}")
    if not addresses.public and any(card.needs_public for card in chosen):
        print("\nNo public URL is set: the ChatGPT addresses above hold a placeholder until you share "
              "(`notewell serve --tunnel ngrok --ngrok-domain YOUR-DOMAIN`, or set one in the app's "
              "Settings → Sharing).", file=sys.stderr)
    if any(token in paste.text for card in chosen for paste in card.pastes):
        print("\nThe API key is printed above: keep it secret (`notewell token --rotate` replaces it).",
              file=sys.stderr)
    return 0
