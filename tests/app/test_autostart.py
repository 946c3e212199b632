from __future__ import annotations

from app.autostart import autostart_enabled, autostart_path, set_autostart


def test_autostart_entry_is_written_and_removed(isolated_home, tmp_path):
    path = set_autostart(True, tmp_path / "data")
    assert path == autostart_path() and path.parent.name == "autostart"
    text = path.read_text()
    assert text.startswith("[Desktop Entry]\n") and "Type=Application" in text
    assert "-m app gui --data-dir" in text
    assert autostart_enabled()
    set_autostart(False)
    assert not autostart_enabled()
