"""`notewell gui`: the desktop app; without a display, the headless server instead."""

from __future__ import annotations

import argparse
import ctypes
import os
import sys
import time

# What Qt's xcb platform plugin loads beyond a bare Debian (apt package → library).
XCB_LIBRARIES = {
    "libxcb-cursor0": "libxcb-cursor.so.0",
    "libxcb-icccm4": "libxcb-icccm.so.4",
    "libxcb-keysyms1": "libxcb-keysyms.so.1",
    "libxcb-image0": "libxcb-image.so.0",
    "libxcb-randr0": "libxcb-randr.so.0",
    "libxcb-render-util0": "libxcb-render-util.so.0",
    "libxcb-shape0": "libxcb-shape.so.0",
    "libxcb-xkb1": "libxcb-xkb.so.1",
    "libxkbcommon-x11-0": "libxkbcommon-x11.so.0",
    "libx11-xcb1": "libX11-xcb.so.1",
    "libegl1": "libEGL.so.1",
    "libgl1": "libGL.so.1",
    "libfontconfig1": "libfontconfig.so.1",
    "libdbus-1-3": "libdbus-1.so.3",
}


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = sub.add_parser("gui", help="open the desktop app (the default)")
    parser.add_argument("--remove-desktop-entry", action="store_true",
                        help="take Notewell out of the application menu and the login items, then exit")
    return parser


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    from notewell.app.paths import data_dir

    if getattr(args, "remove_desktop_entry", False):
        from notewell.app.autostart import remove_desktop_entry

        removed = remove_desktop_entry()
        print("\n".join(f"Removed {path}" for path in removed) or "Notewell was not in the application menu.")
        return 0

    if not display_available():
        return _headless(args, "No display found")
    missing = missing_libraries() if _uses_xcb() else []
    if missing:
        print(
            "The desktop app needs system libraries: sudo apt-get install " + " ".join(missing),
            file=sys.stderr,
        )
        return _headless(args, "Meanwhile")
    try:
        from notewell.app.gui.app import run_gui
    except ImportError as exc:
        print(f"The desktop app cannot load Qt ({exc}); see README for the system packages.", file=sys.stderr)
        return _headless(args, "Meanwhile")
    from notewell.app.leaving import leave

    leave(run_gui(data_dir(args.data_dir), started))


def display_available() -> bool:
    if sys.platform in ("darwin", "win32"):
        return True
    return any(os.environ.get(name) for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"))


def _uses_xcb() -> bool:
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if platform:
        return platform.startswith("xcb")
    return sys.platform.startswith("linux") and not os.environ.get("WAYLAND_DISPLAY")


def missing_libraries() -> list[str]:
    """apt packages whose library cannot be loaded (Qt would abort the process without them)."""
    missing = []
    for package, library in XCB_LIBRARIES.items():
        try:
            ctypes.CDLL(library)
        except OSError:
            missing.append(package)
    return missing


def _headless(args: argparse.Namespace, reason: str) -> int:
    from notewell.app.commands import serve
    from notewell.app.paths import data_dir
    from notewell.app.settings import Settings

    has_folders = bool(Settings.load(data_dir(args.data_dir)).folders)
    what = "your notes folders" if has_folders else "the sample notes"
    print(f"{reason}: starting the headless server on {what} instead (notewell serve)", flush=True)
    serve_args = argparse.Namespace(
        folders=[], host=None, port=None, tunnel="none", ngrok_path=None, ngrok_domain=None,
        public_url=None, data_dir=args.data_dir, chroma_url=args.chroma_url, debug=args.debug,
    )
    return serve.run(serve_args)
