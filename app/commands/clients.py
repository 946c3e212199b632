"""`notewell clients [--revoke ID]`: the assistants allowed through OAuth, and revoking one."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = sub.add_parser("clients", help="list (or revoke) assistants connected through OAuth")
    parser.add_argument("--revoke", metavar="ID", help="revoke this client's access (an ID from the list)")
    return parser


def run(args: argparse.Namespace) -> int:
    from notewell.app.cli import UsageError
    from notewell.app.paths import data_dir
    from notewell.plugin_api.oauth_store import FILE_NAME, OAuthStore

    store = OAuthStore.open(data_dir(args.data_dir) / FILE_NAME)
    if args.revoke:
        if not store.revoke(args.revoke):
            raise UsageError(f"No connected client has the ID {args.revoke}; `notewell clients` lists them.")
        print(f"Revoked {args.revoke}: its tokens are refused from now on, even by a running server.")
        return 0
    grants = store.grants()
    if not grants:
        print("No assistant is connected through OAuth.", file=sys.stderr)
    for grant in grants:
        used = _when(grant.last_used_at) if grant.last_used_at else "-"
        print(f"{grant.id}  {grant.client_name} ({grant.redirect_host})  allowed {_when(grant.created_at)}"
              f"  last used {used}")
    return 0


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M")
