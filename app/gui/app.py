"""The desktop app's composition: the runtime + bridge + views, and `run_gui`.

`build_desktop` puts one `app.runtime.Runtime` (index writer, server, tunnel, OAuth,
activity) behind the bridge and gives each view only the callables it needs. The
window is shown before anything slow starts: the index (and, on the first embed, the
model) opens on the indexer's thread. Quit, from wherever it comes, ends the process
within seconds (`Desktop.quit`).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from PySide6.QtCore import QCoreApplication, QSocketNotifier, QTimer
from PySide6.QtGui import QGuiApplication, QIcon
from PySide6.QtWidgets import QApplication, QMessageBox, QSystemTrayIcon, QWidget

from notewell.app.autostart import install_desktop_entry, is_default_data_dir, set_autostart
from notewell.app.connect_help import Addresses, addresses_for
from notewell.app.leaving import leave
from notewell.app.paths import sample_notes_dir
from notewell.app.preferences import Preferences
from notewell.app.runtime import Runtime, RuntimeOptions
from notewell.app.secrets import NGROK_AUTHTOKEN, UserSecret
from notewell.assets import asset_path
from notewell.indexer.data_lock import DataFolderBusy
from notewell.indexer.worker import WorkerOptions
from notewell.plugin_api.activity import ActivityEntry
from notewell.plugin_api.auth import KEY_NAME
from notewell.plugin_api.printable import EscapingFormatter
from notewell.plugin_api.tunnel import TunnelStatus

from .activity_tab import ActivityTab
from .bridge import Bridge
from .connect_tab import ConnectTab
from .consent import ClientsBox, ConsentPrompt
from .folders_tab import FoldersTab
from .main_window import MainWindow
from .note_view import open_with_desktop
from .save_prompt import SaveAnswers, SavePrompt, TrustedSaversBox
from .search_tab import SearchTab
from .settings_tab import AUTHTOKEN, SettingsTab
from .theme import Theme, apply_theme, chosen
from .tray import Tray, TrayActions

if TYPE_CHECKING:
    from notewell.app.services import ModelChoice
    from notewell.indexer.embedding import Embedder

log = logging.getLogger(__name__)
ASSETS = asset_path()
QUIT_WITHIN = 5.0  # seconds from Quit to the end of the process, whatever is running


@dataclass
class Desktop:
    runtime: Runtime
    window: MainWindow
    tray: Tray
    bridge: Bridge
    folders_tab: FoldersTab
    connect_tab: ConnectTab
    search_tab: SearchTab
    activity_tab: ActivityTab
    settings_tab: SettingsTab
    consent_prompt: ConsentPrompt
    clients_box: ClientsBox
    save_prompt: SavePrompt
    trusted_box: TrustedSaversBox
    theme: Theme | None = None

    @property
    def prefs(self) -> Preferences:
        return self.runtime.prefs

    @property
    def indexing(self) -> Any:
        return self.runtime.indexing

    @property
    def sharing(self) -> Any:
        return self.runtime.sharing

    @property
    def tokens(self) -> Any:
        return self.runtime.tokens

    @property
    def activity(self) -> Any:
        return self.runtime.activity

    @property
    def consents(self) -> Any:
        return self.runtime.consents

    @property
    def oauth_store(self) -> Any:
        return self.runtime.oauth_store

    def start(self) -> None:
        self.runtime.start()

    def quit(self) -> None:
        """End the app: every window and dialog closes, the event loop (and any dialog's
        own loop) ends, and `run_gui` shuts the runtime down. A window that hides on
        close can't cancel this, unlike QApplication.quit() (#14: Quit only hid the window)."""
        log.info("quitting")
        self.window.quitting = True
        for widget in QApplication.topLevelWidgets():  # hidden, not closed: no close event to refuse
            if widget.isVisible():
                widget.hide()
        QCoreApplication.exit(0)

    def shutdown(self) -> None:
        self.tray.hide()
        self.runtime.close()
        self.bridge.shutdown()


