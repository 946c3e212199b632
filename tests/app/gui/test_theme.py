"""The look: dark mode stays readable on every tab, the window fits a 1280×800 screen, the
theme follows the system's light/dark switch."""

from __future__ import annotations

from collections import Counter
from typing import Iterator

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor, QGuiApplication, QImage, QPalette
from PySide6.QtWidgets import QAbstractScrollArea, QApplication, QLabel, QWidget

from notewell.app.gui import theme
from notewell.app.gui.main_window import TAB_NAMES

from .conftest import wait_ready

SCREEN_1280x800 = (1280, 800 - 64)  # less a panel and a title bar
FIXED_TABS = ("Folders", "Search", "Activity")  # Connect and Settings are long pages that scroll by design


def luminance(colour: QColor) -> float:
    def channel(value: float) -> float:
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(colour.redF()) + 0.7152 * channel(colour.greenF()) + 0.0722 * channel(colour.blueF())


def contrast(a: QColor, b: QColor) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def surface(label: QLabel, window: QWidget) -> QWidget:
    """What to grab to see the whole label: a scrolling page's content (also the part scrolled
    out of view), else the window."""
    widget = label
    while widget.parentWidget() is not None and widget.parentWidget() is not window:
        viewport = widget.parentWidget()
        if isinstance(viewport.parentWidget(), QAbstractScrollArea) \
                and widget.autoFillBackground() and viewport.parentWidget().viewport() is viewport:
            return widget
        widget = viewport
    return window


def background_under(label: QLabel, shot: QImage, surface: QWidget) -> QColor:
    """The colour actually painted behind the label: the commonest of its corner pixels."""
    ratio = shot.devicePixelRatio()
    top_left = label.mapTo(surface, QPoint(0, 0))
    w, h = label.width(), label.height()
    corners = [(1, 1), (w - 2, 1), (1, h - 2), (w - 2, h - 2)]
    colours = Counter()
    for x, y in corners:
        px, py = int((top_left.x() + x) * ratio), int((top_left.y() + y) * ratio)
        if 0 <= px < shot.width() and 0 <= py < shot.height():
            colours[shot.pixelColor(px, py).rgb()] += 1
    return QColor.fromRgb(colours.most_common(1)[0][0])


def text_colours(label: QLabel) -> list[QColor]:
    group = QPalette.ColorGroup.Active if label.isEnabled() else QPalette.ColorGroup.Disabled
    colours = [label.palette().color(group, label.foregroundRole())]
    if "<a " in label.text():
        colours.append(label.palette().color(group, QPalette.ColorRole.Link))
    return colours


@pytest.fixture
def restore_theme(qapp: QApplication) -> Iterator[None]:
    yield
    theme.apply_theme(qapp, "system")


@pytest.mark.parametrize("scheme", ["dark", "light"])
def test_every_label_on_every_tab_is_readable(qtbot, qapp, make_desktop, notes, restore_theme, scheme) -> None:
    desktop = make_desktop([notes])
    wait_ready(qtbot, desktop)
    theme.apply_theme(qapp, scheme)
    window = desktop.window
    window.resize(*SCREEN_1280x800)
    assert theme.is_dark(window.palette()) == (scheme == "dark")
    checked, poor = 0, []
    for name in TAB_NAMES:
        window.show_tab(name)
        qtbot.waitUntil(lambda: window.tabs.tabText(window.tabs.currentIndex()) == name)
        qapp.processEvents()
        shots: dict[int, tuple[QWidget, QImage]] = {}
        for label in window.findChildren(QLabel):
            if not label.isVisibleTo(window) or not label.text().strip() or label.width() < 4:
                continue
            where = surface(label, window)
            if id(where) not in shots:
                shots[id(where)] = (where, where.grab().toImage())
            background = background_under(label, shots[id(where)][1], where)
            for colour in text_colours(label):
                checked += 1
                ratio = contrast(colour, background)
                if ratio < 4.5:
                    poor.append(f"{name}: {label.text()[:40]!r} {colour.name()} on {background.name()} = {ratio:.2f}")
    assert checked > 20, "the tabs' labels were looked at"
    assert not poor, "\n".join(poor)


