"""The main window: one tab per task, a status bar, and close-to-tray."""

from __future__ import annotations

from PySide6.QtGui import QCloseEvent, QIcon
from PySide6.QtWidgets import QLabel, QMainWindow, QTabWidget, QWidget

from .bridge import Bridge

TAB_NAMES = ("Folders", "Connect", "Search", "Activity", "Settings")


class MainWindow(QMainWindow):
    def __init__(self, bridge: Bridge, tabs: dict[str, QWidget], icon: QIcon, hide_on_close: bool) -> None:
        super().__init__()
        self.setWindowTitle("Notewell")
        self.setWindowIcon(icon)
        self.resize(880, 600)
        self.hide_on_close = hide_on_close
        self.tabs = QTabWidget()
        for name, widget in tabs.items():
            self.tabs.addTab(widget, name)
        self.setCentralWidget(self.tabs)
        self.state_label = QLabel("Starting…")
        self.statusBar().addWidget(self.state_label, 1)
        bridge.index_state_changed.connect(self._on_index_state)

    def show_tab(self, name: str) -> None:
        for n in range(self.tabs.count()):
            if self.tabs.tabText(n) == name:
                self.tabs.setCurrentIndex(n)

    def bring_to_front(self) -> None:
        self.show()
        self.setWindowState(self.windowState() & ~self.windowState().WindowMinimized)
        self.raise_()
        self.activateWindow()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.hide_on_close:
            event.ignore()
            self.hide()
        else:
            event.accept()

    def _on_index_state(self, state: str, message: str) -> None:
        self.state_label.setText(message)
