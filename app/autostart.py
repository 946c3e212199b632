"""Start Notewell at login: an XDG autostart entry on Linux (~/.config/autostart)."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

DESKTOP_FILE = "notewell.desktop"


def autostart_path() -> Path:
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "autostart" / DESKTOP_FILE


def launch_command(data_dir: Path | None = None) -> str:
    command = [sys.executable, "-m", "app", "gui"]
    if data_dir is not None:
        command += ["--data-dir", str(data_dir)]
    return " ".join(shlex.quote(part) for part in command)


def set_autostart(enabled: bool, data_dir: Path | None = None, icon: Path | None = None) -> Path:
    """Create or remove the autostart entry; returns its path."""
    path = autostart_path()
    if not enabled:
        path.unlink(missing_ok=True)
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        "[Desktop Entry]",
        "Type=Application",
        "Name=Notewell",
        "Comment=Let an AI assistant search your own notes",
        f"Exec={launch_command(data_dir)}",
        f"Path={Path(__file__).resolve().parent.parent}",
        "Terminal=false",
        "X-GNOME-Autostart-enabled=true",
    ]
    if icon is not None:
        lines.append(f"Icon={icon}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def autostart_enabled() -> bool:
    return autostart_path().exists()
