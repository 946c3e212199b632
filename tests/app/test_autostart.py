from __future__ import annotations

import configparser
import os
import subprocess
import sys
from pathlib import Path

from notewell.app.autostart import (
    applications_path,
    autostart_enabled,
    autostart_path,
    icon_path,
    install_desktop_entry,
    launch_command,
    remove_desktop_entry,
    set_autostart,
)


def _entry(path: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(path.read_text(encoding="utf-8"))
    return parser["Desktop Entry"]


def test_autostart_entry_is_written_and_removed(isolated_home, tmp_path):
    path = set_autostart(True, tmp_path / "my data")
    assert path == autostart_path() and path.parent.name == "autostart"
    entry = _entry(path)
    assert entry["Type"] == "Application" and entry["Icon"] == "notewell"
    assert entry["Exec"].endswith(f'gui --data-dir "{tmp_path / "my data"}"')
    assert autostart_enabled()
    set_autostart(False)
    assert not autostart_enabled()


def test_the_app_menu_entry_and_icons_are_installed_the_freedesktop_way(isolated_home):
    assert install_desktop_entry() is True
    entry = _entry(applications_path())
    assert applications_path() == isolated_home / ".local/share/applications/notewell.desktop"
    assert entry["Name"] == "Notewell" and "Utility" in entry["Categories"].split(";")
    assert "--data-dir" not in entry["Exec"]
    for size in (64, 256, 512):
        icon = icon_path(size)
        assert icon == isolated_home / f".local/share/icons/hicolor/{size}x{size}/apps/notewell.png"
        assert icon.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert install_desktop_entry() is False  # nothing to rewrite at the next start
    set_autostart(True)
    removed = remove_desktop_entry()
    assert applications_path() in removed and autostart_path() in removed
    assert not applications_path().exists() and not icon_path(256).exists() and not autostart_enabled()


def test_the_entry_launches_this_installation(isolated_home, tmp_path):
    """The Exec line runs the notewell that is installed now, from any folder."""
    command = launch_command(tmp_path / "data")
    argv = [part.strip('"') for part in command.split(" ")]
    assert argv[-3:] == ["gui", "--data-dir", str(tmp_path / "data")]
    probe = [*argv[:-3], "--version"]
    done = subprocess.run(probe, capture_output=True, text=True, cwd="/", timeout=60,
                          env={**os.environ, "PYTHONPATH": ""})
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("notewell ")
    assert Path(argv[0]).parent == Path(sys.executable).parent


def test_notewell_gui_remove_desktop_entry_takes_it_out_of_the_menu(isolated_home, capsys):
    from notewell.app import cli

    install_desktop_entry()
    set_autostart(True)
    assert cli.main(["gui", "--remove-desktop-entry"]) == 0
    assert not applications_path().exists() and not autostart_enabled() and not icon_path(64).exists()
    assert "Removed" in capsys.readouterr().out
