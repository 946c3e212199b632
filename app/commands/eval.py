"""`notewell eval` (being built)."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    return sub.add_parser("eval", help="(not available yet)")


def run(args: argparse.Namespace) -> int:
    raise RuntimeError("notewell eval is not available yet")
