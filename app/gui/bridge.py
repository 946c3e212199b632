"""The one place where worker-thread callbacks become Qt signals.

Controllers (`app.indexing`, `app.sharing`, the activity log) call the plain
methods below from their own threads; each re-emits a signal. The bridge lives
on the GUI thread, so Qt queues every emission to it and views connect to the
signals as usual. `run` does a job on a worker thread and calls back on the
GUI thread.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable

from PySide6.QtCore import QObject, Qt, Signal, Slot


class Bridge(QObject):
    progress_changed = Signal(object)  # indexer.types.Progress
    folders_changed = Signal(object)  # list[FolderStatus]
    index_state_changed = Signal(str, str)  # state, message
    index_opened = Signal(object)  # NotesIndex
    folder_went_missing = Signal(str)
    index_changed_on_disk = Signal(object)  # indexer.watcher.WatchEvent
    server_state_changed = Signal(object)  # app.sharing.ServerState
    tunnel_status_changed = Signal(object)  # plugin_api.tunnel.TunnelStatus
    activity_recorded = Signal(object)  # plugin_api.activity.ActivityEntry
    consent_requested = Signal(object)  # plugin_api.consent.ConsentRequest
    save_requested = Signal(object)  # plugin_api.save_consent.SaveRequest (again when it is over)
    clients_changed = Signal()  # OAuth grants added or revoked
    _deliver = Signal(object, object)

    def __init__(self, parent: QObject | None = None, workers: int = 2) -> None:
        super().__init__(parent)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="notewell-task")
        self._deliver.connect(self._on_deliver, Qt.ConnectionType.QueuedConnection)

    # -- app.indexing.IndexEvents --------------------------------------------
    def index_progress(self, progress: Any) -> None:
        self.progress_changed.emit(progress)

    def index_folders(self, statuses: Any) -> None:
        self.folders_changed.emit(statuses)

    def index_state(self, state: str, message: str) -> None:
        self.index_state_changed.emit(state, message)

    def index_ready(self, index: Any) -> None:
        self.index_opened.emit(index)

    def folder_missing(self, folder: str) -> None:
        self.folder_went_missing.emit(folder)

    def index_changed(self, event: Any) -> None:
        self.index_changed_on_disk.emit(event)

    # -- app.sharing.SharingEvents -------------------------------------------
    def server_changed(self, state: Any) -> None:
        self.server_state_changed.emit(state)

    def tunnel_changed(self, status: Any) -> None:
        self.tunnel_status_changed.emit(status)

    # -- plugin_api.activity listener ----------------------------------------
    def activity(self, entry: Any) -> None:
        self.activity_recorded.emit(entry)

    # -- plugin_api.consent / oauth_store listeners ---------------------------
    def consent(self, request: Any) -> None:
        self.consent_requested.emit(request)

    def save_consent(self, request: Any) -> None:
        self.save_requested.emit(request)

    def clients(self) -> None:
        self.clients_changed.emit()

    # -- background jobs -----------------------------------------------------
    def run(
        self,
        job: Callable[[], Any],
        done: Callable[[Any], None],
        failed: Callable[[BaseException], None] | None = None,
    ) -> Future[Any]:
        """Run `job` on a worker thread; `done(result)` or `failed(error)` on the GUI thread."""

        def finished(future: Future[Any]) -> None:
            error = future.exception()
            if error is None:
                self._deliver.emit(done, future.result())
            elif failed is not None:
                self._deliver.emit(failed, error)

        try:
            future = self._pool.submit(job)
        except RuntimeError as exc:  # shut down (Quit): nothing runs any more
            future = Future()
            future.set_exception(exc)
        future.add_done_callback(finished)
        return future

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    @Slot(object, object)
    def _on_deliver(self, callback: Callable[[Any], None], value: Any) -> None:
        callback(value)