def build_desktop(
    prefs: Preferences,
    *,
    embedder: Embedder | None = None,
    tray_available: bool | None = None,
    choose_folder: Callable[[QWidget], str] | None = None,
    open_note: Callable[[Path], bool] = open_with_desktop,
    confirm: Callable[[QWidget, str], bool] | None = None,
    watch: bool = True,
    vectors_in_child: bool = True,
) -> Desktop:
    root = prefs.data_dir
    app = QApplication.instance()
    # palette, type, spacing; follows the system unless Settings → Appearance says Light or Dark
    theme = apply_theme(app, chosen(prefs.settings.appearance)) if isinstance(app, QApplication) else None
    bridge = Bridge()
    authtoken = UserSecret(root, NGROK_AUTHTOKEN)
    runtime = Runtime(prefs, RuntimeOptions(vectors_in_child=vectors_in_child, watch=watch, embedder=embedder),
                      bridge)
    indexing, sharing = runtime.indexing, runtime.sharing

    def set_paused(paused: bool) -> None:
        indexing.pause() if paused else indexing.resume()

    def copy(text: str) -> None:
        QGuiApplication.clipboard().setText(text)

    def copy_mcp_url() -> None:
        links = sharing.links()
        if links and links.mcp:
            copy(links.mcp)
            tray.notify("MCP URL copied", f"{links.mcp}: paste it into your assistant (see Connect).")

    folders_tab = FoldersTab(
        bridge, prefs.folders, lambda folder: prefs.add_folder(folder), prefs.remove_folder, set_paused,
        sample_notes_dir(), choose_folder,
    )
    clients_box = ClientsBox(runtime.oauth_store.grants, runtime.oauth_store.revoke, confirm)
    bridge.clients_changed.connect(clients_box.refresh)

    def client_used(entry: ActivityEntry) -> None:
        if not entry.refused and entry.client != KEY_NAME:  # an OAuth client: its "last used" moved
            clients_box.refresh()

    bridge.activity_recorded.connect(client_used)

    def addresses() -> Addresses:
        """For the cards: the running server, and the public URL only while it is shared."""
        server = sharing.server_state
        local = addresses_for(prefs.settings, server.url if server.state == "running" else None).local
        return Addresses(local, sharing.public_url())

    def sharing_set_up() -> bool:
        """ngrok has an authtoken, or the user brings their own public URL."""
        return bool(authtoken.get() or os.environ.get("NGROK_AUTHTOKEN") or prefs.settings.public_url)

    window_ref: list[MainWindow] = []
    connect_tab = ConnectTab(bridge, runtime.tokens, addresses, sharing.start_sharing, sharing.stop_sharing,
                             confirm, clients_box, sharing_set_up,
                             open_settings=lambda: window_ref[0].show_tab("Settings"))
    search_tab = SearchTab(bridge, indexing.search, indexing.get_note, open_note)
    activity_tab = ActivityTab(bridge, runtime.activity.entries(), open_note)

    def on_settings(changed: frozenset[str]) -> None:
        connect_tab.refresh()
        if "folders" in changed:
            folders_tab.refresh()
        runtime.settings_changed(changed - {AUTHTOKEN})
        if AUTHTOKEN in changed and sharing.wanted:
            sharing.restart_sharing()
        if "appearance" in changed and theme is not None:
            theme.apply(chosen(prefs.settings.appearance))
        if "start_at_login" in changed:
            set_autostart(prefs.settings.start_at_login, _entry_data_dir(root))

    prefs.subscribe(on_settings)
    trusted = runtime.save_approvals.trusted
    trusted_box = TrustedSaversBox(bridge, trusted.names, trusted.remove)

    def model_in_use() -> ModelChoice | None:
        from notewell.app.services import model_choice  # on a worker thread: numpy and the indexer load there

        index = indexing.index
        return None if index is None else model_choice(prefs.settings, index.embedder.name, runtime.folders())

    settings_tab = SettingsTab(prefs, authtoken, lambda changed: on_settings(changed & {AUTHTOKEN}),
                               choose_folder, [trusted_box], bridge=bridge, model_choice=model_in_use)

    if tray_available is None:
        tray_available = QSystemTrayIcon.isSystemTrayAvailable()
    icon = QIcon(str(ASSETS / "notewell.png"))
    tabs = {"Folders": folders_tab, "Connect": connect_tab, "Search": search_tab,
            "Activity": activity_tab, "Settings": settings_tab}
    window = MainWindow(bridge, tabs, icon, hide_on_close=tray_available)
    window_ref.append(window)
    consent_prompt = ConsentPrompt(window, bridge, runtime.consents.approve, runtime.consents.deny,
                                   window.bring_to_front)
    approvals = runtime.save_approvals
    save_prompt = SavePrompt(window, bridge, SaveAnswers(approvals.allow_once, approvals.allow_always,
                                                         approvals.deny), window.bring_to_front)
    desktop_ref: list[Desktop] = []
    tray = Tray(
        bridge,
        TrayActions(
            open_window=window.bring_to_front,
            start_sharing=sharing.start_sharing,
            stop_sharing=sharing.stop_sharing,
            copy_mcp_url=copy_mcp_url,
            copy_api_key=lambda: copy(runtime.tokens.get()),
            set_paused=set_paused,
            quit=lambda: desktop_ref[0].quit(),
        ),
        ASSETS,
        tray_available,
    )

    def told_about_tray() -> None:
        """Once: closing the window does not stop Notewell."""
        if prefs.settings.told_about_tray:
            return
        title, text = ("Notewell keeps running",
                       "It stays in the tray, keeping your notes up to date and shared. "
                       "To stop it, choose Quit in the tray menu.")
        if not tray.notify(title, text):  # a tray without notifications: a small note instead
            note = QMessageBox(QMessageBox.Icon.Information, title, text, QMessageBox.StandardButton.Ok)
            note.setModal(False)
            note.show()
            tray.notice = note  # kept alive while shown
        prefs.update({"told_about_tray": True})

    window.hidden_to_tray.connect(told_about_tray)
    window.quit_requested.connect(lambda: desktop_ref[0].quit())

    last_tunnel = [TunnelStatus("off")]

    def on_tunnel(status: TunnelStatus) -> None:
        dropped = last_tunnel[0].state == "online" and status.state in ("error", "connecting")
        last_tunnel[0] = status
        if dropped and sharing.wanted:
            tray.notify("Sharing dropped", status.message or "Notewell is reconnecting…", warning=True)

    bridge.tunnel_status_changed.connect(on_tunnel)
    bridge.consent_requested.connect(lambda request: tray.notify("Allow access to your notes?", request.question))
    bridge.save_requested.connect(
        lambda request: request.decision == "pending" and tray.notify("Save a note?", request.question))
    bridge.folder_went_missing.connect(
        lambda folder: tray.notify("A notes folder disappeared",
                                   f"{folder} is not there any more; its notes stay searchable.", warning=True)
    )
    desktop = Desktop(runtime, window, tray, bridge, folders_tab, connect_tab, search_tab, activity_tab,
                      settings_tab, consent_prompt, clients_box, save_prompt, trusted_box, theme)
    desktop_ref.append(desktop)
    return desktop


