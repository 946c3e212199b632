"""The look: a light and a dark palette, one small stylesheet, and following the system.

Colours live in the palettes only; the stylesheet and the views refer to palette roles
(`palette(placeholder-text)` for captions, `palette(highlight)` for the accent), so every
view reads in both schemes. `apply_theme` runs once, where the app is composed, and then
follows the system's light/dark setting as it changes (issue 17).
"""

from __future__ import annotations

import os
from typing import Literal

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QStyleFactory, QWidget

Scheme = Literal["light", "dark"]
Choice = Literal["system", "light", "dark"]
THEME_ENV = "NOTEWELL_THEME"  # light, dark or system (the default)

TITLE_PT = 1.45  # page and card titles, relative to the body size
CAPTION_PT = 0.9  # hints and secondary lines
ROW_HEIGHT = 28  # px at scale 1: table and list rows

# Role -> (light, dark). Text colours clear 4.5:1 on Window and Base (tests/app/gui/test_theme.py).
_COLOURS: dict[QPalette.ColorRole, tuple[str, str]] = {
    QPalette.ColorRole.Window: ("#f5f6f8", "#1d1f23"),
    QPalette.ColorRole.WindowText: ("#1c2128", "#e4e6eb"),
    QPalette.ColorRole.Base: ("#ffffff", "#262930"),
    QPalette.ColorRole.AlternateBase: ("#f3f5f8", "#2c3038"),
    QPalette.ColorRole.Text: ("#1c2128", "#e4e6eb"),
    QPalette.ColorRole.PlaceholderText: ("#5b6472", "#a3aab6"),
    QPalette.ColorRole.Button: ("#ffffff", "#30343c"),
    QPalette.ColorRole.ButtonText: ("#1c2128", "#e4e6eb"),
    QPalette.ColorRole.BrightText: ("#ffffff", "#ffffff"),
    QPalette.ColorRole.Highlight: ("#3451c7", "#4665dc"),
    QPalette.ColorRole.HighlightedText: ("#ffffff", "#ffffff"),
    QPalette.ColorRole.Link: ("#2a4bc0", "#93aaff"),
    QPalette.ColorRole.LinkVisited: ("#6a3fb8", "#c0a4ff"),
    QPalette.ColorRole.ToolTipBase: ("#1c2128", "#e4e6eb"),
    QPalette.ColorRole.ToolTipText: ("#ffffff", "#1c2128"),
    QPalette.ColorRole.Light: ("#ffffff", "#3a3f48"),
    QPalette.ColorRole.Midlight: ("#e6e9ee", "#343840"),
    QPalette.ColorRole.Mid: ("#d2d7df", "#454a55"),
    QPalette.ColorRole.Dark: ("#a9b0bb", "#15171a"),
    QPalette.ColorRole.Shadow: ("#7d8590", "#000000"),
}
_DISABLED_TEXT = ("#8a929e", "#757c88")
# Colours with a meaning, per scheme: read them with `tint`, never as literals in a view.
_TINTS: dict[str, tuple[str, str]] = {
    "warning": ("#9a4a00", "#f2b45c"),  # text
    "refused": ("#fde2e2", "#4a2326"),  # a row's background (its text stays Text)
    "match": ("#ffe08a", "#6b5313"),  # a found passage's background in the note view
    "ok": ("#1a7f37", "#4cc26a"),  # the status header's dot
    "busy": ("#3451c7", "#93aaff"),
    "error": ("#c0262d", "#ff8a80"),
}


def palette(scheme: Scheme) -> QPalette:
    which = 0 if scheme == "light" else 1
    result = QPalette()
    for role, colours in _COLOURS.items():
        result.setColor(role, QColor(colours[which]))
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
        result.setColor(QPalette.ColorGroup.Disabled, role, QColor(_DISABLED_TEXT[which]))
    if hasattr(QPalette.ColorRole, "Accent"):  # Qt 6.6+
        result.setColor(QPalette.ColorRole.Accent, QColor(_COLOURS[QPalette.ColorRole.Highlight][which]))
    return result


