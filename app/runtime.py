"""A running Notewell, put together in one place: the desktop app and `notewell serve`
both run one (#14).

    runtime = Runtime(prefs, RuntimeOptions(port=0), events)
    runtime.start()                  # index (one writer), local API once the index is open,
                                     # sharing if asked for
    runtime.settings_changed({...})  # the settings form saved: each part follows
    runtime.close()                  # server, tunnel, index and vector store stop

It owns the API key store, the activity log, the consent queues (OAuth, saves), the OAuth store, the
index's writer (`app.indexing`) and the server with its tunnel (`app.sharing`). What
happens is reported to `events` (the GUI's bridge, or serve's console) from worker
threads. Nothing here imports Qt.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from notewell.indexer.data_lock import DataFolderLock
from notewell.indexer.multilingual import AUTO_MODEL
from notewell.indexer.worker import WorkerOptions

from .chroma_server import ChromaServer
from .indexing import IndexEvents, IndexingController
from .preferences import INDEX_FIELDS, SERVER_FIELDS, TUNNEL_FIELDS, Preferences
from .secrets import open_token_store
from .sharing import SharingController, SharingEvents

if TYPE_CHECKING:
    from notewell.indexer.embedding import Embedder
    from notewell.indexer.notes_index import NotesIndex
    from notewell.plugin_api.tunnel import Tunnel, TunnelKind

    from .settings import Settings

log = logging.getLogger(__name__)

CHROMA_DIR = "chroma"
KEY_CLIENT = "key"  # auth.key_caller's id: whoever holds the API key


@dataclass(frozen=True)
class RuntimeOptions:
    """What the command line (or the desktop app) decides beyond the settings."""

    host: str | None = None  # None: the setting
    port: int | None = None  # None: the setting
    share: bool | None = None  # open the tunnel at start; None: the "Start sharing on launch" setting
    tunnel: Literal["ngrok", "url"] | None = None  # None: the user's own URL if one is set, else ngrok
    public_url: str | None = None  # beats the setting
    ngrok_domain: str | None = None  # beats the setting
    ngrok_path: str | None = None  # an agent binary already on disk
    chroma_url: str | None = None  # beats the setting
    vectors_in_child: bool = False  # run the vector store in its own process (the desktop app)
    watch: bool = True  # follow changes on disk
    fallback_folders: tuple[Path, ...] = ()  # indexed while no folder is set (the sample notes)
    embedder: Embedder | None = None  # tests: a small deterministic model
    inbox: Path | None = None  # `serve --inbox DIR`: beats the setting (issue 18)
    allow_saves: bool = False  # `serve --allow-saves`: saves into the inbox never ask
    headless: bool = False  # nobody can answer a question in a window (`notewell serve`):
    # OAuth consent by the one-time code serve prints; saves only with --allow-saves


class RuntimeEvents(IndexEvents, SharingEvents, Protocol):
    def activity(self, entry: Any) -> None: ...

    def consent(self, request: Any) -> None: ...

    def save_consent(self, request: Any) -> None: ...

    def clients(self) -> None: ...


def tunnel_kind(settings: Settings, options: RuntimeOptions) -> TunnelKind:
    """How sharing reaches the internet, by one rule for the app and `serve`: ngrok when
    asked for by name, else the user's own public URL when one is set, else ngrok."""
    if options.tunnel is not None:
        return options.tunnel
    return "url" if (options.public_url or settings.public_url) else "ngrok"


