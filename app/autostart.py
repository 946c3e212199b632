"""Notewell in the Linux desktop, the freedesktop way.

`install_desktop_entry()` puts `notewell.desktop` in `$XDG_DATA_HOME/applications`
and the icon in the hicolor theme, so Notewell is in the application menu; the GUI
calls it at every start (it rewrites nothing that is current). `set_autostart()`
writes the same entry to `$XDG_CONFIG_HOME/autostart`. Both launch the `notewell`
that is running now, wherever it was installed (a venv, pipx, site-packages).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

DESKTOP_FILE = "notewell.desktop"
ICON_NAME = "notewell"
ICON_SIZES = (64, 256, 512)


def _xdg(variable: str, default: str) -> Path:
    value = os.environ.get(variable)
    return Path(value) if value and os.path.isabs(value) else Path.home() / default


def applications_path() -> Path:
    return _xdg("XDG_DATA_HOME", ".local/share") / "applications" / DESKTOP_FILE


def icon_path(size: int) -> Path:
    return _xdg("XDG_DATA_HOME", ".local/share") / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{ICON_NAME}.png"


def autostart_path() -> Path:
    return _xdg("XDG_CONFIG_HOME", ".config") / "autostart" / DESKTOP_FILE


def launch_command(data_dir: Path | None = None) -> str:
    """The command line that starts this installation's desktop app."""
    script = Path(sys.executable).with_name("notewell")
    command = [str(script)] if script.is_file() else [sys.executable, "-m", "notewell.app"]
    command.append("gui")
    if data_dir is not None:
        command += ["--data-dir", str(data_dir)]
    # The Exec key's own quoting: arguments with spaces in double quotes.
    return " ".join(_exec_quote(part) for part in command)


def _exec_quote(part: str) -> str:
    if not any(c in part for c in ' \t\n"\'\\><~|&;$*?#()`'):
        return part
    return '"' + "".join("\\" + c if c in '"`$\\' else c for c in part) + '"'


def desktop_entry(data_dir: Path | None = None, *, autostart: bool = False) -> str:
    lines = [
        "[Desktop Entry]",
        "Type=Application",
        "Version=1.5",
        "Name=Notewell",
        "GenericName=Notes search for AI assistants",
        "Comment=Let an AI assistant search your own notes, privately, from your own computer",
        f"Exec={launch_command(data_dir)}",
        f"Icon={ICON_NAME}",
        "Terminal=false",
        "Categories=Utility;Office;",
        "Keywords=notes;search;assistant;ChatGPT;Claude;MCP;Obsidian;",
        "StartupNotify=true",
        "StartupWMClass=notewell",
    ]
    if autostart:
        lines.append("X-GNOME-Autostart-enabled=true")
    return "\n".join(lines) + "\n"


def _write_if_changed(path: Path, data: bytes) -> bool:
    try:
        if path.read_bytes() == data:
            return False
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return True


def install_desktop_entry(data_dir: Path | None = None) -> bool:
    """Put Notewell in the application menu (entry + icons); True if anything was written."""
    from notewell.assets import asset_path

    changed = False
    for size in ICON_SIZES:
        source = asset_path("logo.png" if size == 512 else "notewell.png" if size == 256 else "tray-idle.png")
        changed |= _write_if_changed(icon_path(size), source.read_bytes())
    entry = applications_path()
    changed |= _write_if_changed(entry, desktop_entry(data_dir).encode())
    if changed and shutil.which("update-desktop-database"):
        subprocess.run(["update-desktop-database", str(entry.parent)], check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10)
    return changed


def remove_desktop_entry() -> list[Path]:
    """Take Notewell out of the application menu and the login items; returns what was removed."""
    removed = []
    for path in [applications_path(), autostart_path(), *(icon_path(size) for size in ICON_SIZES)]:
        if path.exists():
            path.unlink()
            removed.append(path)
    return removed


def set_autostart(enabled: bool, data_dir: Path | None = None) -> Path:
    """Create or remove the autostart entry; returns its path."""
    path = autostart_path()
    if not enabled:
        path.unlink(missing_ok=True)
        return path
    _write_if_changed(path, desktop_entry(data_dir, autostart=True).encode())
    return path


def autostart_enabled() -> bool:
    return autostart_path().exists()


def is_default_data_dir(data_dir: Path) -> bool:
    """Whether `data_dir` is where Notewell looks without options (the entry then names none)."""
    from .paths import data_dir as default

    return default(None) == data_dir and not os.environ.get("NOTEWELL_DATA_DIR")

