"""Run by test_hidpi.py in its own process (QT_SCALE_FACTOR=2 must be set before Qt starts):
build the desktop on a 1920×1080 screen at 200 %, visit each tab, print what is cut."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from PySide6.QtWidgets import QAbstractButton, QApplication, QLabel

from notewell.app.gui.app import build_desktop
from notewell.app.gui.main_window import TAB_NAMES
from notewell.app.preferences import Preferences
from notewell.app.settings import Settings
from notewell.indexer.embedding import HashEmbedder


def main(config: str, data_dir: Path, notes: Path) -> None:
    app = QApplication(["notewell", "-platform", f"offscreen:configfile={config}"])
    settings = Settings.load(data_dir)
    settings.port = 0
    settings.add_folders([notes])
    settings.save(data_dir)
    desktop = build_desktop(Preferences(settings, data_dir), embedder=HashEmbedder(), tray_available=False,
                            watch=False, vectors_in_child=False)
    window = desktop.window
    window.show()
    app.processEvents()
    screen = window.screen()
    cut: list[str] = []
    checked = 0
    room = screen.availableGeometry()
    if not room.contains(window.geometry()):
        cut.append(f"window {window.geometry()} outside the screen {room}")
    for name in TAB_NAMES:
        window.show_tab(name)
        app.processEvents()
        for button in window.findChildren(QAbstractButton):
            checked += button.isVisibleTo(window)
            if button.isVisibleTo(window) and button.text() and button.width() < button.sizeHint().width():
                cut.append(f"{name}: button {button.text()!r} {button.width()} < {button.sizeHint().width()}")
        for label in window.findChildren(QLabel):
            if not label.isVisibleTo(window) or not label.text() or label.objectName() == "statusText":
                continue
            checked += 1
            if label.wordWrap():
                if label.height() < label.heightForWidth(label.width()):
                    cut.append(f"{name}: {label.text()[:30]!r} {label.height()} < {label.heightForWidth(label.width())}")
            elif label.width() < label.sizeHint().width():
                cut.append(f"{name}: {label.text()[:30]!r} {label.width()} < {label.sizeHint().width()}")
    print(json.dumps({"ratio": window.devicePixelRatio(), "screen": [room.width(), room.height()], "cut": cut, "checked": checked,
                      "header": window.header.text.text()}))
    desktop.shutdown()


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]))