class Runtime:
    def __init__(self, prefs: Preferences, options: RuntimeOptions, events: RuntimeEvents) -> None:
        self.prefs = prefs
        self.options = options
        self.data_dir = prefs.data_dir
        self._events = events
        # Only one program at a time keeps a data folder's index up to date (DataFolderBusy).
        holder = "notewell serve" if options.headless else "the Notewell desktop app"  # as others are told
        self._lock = DataFolderLock.acquire(self.data_dir, holder)
        try:
            self._compose(events)
        except BaseException:
            self._lock.release()
            raise
        self._closed = False

    def _compose(self, events: RuntimeEvents) -> None:
        from notewell.plugin_api.activity import ActivityLog
        from notewell.plugin_api.consent import ConsentQueue
        from notewell.plugin_api.oauth_store import FILE_NAME as OAUTH_FILE
        from notewell.plugin_api.oauth_store import OAuthStore
        from notewell.plugin_api.save_consent import TRUST_FILE, SaveApprovals, TrustedSavers

        self.tokens = open_token_store(self.data_dir)
        self.activity = ActivityLog.open(self.data_dir)
        self.activity.subscribe(events.activity)
        self.consents = ConsentQueue()
        self.consents.subscribe(events.consent)
        self.save_approvals = SaveApprovals(
            TrustedSavers(self.data_dir / TRUST_FILE),
            ask=lambda: self.settings.ask_before_saving and not self.options.allow_saves,
            can_ask=not self.options.headless)
        self.save_approvals.subscribe(events.save_consent)
        from notewell.plugin_api.limits import SaveQuota

        self.save_quota = SaveQuota()  # outlives a server restart (review of #18, finding 3)
        self.oauth_store = OAuthStore.open(self.data_dir / OAUTH_FILE)
        self.oauth_store.subscribe(self._forget_revoked_savers)  # before the views hear of it
        self.oauth_store.subscribe(events.clients)
        self._chroma: ChromaServer | None = None
        self.indexing = IndexingController(
            self._open_index, self.folders(), _ServeWhenReady(events, self), self._worker_options()
        )
        self.sharing = SharingController(self._make_app, self._make_tunnel, self._address, events)

    @property
    def settings(self) -> Settings:
        return self.prefs.settings

    def folders(self) -> list[Path]:
        """The folders being indexed: the user's, or the sample notes until there are any;
        and the inbox, when it is not inside one of them and saving may happen (a saved note
        is searchable; of that folder, only the notes Notewell saved: `_saved_only`)."""
        chosen = self._chosen_folders()
        inbox = self._outside_inbox()
        return [*chosen, inbox] if inbox is not None else chosen

    def saves_possible(self) -> bool:
        """False: every save would be refused (`serve --inbox` without --allow-saves)."""
        return not self.options.headless or self.options.allow_saves or not self.settings.ask_before_saving

    def _chosen_folders(self) -> list[Path]:
        return [Path(f) for f in self.settings.folders] or list(self.options.fallback_folders)

    def _outside_inbox(self) -> Path | None:
        """The inbox, when it is indexed as a folder of its own (outside the notes folders)."""
        inbox = self.inbox()
        if inbox is None or not self.saves_possible():
            return None
        return None if any(_inside(inbox, folder) for folder in self._chosen_folders()) else inbox

    def _saved_only(self, folder: str) -> bool:
        """Review of #18, finding 1: an inbox like ~/Downloads must not publish what was there."""
        inbox = self._outside_inbox()
        return inbox is not None and folder == str(inbox)

    def inbox(self) -> Path | None:
        """Where assistants may save new notes (issue 18); None: saving is off."""
        chosen = self.options.inbox or (Path(self.settings.inbox_folder) if self.settings.inbox_folder else None)
        return chosen.expanduser().resolve() if chosen is not None else None

    def start(self) -> None:
        self.tokens.get()  # created on first run, before anyone can ask
        self.indexing.start()
        share = self.options.share
        if share if share is not None else self.settings.start_sharing_on_launch:
            self.sharing.start_sharing()

    def settings_changed(self, changed: frozenset[str]) -> None:
        """Each part follows the settings that shape it."""
        if changed & {"folders", "inbox_folder"}:
            self.indexing.set_folders(self.folders())
        if changed & INDEX_FIELDS:
            self.indexing.reopen(self._open_index)  # the server follows the new index
        elif changed & {"folders", "inbox_folder"} and self._auto():
            self.indexing.reopen(self._open_index, only_if=self._model_choice_changed)
        # Not `elif` (review of #18, finding 2): one Settings save may change both, and the server
        # must then be made anew too (the inbox, saving on or off), serving the live index.
        if changed & SERVER_FIELDS:
            self.sharing.restart()
        if changed & TUNNEL_FIELDS and self.sharing.wanted:
            self.sharing.restart_sharing()

    def close(self) -> None:
        """Stop sharing, the server, the index's writer and the vector store."""
        if self._closed:
            return
        self._closed = True
        started = time.monotonic()
        self.indexing.worker.cancel()  # the running batch ends while the server stops
        self.save_approvals.close()  # a save waiting for an answer gets one: the server can stop
        self.sharing.close()
        self.indexing.close()
        if self._chroma is not None:
            self._chroma.stop()
        self.activity.close()
        self._lock.release()
        log.info("stopped in %.1f s", time.monotonic() - started)

    # -- parts, made on worker threads ----------------------------------------------
    def _worker_options(self) -> WorkerOptions:
        return WorkerOptions(watch=self.options.watch, catch_up_every=self.settings.catch_up_minutes * 60,
                             reopen_if=self._model_choice_changed)

    def _open_index(self) -> NotesIndex:
        from .services import open_index

        settings = self.settings
        url = self.options.chroma_url or settings.chroma_url or os.environ.get("NOTEWELL_CHROMA_URL") or None
        files = None
        if url is None and self.options.vectors_in_child:
            if self._chroma is None:
                self._chroma = ChromaServer(self.data_dir / CHROMA_DIR, self.data_dir / "chroma.log")
                self._chroma.start()
            url, files = self._chroma.url, self.data_dir / CHROMA_DIR
        return open_index(settings, self.data_dir, chroma_url=url, chroma_server_files=files,
                          embedder=self.options.embedder, saved_only=self._saved_only, folders=self.folders())

    def _auto(self) -> bool:
        from .services import named_model

        return named_model(self.settings.model) == AUTO_MODEL

    def _model_choice_changed(self) -> bool:
        """With the "auto" model: whether the folders now need the other model (a folder of
        Chinese notes was added to English ones, or Chinese notes arrived in one: asked at
        each catch-up too). Asked on the writer's thread, not the GUI's."""
        from .services import auto_model, model_setting, runs_as

        index = self.indexing.worker.index
        if index is None or self.options.embedder is not None or not self._auto():
            return False
        chosen = runs_as(auto_model(self.settings, self.data_dir, self.folders()))
        return model_setting(index.embedder.name) != chosen

    def _make_app(self, index: NotesIndex) -> Any:
        from notewell.plugin_api.open_links import OpenLinks

        from .services import create_api, make_oauth

        oauth = make_oauth(self.oauth_store, self.sharing.public_url, self.consents, self.options.headless)
        return create_api(self.settings, index, self.tokens.get, public_url=self.sharing.public_url,
                          activity=self.activity, oauth=oauth, saver=self._saver(),
                          links=OpenLinks.load(self.data_dir))

    def _saver(self) -> Any:
        from notewell.plugin_api.saving import NoteSaver

        inbox = self.inbox()
        if inbox is None:
            return None
        return NoteSaver(inbox, self.save_approvals, self._saved,
                         lambda: inbox_problem(self.settings, inbox, self.options.fallback_folders, named=False),
                         self.save_quota)

    def _forget_revoked_savers(self) -> None:
        """A revoked OAuth client is no longer trusted to save (its grant id never comes back)."""
        granted = {grant.id for grant in self.oauth_store.grants()}
        for client_id in self.save_approvals.trusted.names():
            if client_id != KEY_CLIENT and client_id not in granted:
                self.save_approvals.trusted.remove(client_id)

    def _saved(self, path: Path) -> tuple[str, str]:
        """A note just saved into the inbox: its index update queued on the one writer; its id."""
        from notewell.indexer.catalog import note_id_for

        folders = [Path(f) for f in self.indexing.worker.folders]
        holding = [f for f in folders if f in path.parents]
        folder = max(holding, key=lambda f: len(f.parts)) if holding else path.parent
        rel = path.relative_to(folder).as_posix()
        self.indexing.worker.sync_paths(str(folder), {rel})
        return note_id_for(str(folder), rel), rel

    def _make_tunnel(self) -> Tunnel:
        from .services import make_tunnel

        options = self.options
        return make_tunnel(self.settings, self.data_dir, tunnel_kind(self.settings, options),
                           public_url=options.public_url, domain=options.ngrok_domain,
                           ngrok_path=options.ngrok_path or self.settings.ngrok_path or None)

    def _address(self) -> tuple[str, int]:
        settings = self.settings
        return (self.options.host or settings.host,
                settings.port if self.options.port is None else self.options.port)


