"""The desktop app's composition: controllers + bridge + views, and `run_gui`.

`build_desktop` wires plain controllers (`app.indexing`, `app.sharing`) to the
views through the bridge; each view gets only the callables it needs. The
window is shown before anything slow starts: the index (and, on the first embed,
the model) opens on the indexer's thread.
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

from PySide6.QtCore import QSocketNotifier, QTimer
from PySide6.QtGui import QGuiApplication, QIcon
from PySide6.QtWidgets import QApplication, QMessageBox, QSystemTrayIcon, QWidget

from notewell.app.autostart import install_desktop_entry, is_default_data_dir, set_autostart
from notewell.assets import asset_path
from notewell.app.chroma_server import ChromaServer
from notewell.app.indexing import IndexingController, WatchFactory, watch_folders
from notewell.app.paths import sample_notes_dir
from notewell.app.preferences import INDEX_FIELDS, SERVER_FIELDS, TUNNEL_FIELDS, Preferences
from notewell.app.secrets import NGROK_AUTHTOKEN, TokenStore, UserSecret, open_token_store
from notewell.app.sharing import SharingController
from notewell.plugin_api.activity import ActivityLog
from notewell.plugin_api.consent import ConsentQueue
from notewell.plugin_api.oauth_store import FILE_NAME as OAUTH_FILE
from notewell.plugin_api.oauth_store import OAuthStore
from notewell.plugin_api.printable import EscapingFormatter
from notewell.plugin_api.tunnel import TunnelStatus

from .activity_tab import ActivityTab
from .bridge import Bridge
from .connect_tab import ConnectTab
from .consent import ClientsBox, ConsentPrompt
from .folders_tab import FoldersTab
from .main_window import MainWindow
from .search_tab import SearchTab, open_in_default_app
from .settings_tab import AUTHTOKEN, SettingsTab
from .tray import Tray, TrayActions

if TYPE_CHECKING:
    from notewell.indexer.embedding import Embedder

log = logging.getLogger(__name__)
ASSETS = asset_path()


@dataclass
class Desktop:
    window: MainWindow
    tray: Tray
    bridge: Bridge
    prefs: Preferences
    tokens: TokenStore
    activity: ActivityLog
    indexing: IndexingController
    sharing: SharingController
    folders_tab: FoldersTab
    connect_tab: ConnectTab
    search_tab: SearchTab
    activity_tab: ActivityTab
    settings_tab: SettingsTab
    chroma: list[ChromaServer]  # the vector store's process, once started
    consents: ConsentQueue
    consent_prompt: ConsentPrompt
    clients_box: ClientsBox
    oauth_store: OAuthStore

    def start(self) -> None:
        self.indexing.start()
        if self.prefs.settings.start_sharing_on_launch:
            self.sharing.start_sharing()

    def shutdown(self) -> None:
        self.tray.hide()
        self.sharing.close()
        self.indexing.close()
        for server in self.chroma:
            server.stop()
        self.activity.close()
        self.bridge.shutdown()


def build_desktop(
    prefs: Preferences,
    *,
    embedder: Embedder | None = None,
    tray_available: bool | None = None,
    choose_folder: Callable[[QWidget], str] | None = None,
    open_note: Callable[[Path], None] = open_in_default_app,
    confirm: Callable[[QWidget, str], bool] | None = None,
    watch: WatchFactory | None = None,
    vectors_in_child: bool = True,
) -> Desktop:
    root = prefs.data_dir
    bridge = Bridge()
    tokens = open_token_store(root)
    authtoken = UserSecret(root, NGROK_AUTHTOKEN)
    activity = ActivityLog.open(root)
    activity.subscribe(bridge.activity)

    consents = ConsentQueue()
    consents.subscribe(bridge.consent)
    oauth_store = OAuthStore.open(root / OAUTH_FILE)
    oauth_store.subscribe(bridge.clients)

    chroma: list[ChromaServer] = []

    def open_index() -> Any:
        from notewell.app.services import open_index as open_notes_index

        url = files = None
        if vectors_in_child and not (prefs.settings.chroma_url or os.environ.get("NOTEWELL_CHROMA_URL")):
            if not chroma:
                chroma.append(ChromaServer(root / "chroma", root / "chroma.log"))
                chroma[0].start()
            url, files = chroma[0].url, root / "chroma"
        return open_notes_index(prefs.settings, root, chroma_url=url, chroma_server_files=files, embedder=embedder)

    def make_app(index: Any) -> Any:
        from notewell.app.services import create_api

        from notewell.app.services import make_oauth

        oauth = make_oauth(oauth_store, sharing.public_url, consents)
        return create_api(prefs.settings, index, tokens.get, public_url=sharing.public_url, activity=activity,
                          oauth=oauth)

    def make_tunnel() -> Any:
        from notewell.app.services import make_tunnel as build_tunnel

        settings = prefs.settings
        return build_tunnel(settings, root, "url" if settings.public_url else "ngrok")

    indexing = IndexingController(open_index, prefs.folders, bridge, watch=watch)
    sharing = SharingController(make_app, make_tunnel, lambda: (prefs.settings.host, prefs.settings.port), bridge)
    bridge.index_opened.connect(sharing.serve)

    def set_paused(paused: bool) -> None:
        indexing.pause() if paused else indexing.resume()

    def copy(text: str) -> None:
        QGuiApplication.clipboard().setText(text)

    def copy_manifest_url() -> None:
        links = sharing.links()
        if links:
            copy(links.manifest)

    folders_tab = FoldersTab(
        bridge, prefs.folders, lambda folder: prefs.add_folder(folder), prefs.remove_folder, set_paused,
        sample_notes_dir(), choose_folder,
    )
    clients_box = ClientsBox(oauth_store.grants, oauth_store.revoke)
    bridge.clients_changed.connect(clients_box.refresh)
    connect_tab = ConnectTab(bridge, tokens, sharing.links, sharing.start_sharing, sharing.stop_sharing, confirm,
                             clients_box)
    search_tab = SearchTab(bridge, indexing.search, open_note)
    activity_tab = ActivityTab(bridge, activity.entries())

    def on_settings(changed: frozenset[str]) -> None:
        if "folders" in changed:
            folders_tab.refresh()
            indexing.request_sync()
        if changed & INDEX_FIELDS:
            indexing.reopen()  # the server follows the new index (index_opened)
        elif changed & SERVER_FIELDS:
            sharing.restart()
        if (changed & TUNNEL_FIELDS or AUTHTOKEN in changed) and sharing.wanted:
            sharing.start_sharing()
        if "start_at_login" in changed:
            set_autostart(prefs.settings.start_at_login, _entry_data_dir(root))

    prefs.subscribe(on_settings)
    settings_tab = SettingsTab(prefs, authtoken, lambda changed: on_settings(changed & {AUTHTOKEN}))

    if tray_available is None:
        tray_available = QSystemTrayIcon.isSystemTrayAvailable()
    icon = QIcon(str(ASSETS / "notewell.png"))
    tabs = {"Folders": folders_tab, "Connect": connect_tab, "Search": search_tab,
            "Activity": activity_tab, "Settings": settings_tab}
    window = MainWindow(bridge, tabs, icon, hide_on_close=tray_available)
    consent_prompt = ConsentPrompt(window, bridge, consents.approve, consents.deny, window.bring_to_front)
    tray = Tray(
        bridge,
        TrayActions(
            open_window=window.bring_to_front,
            start_sharing=sharing.start_sharing,
            stop_sharing=sharing.stop_sharing,
            copy_manifest_url=copy_manifest_url,
            copy_api_key=lambda: copy(tokens.get()),
            set_paused=set_paused,
            quit=QApplication.quit,
        ),
        ASSETS,
        tray_available,
    )

    last_tunnel = [TunnelStatus("off")]

    def on_tunnel(status: TunnelStatus) -> None:
        dropped = last_tunnel[0].state == "online" and status.state in ("error", "connecting")
        last_tunnel[0] = status
        if dropped and sharing.wanted:
            tray.notify("Sharing dropped", status.message or "Notewell is reconnecting…", warning=True)

    bridge.tunnel_status_changed.connect(on_tunnel)
    bridge.consent_requested.connect(lambda request: tray.notify("Allow access to your notes?", request.question))
    bridge.folder_went_missing.connect(
        lambda folder: tray.notify("A notes folder disappeared",
                                   f"{folder} is not there any more; its notes stay searchable.", warning=True)
    )
    return Desktop(window, tray, bridge, prefs, tokens, activity, indexing, sharing,
                   folders_tab, connect_tab, search_tab, activity_tab, settings_tab, chroma,
                   consents, consent_prompt, clients_box, oauth_store)


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
    desktop = build_desktop(prefs, watch=watch_folders)
    sys.excepthook = _excepthook(desktop.window)
    instance = InstanceServer(name, desktop.window.bring_to_front)
    app.setQuitOnLastWindowClosed(desktop.tray.icon is None)
    desktop.window.show()
    if not prefs.settings.folders:
        desktop.window.show_tab("Folders")
    QTimer.singleShot(0, lambda: log.info("window up in %.2f s", time.perf_counter() - started))
    QTimer.singleShot(0, desktop.start)
    if sys.platform.startswith("linux"):  # in the application menu from the first start on
        threading.Thread(target=_install_desktop_entry, args=(data_dir,), daemon=True).start()
    wake = _quit_on_signals(app)  # noqa: F841 (kept alive while the loop runs)
    try:
        return app.exec()
    finally:
        instance.close()
        desktop.shutdown()


def _entry_data_dir(data_dir: Path) -> Path | None:
    return None if is_default_data_dir(data_dir) else data_dir


def _install_desktop_entry(data_dir: Path) -> None:
    try:
        if install_desktop_entry(_entry_data_dir(data_dir)):
            log.info("added Notewell to the application menu")
    except OSError as exc:
        log.warning("could not add Notewell to the application menu: %s", exc)


def _quit_on_signals(app: QApplication) -> QSocketNotifier:
    """SIGTERM (logout, shutdown, `kill`) and Ctrl+C quit as the Quit menu item does, so the
    server, tunnel, index and vector store stop cleanly. The signal's wake-up byte wakes
    Qt's loop at once, with no polling timer."""
    reader, writer = socket.socketpair()
    for end in (reader, writer):
        end.setblocking(False)
    signal.set_wakeup_fd(writer.fileno())
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: (log.info("quitting on a signal"), app.quit()))
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