def run_gui(data_dir: Path, started: float | None = None) -> int:
    """The desktop app until Quit; a second launch raises the first window instead."""
    from notewell.app.settings import Settings

    from .single_instance import InstanceServer, ask_running_instance, instance_name

    started = started or time.perf_counter()
    app = QApplication.instance() or QApplication(sys.argv)
    app.setApplicationName("Notewell")
    app.setDesktopFileName("notewell")
    app.setWindowIcon(QIcon(str(ASSETS / "notewell.png")))
    name = instance_name(data_dir)
    if ask_running_instance(name):
        print("Notewell is already running: its window was brought to the front.")
        return 0
    data_dir.mkdir(parents=True, exist_ok=True)
    _log_to_file(data_dir / "notewell.log")
    prefs = Preferences(Settings.load(data_dir), data_dir)
    try:
        desktop = build_desktop(prefs)
    except DataFolderBusy as exc:  # `notewell serve` or `index` has this data folder
        log.warning("%s", exc)
        QMessageBox.warning(None, "Notewell can't start", str(exc))
        return 1
    sys.excepthook = _excepthook(desktop.window)
    instance = InstanceServer(name, desktop.window.bring_to_front)
    app.setQuitOnLastWindowClosed(desktop.tray.icon is None)
    deadline = _Deadline(QUIT_WITHIN)
    app.aboutToQuit.connect(deadline.arm)  # Quit, logout, the last window closed
    desktop.window.show()
    if not prefs.settings.folders:
        desktop.window.show_tab("Folders")
    QTimer.singleShot(0, lambda: log.info("window up in %.2f s", time.perf_counter() - started))
    QTimer.singleShot(0, desktop.start)
    if sys.platform.startswith("linux") and is_default_data_dir(data_dir):  # in the application menu
        threading.Thread(target=_install_desktop_entry, args=(data_dir,), daemon=True).start()
    wake = _quit_on_signals(app, desktop)  # noqa: F841 (kept alive while the loop runs)
    try:
        return app.exec()
    finally:
        deadline.arm()
        instance.close()
        desktop.shutdown()


