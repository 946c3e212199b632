"""The main window: a status header, one tab per task, a Quit menu, and close-to-tray."""

from __future__ import annotations

from PySide6.QtCore import QSize, Signal
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication, QIcon, QKeySequence, QShowEvent
from PySide6.QtWidgets import QMainWindow, QStackedWidget, QTabWidget, QTreeView, QVBoxLayout, QWidget

from .bridge import Bridge
from .status_header import StatusHeader

TAB_NAMES = ("Folders", "Connect", "Search", "Activity", "Settings")
PAGE_MARGIN = 12
MINIMUM_SIZE = QSize(720, 480)  # fits 1920×1080 at 200% (960×540) with a panel and title bar
START_SIZE = QSize(1040, 700)


class MainWindow(QMainWindow):
    hidden_to_tray = Signal()  # closed while a tray icon keeps the app running
    quit_requested = Signal()

    def __init__(self, bridge: Bridge, tabs: dict[str, QWidget], icon: QIcon, hide_on_close: bool) -> None:
        super().__init__()
        self.setWindowTitle("Notewell")
        self.setWindowIcon(icon)
        screen = self.screen() or QGuiApplication.primaryScreen()
        room = screen.availableGeometry().size() * 0.92 if screen is not None else START_SIZE
        self.resize(START_SIZE.boundedTo(room).expandedTo(MINIMUM_SIZE))
        self.setMinimumSize(MINIMUM_SIZE)
        self.hide_on_close = hide_on_close
        self.quitting = False  # set by Quit: closing then really closes
        self._laid_out = False
        self.tabs = QTabWidget()
        for name, widget in tabs.items():
            self.tabs.addTab(widget, name)
        self.tabs.setDocumentMode(True)
        pages = self.tabs.findChild(QStackedWidget)
        if pages is not None:  # breathing room around every tab's page
            pages.setContentsMargins(PAGE_MARGIN, PAGE_MARGIN - 4, PAGE_MARGIN, PAGE_MARGIN - 4)
        self.header = StatusHeader(bridge)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.header)
        layout.addWidget(self.tabs, 1)
        self.setCentralWidget(central)
        menu = self.menuBar().addMenu("&Notewell")
        close = QAction("&Close window", self)
        close.setShortcut(QKeySequence.StandardKey.Close)
        close.triggered.connect(self.close)
        self.quit_action = QAction("&Quit Notewell", self)
        self.quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        self.quit_action.triggered.connect(self.quit_requested.emit)
        menu.addAction(close)
        menu.addSeparator()
        menu.addAction(self.quit_action)

    def show_tab(self, name: str) -> None:
        for n in range(self.tabs.count()):
            if self.tabs.tabText(n) == name:
                self.tabs.setCurrentIndex(n)

    def bring_to_front(self) -> None:
        self.show()
        self.setWindowState(self.windowState() & ~self.windowState().WindowMinimized)
        self.raise_()
        self.activateWindow()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._laid_out:  # rows filled before the theme polished the views take its row height
            self._laid_out = True
            for view in self.findChildren(QTreeView):
                view.doItemsLayout()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.hide_on_close and not self.quitting:
            event.ignore()
            self.hide()
            self.hidden_to_tray.emit()
        else:
            event.accept()
