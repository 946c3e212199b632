"""`notewell gui` without a display runs the headless server (README's first command)."""

from __future__ import annotations

import argparse

import pytest

from notewell.app.commands import gui, serve
from notewell.app.settings import Settings


@pytest.fixture
def no_display(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)


def run_gui(tmp_path, monkeypatch) -> argparse.Namespace:
    served: list[argparse.Namespace] = []
    monkeypatch.setattr(serve, "run", lambda args: served.append(args) or 0)
    args = argparse.Namespace(data_dir=str(tmp_path), chroma_url=None, debug=False)
    assert gui.run(args) == 0
    return served[0]


def test_no_display_serves_the_sample_notes(no_display, tmp_path, monkeypatch, capsys):
    served = run_gui(tmp_path, monkeypatch)
    assert capsys.readouterr().out.strip() == (
        "No display found: starting the headless server on the sample notes instead (notewell serve)"
    )
    assert served.folders == [] and served.data_dir == str(tmp_path) and served.tunnel == "none"


def test_no_display_serves_the_users_folders(no_display, tmp_path, monkeypatch, capsys):
    settings = Settings()
    settings.add_folders([tmp_path])
    settings.save(tmp_path)
    run_gui(tmp_path, monkeypatch)
    assert "on your notes folders instead" in capsys.readouterr().out


def test_display_detection(monkeypatch):
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    assert not gui.display_available()
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    assert gui.display_available()
