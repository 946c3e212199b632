"""`notewell gui`: the desktop app."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    return sub.add_parser("gui", help="open the desktop app (the default)")


def run(args: argparse.Namespace) -> int:
    raise RuntimeError("The desktop app is not built yet: use `notewell serve` or `notewell index`.")
