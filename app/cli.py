"""`notewell` command line: parse, dispatch, and turn errors into one line.

Each command lives in `app/commands/<name>.py` and exposes
`add_parser(subparsers) -> argparse.ArgumentParser` and `run(args) -> int`.
Heavy libraries are imported inside `run`, so `notewell --help` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from pathlib import Path
from typing import ContextManager, Sequence

from notewell.plugin_api.printable import EscapingFormatter  # log lines may quote a request

COMMANDS = ("gui", "index", "search", "serve", "connect", "token", "clients", "activity", "eval", "doctor")


class UsageError(Exception):
    """Bad usage detected after parsing (exit code 2)."""


def existing_folders(arguments: Sequence[str]) -> list[Path]:
    """FOLDER arguments as absolute paths; a path that is not a folder is bad usage."""
    folders = [Path(f).expanduser().resolve() for f in arguments]
    for folder in folders:
        if not folder.is_dir():
            raise UsageError(f"{folder} is not a folder")
    return folders


def add_common_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", metavar="DIR", help="where Notewell keeps its index and settings")
    parser.add_argument("--chroma-url", metavar="URL", help="keep vectors on this Chroma server")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")


def installed_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("notewell")
    except PackageNotFoundError:  # pragma: no cover - run from a checkout that was never installed
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="notewell",
        description="Let an AI assistant search your own notes, privately, from your own computer.",
    )
    parser.add_argument("--version", action="version", version=f"notewell {installed_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"notewell.app.commands.{name}")
        command_parser = module.add_parser(sub)
        add_common_options(command_parser)
        command_parser.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version")):
        argv = ["gui", *argv]  # `notewell` alone opens the desktop app
    args = parser.parse_args(argv)
    # Our own one-line handler first: libraries that call logging.basicConfig (the MCP
    # SDK does) then leave the terminal alone.
    console = logging.StreamHandler()
    console.setFormatter(EscapingFormatter("notewell: %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING, handlers=[console])
    try:
        with _private_files(args):
            return int(args._run(args) or 0)
    except UsageError as exc:
        parser.exit(2, f"notewell: error: {exc}\n")
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130
    except Exception as exc:  # the one place every failure becomes one line
        if args.debug:
            raise
        print(f"notewell: {_describe(exc)}", file=sys.stderr)
        return 1
    return 0


def _private_files(args: argparse.Namespace) -> ContextManager[None]:
    """Every command's files are private (umask 077) and so is the data folder (issue 15)."""
    from notewell.app.paths import data_dir, private_files

    return private_files(data_dir(args.data_dir))


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