def inbox_problem(settings: Settings, inbox: Path, fallback: tuple[Path, ...] = (), *,
                  named: bool = True) -> str | None:
    """Why notes saved into `inbox` would never be searchable, for the user; None: they would be
    (review of #18, finding 9). An inbox inside a notes folder is read by that folder's walk: a
    hidden or ignored folder, or file types without .md, leave its notes out."""
    from notewell.indexer.errors import FolderError
    from notewell.indexer.sources import would_index

    from .services import source_options

    inbox = inbox.expanduser().resolve()
    folders = [Path(f).expanduser().resolve() for f in settings.folders] or [f.resolve() for f in fallback]
    holding = [folder for folder in folders if _inside(inbox, folder)]
    if not holding:
        return None  # a folder of its own: every saved note is read
    folder = max(holding, key=lambda f: len(f.parts))
    rel = (inbox / "Saved note.md").relative_to(folder).as_posix()
    try:
        if would_index(folder, rel, source_options(settings)):
            return None
    except FolderError:
        return None  # the folder itself is the problem, and the app says so elsewhere
    where = f"the inbox folder {inbox}" if named else "the inbox folder"  # `named=False`: for the assistant
    return (f"Notes saved into {where} would not be searchable: it is a hidden folder, matched by the "
            "ignore patterns, or .md is not among the file types. Choose another inbox folder in "
            "Notewell's Settings (Saving notes).")


def _inside(path: Path, folder: Path) -> bool:
    return path == folder.expanduser().resolve() or folder.expanduser().resolve() in path.parents


class LiveIndex:
    """What the server searches: the index open now. Settings that shape the index (the
    model, file types…) open it anew; the server goes on answering, from the old one until
    the new one is open, instead of restarting (review of #14: 500s and a 2 s outage)."""

    def __init__(self, index: NotesIndex) -> None:
        self.current = index

    def __getattr__(self, name: str) -> Any:
        return getattr(self.current, name)


class _ServeWhenReady:
    """The index's events, passed on; the first index opened is also served."""

    def __init__(self, events: RuntimeEvents, runtime: Runtime) -> None:
        self._events = events
        self._runtime = runtime
        self._live: LiveIndex | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._events, name)

    def index_ready(self, index: NotesIndex) -> None:
        sharing = self._runtime.sharing
        first = self._live is None
        if self._live is None:
            self._live = LiveIndex(index)
        else:
            self._live.current = index
        if first or sharing.server_state.state == "error":
            sharing.serve(self._live)
        self._events.index_ready(index)