class _Deadline:
    """Once armed, the process ends within `seconds`, even if a thread hangs at shutdown
    (a tunnel agent that won't die, a model batch): every write is journaled, so the next
    start finishes what was cut short."""

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._timer: threading.Timer | None = None

    def arm(self) -> None:
        if self._timer is None:
            self._timer = threading.Timer(self._seconds, self._leave)
            self._timer.daemon = True
            self._timer.start()

    def _leave(self) -> None:
        log.warning("shutting down took over %.0f s; leaving now", self._seconds)
        leave(0)


def _entry_data_dir(data_dir: Path) -> Path | None:
    return None if is_default_data_dir(data_dir) else data_dir


def _install_desktop_entry(data_dir: Path) -> None:
    try:
        if install_desktop_entry(_entry_data_dir(data_dir)):
            log.info("added Notewell to the application menu")
    except OSError as exc:
        log.warning("could not add Notewell to the application menu: %s", exc)


def _quit_on_signals(app: QApplication, desktop: Desktop) -> QSocketNotifier:
    """SIGTERM (logout, shutdown, `kill`) and Ctrl+C quit as the Quit menu item does, so the
    server, tunnel, index and vector store stop cleanly. The signal's wake-up byte wakes
    Qt's loop at once, with no polling timer."""
    reader, writer = socket.socketpair()
    for end in (reader, writer):
        end.setblocking(False)
    signal.set_wakeup_fd(writer.fileno())
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: (log.info("quitting on a signal"), desktop.quit()))
    notifier = QSocketNotifier(reader.fileno(), QSocketNotifier.Type.Read, app)
    notifier.activated.connect(lambda: reader.recv(64))  # Python runs the handler meanwhile
    notifier.sockets = (reader, writer)  # type: ignore[attr-defined]  # open as long as the notifier
    return notifier


def _log_to_file(path: Path) -> None:
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(EscapingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)  # replaces the CLI's


def _excepthook(parent: QWidget) -> Callable[..., None]:
    def hook(kind: type[BaseException], error: BaseException, tb: Any) -> None:
        log.error("unexpected error\n%s", "".join(traceback.format_exception(kind, error, tb)))
        QMessageBox.critical(parent, "Notewell", f"Something went wrong: {error}\n\n"
                             "Details are in notewell.log in the data folder.")

    return hook
