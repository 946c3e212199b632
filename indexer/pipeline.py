"""The single writer: folders on disk → catalog (+ keyword index) → vectors.

A sync runs in three phases, each safe to interrupt:
1. scan: walk each folder; a file whose size and mtime match the catalog costs a
   `stat`; otherwise it is read and hashed, and only changed content is parsed,
   chunked and written to the catalog (keyword search sees it at once);
2. embed: chunks without a vector get one, reusing a stored vector when the same
   text was embedded before (renames, edits that keep most paragraphs), batched
   across files so the model runs on full batches;
3. cleanup: vectors of removed chunks are deleted from the vector store.
A later run finishes whatever an interrupted one left.
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .catalog import Catalog, NewChunk, NoteRecord, chunk_identity, note_id_for
from .chunking import chunk_document, embedding_text
from .embedding import Embedder
from .errors import EmbeddingError, FolderError, SkipFile
from .sources import SourceOptions, content_hash, parse_note, read_bytes, walk_folder, walk_paths
from .types import NoteFile, Progress, SkippedFile, SyncSummary
from .vectors import VectorStore

log = logging.getLogger(__name__)

ProgressCallback = Callable[[Progress], None]

# After this many notes written or removed, the keyword index is merged into one
# segment (half a second for 58k chunks; keyword queries then cost ~10% less).
_OPTIMIZE_AFTER = 500
EMBED_BATCH = 64  # chunks handed to the model at once (sorted by length); a stop waits for one batch (a few seconds)
STORE_BATCH = 256  # chunks fetched, embedded batch by batch, then written to the vector store at once
WRITE_BATCH = 50  # notes written to the catalog per transaction
# The vector store is rebuilt once it has deleted this many vectors and at least as many as
# it holds: its graph keeps deleted vectors' nodes, so edits slowly make it bigger and slower.
COMPACT_AFTER = 2000
_DEVICE = "device:"  # meta key prefix: the disk a folder's notes were read from


@dataclass
class _Scan:
    to_read: list[NoteFile]
    gone: list[int]
    touched: int = 0


def _rels_under(folder: str, paths: Sequence[Path]) -> set[str]:
    """POSIX paths relative to `folder` ("" for the folder itself) of those inside it."""
    prefix = os.path.join(folder, "")
    rels: set[str] = set()
    for path in paths:
        text = os.path.normpath(os.fspath(path))
        if text == folder:
            rels.add("")
        elif text.startswith(prefix):
            rels.add(text[len(prefix) :].replace(os.sep, "/"))
    return rels


class Pipeline:
    def __init__(
        self,
        catalog: Catalog,
        vectors: VectorStore,
        embedder: Embedder,
        options: SourceOptions,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> None:
        self.catalog = catalog
        self.vectors = vectors
        self.embedder = embedder
        self.options = options
        self.should_stop = should_stop

    # -- public -------------------------------------------------------------
    def check_model(self) -> str | None:
        """Reset vectors when the embedding model changed; returns a message if so."""
        previous = self.catalog.get_meta("model")
        if previous == self.embedder.name:
            return None
        message = None
        if previous is not None:
            pending = self.catalog.counts()["chunks"]
            message = (
                f"The embedding model changed from {previous} to {self.embedder.name}: "
                f"re-embedding {pending} chunks."
            )
            log.warning(message)
            self.vectors.reset()
            self.catalog.mark_all_unembedded()
        self.catalog.set_meta("model", self.embedder.name)
        return message

    def sync(self, folders: Sequence[Path], progress: ProgressCallback | None = None) -> SyncSummary:
        """Bring `folders` up to date (other folders in the index are left as they are)."""
        started = time.perf_counter()
        report = progress or (lambda p: None)
        summary = SyncSummary()
        self.check_model()
        self.apply_vector_deletes()
        wanted = [str(Path(f).expanduser().resolve()) for f in folders]
        for folder in wanted:
            if self.should_stop():
                break
            self._sync_folder(folder, summary, report)
        self.embed_pending(summary, report)
        self.apply_vector_deletes()
        if summary.indexed + summary.removed >= _OPTIMIZE_AFTER:
            self.catalog.optimize_keywords()
        if not self.should_stop():
            self.compact_vectors_if_needed(report)
        summary.seconds = time.perf_counter() - started
        report(Progress("done", None, 1, 1, summary.line()))
        return summary

    def remove_folders(self, folders: Sequence[str], summary: SyncSummary,
                       report: ProgressCallback = lambda p: None) -> None:
        """Take these folders' notes out of the index (the only way a folder's notes leave it)."""
        known = self.catalog.folders()
        for folder in folders:
            folder_id = known.get(folder)
            if folder_id is not None:
                report(Progress("removing", folder, 0, 0, "folder removed from Notewell"))
                summary.removed += self.catalog.remove_folder(folder_id)
        self.apply_vector_deletes()

    def sync_files(self, folder: str, paths: Sequence[Path], summary: SyncSummary) -> None:
        """Bring these paths (the watcher's batch) up to date as a full scan would see them.

        A folder stands for everything under it; paths now missing, hidden or ignored
        leave the index; paths outside `folder` are left alone. If the folder itself
        is gone (a drive unplugged), its notes stay, as in a full sync.
        """
        folder_id = self.catalog.folder_id(folder)
        assert folder_id is not None
        rels = _rels_under(folder, paths)
        if not rels:
            return
        try:
            self._check_mounted(folder, folder_id, self.catalog.has_files(folder_id))
            entries = list(walk_paths(Path(folder), rels, self.options.for_folder(folder)))
        except FolderError as exc:
            log.warning("%s", exc)
            return
        known = self.catalog.files_under(folder_id, rels)
        scan = _Scan([], [])
        seen: set[str] = set()
        for entry in entries:
            seen.add(entry.rel)
            if isinstance(entry, SkippedFile):
                row = known.get(entry.rel)
                if row is None or row.status != "skipped":
                    self.catalog.write_problem(folder_id, folder, entry.rel, 0, 0, None, "skipped", entry.reason)
                summary.skipped += 1
            else:
                scan.to_read.append(entry)
        scan.gone = [row.id for rel, row in known.items() if rel not in seen]
        self._apply_scan(folder, folder_id, scan, known, summary, lambda p: None)

    def embed_pending(self, summary: SyncSummary, report: ProgressCallback) -> None:
        """Embed every passage without a vector, the most recently modified notes first."""
        waiting = deque(self.catalog.pending_files())
        total = sum(n for _, n in waiting)
        done = 0
        if total:
            report(Progress("embedding", None, 0, total))
        while waiting and not self.should_stop():
            files: list[int] = []
            count = 0
            while waiting and count < STORE_BATCH:
                file_id, n = waiting.popleft()
                files.append(file_id)
                count += n
            window = self.catalog.pending_chunks(files)
            if not window:
                continue
            reused = self._reuse_vectors(window)
            summary.reused += len(reused)
            done += len(reused)
            if reused:
                report(Progress("embedding", None, min(done, total), total))
            fresh = [row for row in window if row[0] not in reused]
            stored = self._embed_and_store(fresh, summary, lambda n: report(
                Progress("embedding", None, min(done + n, total), total)))
            done += stored
            if stored < len(fresh):  # stopped part-way: the rest waits for the next run
                break

    def _embed_and_store(
        self, rows: list[tuple[str, str, str, str, str, int]], summary: SyncSummary,
        progress: Callable[[int], None],
    ) -> int:
        """Embed `rows` a model batch at a time and store the vectors in one write; returns
        how many were stored (fewer when asked to stop). One Chroma write per window, not
        per model batch: each write has a fixed cost (~20% less per vector at 256 than 64)."""
        parts: list[np.ndarray] = []
        count = 0
        for start in range(0, len(rows), EMBED_BATCH):
            if self.should_stop():  # before the first batch too: it may start the model's export
                break
            batch = rows[start : start + EMBED_BATCH]
            texts = [embedding_text(title, heading, text) for _, _, title, heading, text, _ in batch]
            try:
                parts.append(self.embedder.embed_documents(texts))
            except EmbeddingError:
                if self.should_stop():  # stopped while the model was being prepared: resume next run
                    break
                raise
            count += len(batch)
            progress(count)
        if count:
            ids = [row[0] for row in rows[:count]]
            self.vectors.upsert(ids, np.concatenate(parts), [row[5] for row in rows[:count]])
            self.catalog.mark_embedded(ids)
            summary.chunks += count
        return count

    # -- scan ---------------------------------------------------------------
    def _sync_folder(self, folder: str, summary: SyncSummary, report: ProgressCallback) -> None:
        report(Progress("scanning", folder, 0, 0))
        folder_id = self.catalog.folder_id(folder)
        assert folder_id is not None
        known = self.catalog.files_in(folder_id)
        scan = _Scan([], [])
        seen: set[str] = set()
        try:
            self._check_mounted(folder, folder_id, bool(known))
            entries = list(walk_folder(Path(folder), self.options.for_folder(folder)))
        except FolderError as exc:
            report(Progress("scanning", folder, 0, 0, str(exc)))
            log.warning("%s", exc)
            return
        for entry in entries:
            seen.add(entry.rel)
            row = known.get(entry.rel)
            if isinstance(entry, SkippedFile):
                if row is None or row.status != "skipped":
                    self.catalog.write_problem(folder_id, folder, entry.rel, 0, 0, None, "skipped", entry.reason)
                summary.skipped += 1
            elif row is not None and row.size == entry.size and row.mtime_ns == entry.mtime_ns:
                summary.unchanged += 1
                summary.skipped += row.status == "skipped"
                summary.failed += row.status == "failed"
            else:
                scan.to_read.append(entry)
        scan.gone = [row.id for rel, row in known.items() if rel not in seen]
        self._apply_scan(folder, folder_id, scan, known, summary, report)

    def folder_looks_unmounted(self, folder: str) -> bool:
        """An empty folder on another disk than the one its notes were read from: the mount
        point of a drive that is not there (#14: an unmounted drive wiped its notes)."""
        recorded = self.catalog.get_meta(_DEVICE + folder)
        try:
            device = os.stat(folder).st_dev
            with os.scandir(folder) as entries:
                empty = next(entries, None) is None
        except OSError:
            return False
        return recorded is not None and int(recorded) != device and empty

    def _check_mounted(self, folder: str, folder_id: int, has_notes: bool) -> None:
        if has_notes and self.folder_looks_unmounted(folder):
            raise FolderError(
                f"The notes folder {folder} is empty and on another disk than before: its drive seems "
                "unmounted. Its notes stay searchable; mount the drive again, or remove the folder in Settings."
            )
        try:
            device = str(os.stat(folder).st_dev)
        except OSError:
            return
        if self.catalog.get_meta(_DEVICE + folder) != device and not self.catalog.read_only:
            self.catalog.set_meta(_DEVICE + folder, device)

    def _apply_scan(
        self, folder: str, folder_id: int, scan: _Scan, known: dict, summary: SyncSummary,
        report: ProgressCallback,
    ) -> None:
        if scan.gone:
            self.catalog.remove_files(scan.gone)
            summary.removed += len(scan.gone)
        touched: list[tuple[int, int, int]] = []
        records: list[NoteRecord] = []
        total = len(scan.to_read)
        saved_only = self.options.saved_only(folder)  # asked once per folder, not per note
        for done, file in enumerate(scan.to_read, 1):
            if self.should_stop():
                break
            if done % WRITE_BATCH == 0 or done == total:
                report(Progress("reading", folder, done, total))
            if len(records) >= WRITE_BATCH:
                self.catalog.write_notes(folder_id, folder, records)
                records = []
            row = known.get(file.rel)
            try:
                data = read_bytes(file, self.options.max_bytes)
                digest = content_hash(data)
                if row is not None and row.hash == digest and row.status == "indexed":
                    touched.append((file.size, file.mtime_ns, row.id))
                    summary.unchanged += 1
                    continue
                record = self._record(folder, file, data, digest, saved_only)
            except SkipFile as exc:
                self.catalog.write_problem(
                    folder_id, folder, file.rel, file.size, file.mtime_ns, None, "skipped", exc.reason
                )
                summary.skipped += 1
                continue
            except Exception as exc:  # one bad file never aborts the run
                log.exception("failed to index %s", file.path)
                self.catalog.write_problem(
                    folder_id, folder, file.rel, file.size, file.mtime_ns, None, "failed",
                    f"{type(exc).__name__}: {exc}",
                )
                summary.failed += 1
                continue
            records.append(record)
            summary.indexed += 1
        if records:
            self.catalog.write_notes(folder_id, folder, records)
        if touched:
            self.catalog.touch_files(touched)

    def _record(self, folder: str, file: NoteFile, data: bytes, digest: str, saved_only: bool = False) -> NoteRecord:
        doc = parse_note(file, data, saved_only)
        drafts = chunk_document(
            doc, count_tokens=self.embedder.count_tokens, max_tokens=self.embedder.max_tokens
        )
        note_id = note_id_for(folder, file.rel)
        chunks: list[NewChunk] = []
        seen: set[str] = set()
        for draft in drafts:
            text = embedding_text(doc.title, draft.heading, draft.text)
            cid, text_hash = chunk_identity(note_id, text)
            if text_hash in seen:
                # A repeat of a passage under the same heading finds nothing new, and a pile of
                # identical vectors traps the vector index's graph search (the true nearest
                # neighbours of a query go unfound).
                continue
            seen.add(text_hash)
            chunks.append(NewChunk(cid, draft, text_hash))
        return NoteRecord(
            rel=file.rel, size=file.size, mtime_ns=file.mtime_ns, hash=digest, title=doc.title,
            tags=doc.tags, modified_at=file.mtime_ns / 1e9, text=doc.text, chunks=chunks,
        )

    # -- vectors ------------------------------------------------------------
    def _reuse_vectors(self, batch: list[tuple[str, str, str, str, str, int]]) -> set[str]:
        """Give pending chunks vectors already stored for the same text; returns their ids."""
        ids = [row[0] for row in batch]
        # A crash between storing vectors and marking them leaves them stored.
        already = self.vectors.existing(ids)
        donors = self.catalog.vector_donors([row[1] for row in batch if row[0] not in already])
        wanted = {row[0]: donors[row[1]] for row in batch if row[0] not in already and row[1] in donors}
        if wanted:
            stored = self.vectors.vectors(sorted(set(wanted.values())))
            wanted = {cid: donor for cid, donor in wanted.items() if donor in stored}
            if wanted:
                ids_ = list(wanted)
                file_ids = {row[0]: row[5] for row in batch}
                matrix = np.stack([stored[wanted[cid]] for cid in ids_])
                self.vectors.upsert(ids_, matrix, [file_ids[cid] for cid in ids_])
        done = sorted(already | set(wanted))
        if done:
            self.catalog.mark_embedded(done)
        return set(done)

    def compact_vectors_if_needed(self, report: ProgressCallback = lambda p: None) -> bool:
        """Rebuild the vector store when deleted vectors weigh on it (see COMPACT_AFTER)."""
        deleted = self.catalog.vectors_deleted()
        if deleted < COMPACT_AFTER or deleted < self.catalog.count_embedded():
            return False
        self.compact_vectors(report)
        return True

    def compact_vectors(self, report: ProgressCallback = lambda p: None) -> None:
        """Copy the live vectors into a fresh vector store and swap it in (searches go on)."""
        deleted = self.catalog.vectors_deleted()
        live = self.catalog.count_embedded()
        report(Progress("tidying", None, 0, 0,
                        f"Tidying the vector store after many edits (about {max(1, live // 2000)} s)…"))
        started = time.perf_counter()
        kept = self.vectors.compact()
        self.catalog.vector_store_rebuilt()
        log.info("vector store rebuilt without %d deleted vectors (%d kept) in %.1f s",
                 deleted, kept, time.perf_counter() - started)

    def apply_vector_deletes(self) -> None:
        ids = self.catalog.pending_vector_deletes()
        if ids:
            self.vectors.delete(ids)
            self.catalog.clear_vector_deletes(ids)