def test_the_header_follows_indexing_and_sharing(qtbot, make_desktop, notes) -> None:
    from notewell.indexer.types import FolderStatus, Progress
    from notewell.plugin_api.tunnel import TunnelStatus

    desktop = make_desktop([notes])
    header, bridge = desktop.window.header, desktop.bridge
    wait_ready(qtbot, desktop)
    qtbot.waitUntil(lambda: header.text.text().startswith("Up to date ·"))
    assert "notes" in header.text.text() and header.text.text().endswith("Sharing off")
    assert header.mood == "ok"

    bridge.index_state("embedding", "Embedding passages… about 3 min left")
    bridge.index_progress(Progress("embedding", None, 40, 100))
    bridge.index_folders([FolderStatus("/notes", files=1234)])
    qtbot.waitUntil(lambda: header.text.text() == "Indexing 40% · about 3 min left · 1,234 notes · Sharing off")
    assert header.mood == "busy"

    bridge.tunnel_changed(TunnelStatus("online", "https://calm-otter-123.ngrok-free.app"))
    bridge.index_state("idle", "Up to date")
    qtbot.waitUntil(lambda: header.text.text()
                    == "Up to date · 1,234 notes · Sharing at https://calm-otter-123.ngrok-free.app")
    bridge.tunnel_changed(TunnelStatus("error", message="ngrok could not connect", retrying=False))
    qtbot.waitUntil(lambda: header.text.text().endswith("Sharing stopped (see Connect)"))
    assert header.mood == "error"
    bridge.index_state("error", "The disk is full: free some space, then restart Notewell.")
    qtbot.waitUntil(lambda: header.text.text().startswith("Indexing stopped: The disk is full"))


def test_the_window_fits_a_1280x800_screen_without_scrollbars(qtbot, qapp, make_desktop, notes) -> None:
    desktop = make_desktop([notes])
    wait_ready(qtbot, desktop)
    window = desktop.window
    assert qapp.styleSheet() and window.palette().color(QPalette.ColorRole.Window) == \
        theme.palette("light").color(QPalette.ColorRole.Window)
    minimum = window.minimumSizeHint().expandedTo(window.minimumSize())
    assert minimum.width() <= SCREEN_1280x800[0] and minimum.height() <= SCREEN_1280x800[1]
    window.resize(*SCREEN_1280x800)
    for name in FIXED_TABS:
        window.show_tab(name)
        qapp.processEvents()
        page = window.tabs.currentWidget()
        scrolling = [area for area in page.findChildren(QAbstractScrollArea) if area.isVisibleTo(window)
                     and (area.verticalScrollBar().isVisible() or area.horizontalScrollBar().isVisible())]
        assert not scrolling, f"{name} scrolls at 1280×800: {scrolling}"
    assert not window.header.text.text().endswith("…") and window.header.isVisible()


def test_the_theme_follows_the_system_scheme(qapp, make_desktop, restore_theme, monkeypatch) -> None:
    desktop = make_desktop(start=False)
    assert desktop.theme is not None and desktop.theme.choice == "system"
    monkeypatch.setattr(theme, "system_scheme", lambda: "dark")
    QGuiApplication.styleHints().colorSchemeChanged.emit(Qt.ColorScheme.Dark)
    assert desktop.theme.scheme == "dark"
    assert desktop.window.palette().color(QPalette.ColorRole.Window) == \
        theme.palette("dark").color(QPalette.ColorRole.Window)
    monkeypatch.setattr(theme, "system_scheme", lambda: "light")
    QGuiApplication.styleHints().colorSchemeChanged.emit(Qt.ColorScheme.Light)
    assert not theme.is_dark(desktop.window.palette())