def stylesheet(body_pt: float, scheme: Scheme = "light") -> str:
    """Spacing, type sizes and cards; colours as palette roles (and the scheme's warning tint)."""
    warning = _TINTS["warning"][0 if scheme == "light" else 1]
    title = round(body_pt * TITLE_PT, 1)
    caption = round(body_pt * CAPTION_PT, 1)
    return f"""
QTabWidget::tab-bar {{ left: 8px; }}
QTabWidget::pane {{ border: none; border-top: 1px solid palette(mid); top: -1px; }}
QTabBar::tab {{ padding: 8px 18px; margin-right: 2px; border: none; border-bottom: 2px solid transparent;
    background: transparent; color: palette(placeholder-text); }}
QTabBar::tab:selected {{ color: palette(window-text); border-bottom: 2px solid palette(highlight); font-weight: 600; }}
QTabBar::tab:hover:!selected {{ color: palette(window-text); }}
QGroupBox {{ background: palette(base); border: 1px solid palette(mid); border-radius: 8px;
    margin-top: 1.6em; padding: 10px 10px 8px 10px; font-weight: 600; }}
QGroupBox::title {{ subcontrol-origin: margin; subcontrol-position: top left; left: 6px; padding: 0 4px; }}
QGroupBox > QWidget {{ font-weight: normal; }}
QGroupBox QLabel, QGroupBox QCheckBox {{ font-weight: normal; }}
QPushButton {{ padding: 5px 14px; min-height: 1.3em; border: 1px solid palette(mid); border-radius: 6px;
    background: palette(button); color: palette(button-text); }}
QPushButton:hover {{ border-color: palette(highlight); }}
QPushButton:pressed {{ background: palette(midlight); }}
QPushButton:disabled {{ color: palette(placeholder-text); background: palette(window); }}
QPushButton:default, QPushButton[primary="true"] {{ background: palette(highlight);
    color: palette(highlighted-text); border-color: palette(highlight); }}
QPushButton:default:disabled, QPushButton[primary="true"]:disabled {{ background: palette(mid);
    border-color: palette(mid); color: palette(window-text); }}
QLineEdit, QPlainTextEdit, QTextBrowser {{
    border: 1px solid palette(mid); border-radius: 5px; padding: 4px 6px; background: palette(base); }}
QLineEdit:focus, QPlainTextEdit:focus {{ border-color: palette(highlight); }}
QScrollBar:vertical {{ width: 10px; background: transparent; margin: 2px; }}
QScrollBar:horizontal {{ height: 10px; background: transparent; margin: 2px; }}
QScrollBar::handle {{ background: palette(mid); border-radius: 3px; min-height: 24px; min-width: 24px; }}
QScrollBar::handle:hover {{ background: palette(dark); }}
QScrollBar::add-line, QScrollBar::sub-line {{ width: 0; height: 0; }}
QScrollBar::add-page, QScrollBar::sub-page {{ background: none; }}
QTreeView, QTableView, QListView {{ border: 1px solid palette(mid); border-radius: 6px; background: palette(base);
    alternate-background-color: palette(alternate-base); }}
QTreeView::item, QTableView::item {{ min-height: {ROW_HEIGHT - 6}px; padding: 3px 4px; }}
QHeaderView::section {{ background: palette(window); color: palette(placeholder-text); border: none;
    border-bottom: 1px solid palette(mid); padding: 6px 6px; font-weight: 600; }}
QProgressBar {{ border: 1px solid palette(mid); border-radius: 5px; background: palette(base);
    text-align: center; min-height: 1.1em; }}
QProgressBar::chunk {{ background: palette(highlight); border-radius: 4px; }}
QScrollArea {{ border: none; }}
QLabel[role="title"] {{ font-size: {title}pt; font-weight: 600; }}
QLabel[role="caption"] {{ font-size: {caption}pt; color: palette(placeholder-text); }}
QLabel[role="warning"] {{ color: {warning}; }}
#statusHeader {{ background: palette(base); border-bottom: 1px solid palette(mid); }}
#statusHeader QLabel#statusText {{ font-size: {round(body_pt * 1.15, 1)}pt; font-weight: 600; }}
"""


class Theme(QObject):
    """Applies the palette and stylesheet, and re-applies them when the system scheme changes."""

    def __init__(self, app: QApplication, choice: Choice = "system") -> None:
        super().__init__(app)
        self._app = app
        self.choice: Choice = choice
        self.scheme: Scheme = "light"
        app.setStyle(QStyleFactory.create("Fusion"))  # the same widgets on every desktop
        self._body_pt = app.font().pointSizeF() if app.font().pointSizeF() > 0 else 10.0
        app.styleHints().colorSchemeChanged.connect(self._on_system_changed)
        self.apply()

    def apply(self, choice: Choice | None = None) -> None:
        if choice is not None:
            self.choice = choice
        self.scheme = self.choice if self.choice != "system" else system_scheme()
        self._app.setPalette(palette(self.scheme))
        self._app.setStyleSheet(stylesheet(self._body_pt, self.scheme))

    def _on_system_changed(self, _scheme: Qt.ColorScheme) -> None:
        if self.choice == "system":
            self.apply()


def system_scheme() -> Scheme:
    hints = QGuiApplication.styleHints()
    return "dark" if hints.colorScheme() == Qt.ColorScheme.Dark else "light"


def is_dark(colours: QPalette | None = None) -> bool:
    window = (colours or QGuiApplication.palette()).color(QPalette.ColorRole.Window)
    return window.lightness() < 128


Tint = Literal["warning", "refused", "match", "ok", "busy", "error"]


def tint(name: Tint, colours: QPalette | None = None) -> QColor:
    """A colour with a meaning, for the scheme `colours` (default: the app's) is in."""
    return QColor(_TINTS[name][1 if is_dark(colours) else 0])


def chosen(setting: str = "system") -> Choice:
    """NOTEWELL_THEME when set (screenshots, a quick try), else the Appearance setting."""
    for value in (os.environ.get(THEME_ENV, "").strip().lower(), setting):
        if value in ("system", "light", "dark"):
            return value  # type: ignore[return-value]
    return "system"


def apply_theme(app: QApplication, choice: Choice | None = None) -> Theme:
    """Once per app: later calls return the same Theme (re-applied with the new choice)."""
    existing = app.findChild(Theme)
    if isinstance(existing, Theme):
        existing.apply(choice or chosen())
        return existing
    return Theme(app, choice or chosen())


def set_role(widget: QWidget, role: Literal["title", "caption", "warning"]) -> QWidget:
    """Mark a label as a title, a caption or a warning: the stylesheet sizes and colours it."""
    widget.setProperty("role", role)
    return widget