def test_a_chosen_scheme_stays_whatever_the_system_says(qapp, make_desktop, restore_theme, monkeypatch) -> None:
    desktop = make_desktop(start=False)
    theme.apply_theme(qapp, "light")
    monkeypatch.setattr(theme, "system_scheme", lambda: "dark")
    QGuiApplication.styleHints().colorSchemeChanged.emit(Qt.ColorScheme.Dark)
    assert not theme.is_dark(desktop.window.palette())


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize(("text", "background"), [
    ("HighlightedText", "Highlight"),  # primary buttons, selected rows
    ("PlaceholderText", "Window"), ("PlaceholderText", "Base"),  # captions, tab names
    ("Link", "Base"), ("Link", "Window"), ("Text", "AlternateBase"),
])
def test_palette_pairs_read_at_4_5_to_1(scheme, text, background) -> None:
    colours = theme.palette(scheme)
    ratio = contrast(colours.color(getattr(QPalette.ColorRole, text)),
                     colours.color(getattr(QPalette.ColorRole, background)))
    assert ratio >= 4.5, f"{text} on {background} in {scheme}: {ratio:.2f}"


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_meaningful_tints_read_on_their_backgrounds(scheme) -> None:
    colours = theme.palette(scheme)
    base, text = colours.color(QPalette.ColorRole.Base), colours.color(QPalette.ColorRole.Text)
    for mood in ("ok", "busy", "error", "warning"):
        assert contrast(theme.tint(mood, colours), base) >= 4.5, mood
    for background in ("refused", "match"):  # rows and marks keep the scheme's text colour
        assert contrast(text, theme.tint(background, colours)) >= 4.5, background


def test_rows_kept_from_before_get_the_themes_row_height(qtbot, qapp) -> None:
    from PySide6.QtGui import QIcon

    from notewell.app.gui.activity_tab import ActivityTab
    from notewell.app.gui.bridge import Bridge
    from notewell.app.gui.main_window import MainWindow
    from notewell.plugin_api.activity_store import ActivityEntry

    theme.apply_theme(qapp, "system")
    bridge = Bridge()
    history = [ActivityEntry("2026-12-07T02:39:31+00:00", "API key", "127.0.0.1", "POST", "/query", 200,
                             queries=(f"query {n}",), titles=("Git tips",), result_count=1) for n in range(3)]
    tab = ActivityTab(bridge, history)
    window = MainWindow(bridge, {"Folders": QWidget(), "Activity": tab}, QIcon(), hide_on_close=False)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    window.show_tab("Activity")
    qapp.processEvents()
    assert tab.table.topLevelItemCount() == 3
    rows = [tab.table.visualItemRect(tab.table.topLevelItem(n)).height() for n in range(3)]
    assert min(rows) >= theme.ROW_HEIGHT - 2, rows
    bridge.shutdown()


def test_settings_appearance_switches_light_and_dark(qapp, make_desktop, data_dir, restore_theme,
                                                     monkeypatch) -> None:
    from PySide6.QtWidgets import QComboBox

    from notewell.app.settings import Settings

    monkeypatch.delenv(theme.THEME_ENV, raising=False)
    desktop = make_desktop(start=False)
    combo = desktop.settings_tab.findChild(QComboBox, "appearance")
    assert [combo.itemText(n) for n in range(combo.count())] == ["System", "Light", "Dark"]
    combo.setCurrentIndex(combo.findData("dark"))
    assert "appearance" in desktop.settings_tab.save()
    assert theme.is_dark(desktop.window.palette())
    assert Settings.load(data_dir).appearance == "dark"
    monkeypatch.setattr(theme, "system_scheme", lambda: "light")
    QGuiApplication.styleHints().colorSchemeChanged.emit(Qt.ColorScheme.Light)
    assert theme.is_dark(desktop.window.palette()), "a chosen scheme ignores the system"
    combo.setCurrentIndex(combo.findData("system"))
    desktop.settings_tab.save()
    assert not theme.is_dark(desktop.window.palette())
