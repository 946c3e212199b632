"""`notewell doctor`: is the index equal to the disk, and are its two stores in step?

    report = check(index, folders)       # reads only
    repair(index, folders).remaining     # fixes what it can, then checks again

What is checked:
- every file in the catalog exists with the recorded size and mtime, and every
  note a scan would find is in the catalog (folders as `NotesIndex.sync` sees them);
- every chunk has its keyword (FTS) row and its vector, and belongs to a file;
- nothing is orphaned: no keyword row without its chunk, no vector without its
  chunk, no removed chunk whose vector is still waiting to be deleted.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Sequence

from .errors import FolderError
from .keywords import index_text
from .notes_index import NotesIndex
from .sources import walk_folder
from .types import NoteFile, SkippedFile

ProblemKind = Literal[
    "folder_unreachable",  # a notes folder is missing or unreadable: not repairable here
    "folder_unlisted",  # the catalog holds a folder Notewell no longer indexes
    "file_missing",  # in the catalog, gone from disk (or now ignored)
    "file_changed",  # size, mtime or readability differ from the catalog
    "file_unindexed",  # on disk, not in the catalog
    "chunk_orphan",  # a chunk whose file row is gone
    "keyword_missing",  # a chunk without its FTS row
    "keyword_orphan",  # an FTS row without its chunk
    "vector_missing",  # a chunk marked embedded whose vector is not stored
    "vector_pending",  # a chunk still waiting for its vector
    "vector_orphan",  # a stored vector with no chunk
    "model_changed",  # the vectors were made by another embedding model
]

_DESCRIPTIONS: dict[str, str] = {
    "folder_unreachable": "notes folders cannot be read (reconnect the drive, or remove them in Settings)",
    "folder_unlisted": "folders are in the index but no longer in Settings",
    "file_missing": "notes are in the index but gone from disk",
    "file_changed": "notes changed on disk since they were indexed",
    "file_unindexed": "notes on disk are not in the index",
    "chunk_orphan": "passages belong to no note",
    "keyword_missing": "passages lack their keyword-index entry",
    "keyword_orphan": "keyword-index entries belong to no passage",
    "vector_missing": "passages lack their vector",
    "vector_pending": "passages wait to be embedded",
    "vector_orphan": "vectors belong to no passage",
    "model_changed": "the vectors were made by another embedding model",
}


@dataclass(frozen=True)
class Problem:
    kind: ProblemKind
    folder: str | None = None
    item: str | None = None  # a path relative to `folder`, or a chunk id


@dataclass(frozen=True)
class DoctorReport:
    problems: tuple[Problem, ...]
    files: int  # catalog files checked
    chunks: int
    vectors: int

    @property
    def ok(self) -> bool:
        return not self.problems

    def counts(self) -> dict[str, int]:
        return dict(Counter(p.kind for p in self.problems))

    def lines(self, examples: int = 3) -> list[str]:
        """What `notewell doctor` prints: one line per kind of problem, with a few examples."""
        if self.ok:
            return [f"No problems: {self.files} files, {self.chunks} passages, {self.vectors} vectors checked."]
        out = []
        for kind, count in sorted(self.counts().items()):
            items = [p for p in self.problems if p.kind == kind][:examples]
            shown = ", ".join(_shown(p) for p in items)
            more = ", …" if count > len(items) else ""
            description = _DESCRIPTIONS[kind]
            out.append(f"{description[0].upper()}{description[1:]}: {count} ({shown}{more})")
        return out

    def to_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "files": self.files,
            "chunks": self.chunks,
            "vectors": self.vectors,
            "counts": self.counts(),
            "problems": [{"kind": p.kind, "folder": p.folder, "item": p.item} for p in self.problems],
        }


@dataclass(frozen=True)
class Repair:
    found: DoctorReport
    remaining: DoctorReport


def check(index: NotesIndex, folders: Sequence[Path] | None = None) -> DoctorReport:
    """Compare the index with the disk and its two stores with each other; changes nothing.

    `folders`: the folders the index should hold (default: those it holds).
    """
    catalog = index.catalog
    problems: list[Problem] = []
    held = catalog.folders()
    wanted = list(held) if folders is None else [str(Path(f).expanduser().resolve()) for f in folders]
    problems += [Problem("folder_unlisted", folder) for folder in held if folder not in wanted]
    for folder in wanted:
        problems += _check_folder(index, folder, held.get(folder))

    chunk_ids = {cid for (cid,) in catalog.query("SELECT id FROM chunks")}
    problems += [
        Problem("chunk_orphan", None, cid)
        for (cid,) in catalog.query("SELECT id FROM chunks WHERE file_id NOT IN (SELECT id FROM files)")
    ]
    problems += [
        Problem("keyword_missing", None, cid)
        for (cid,) in catalog.query("SELECT id FROM chunks WHERE rowid NOT IN (SELECT rowid FROM chunks_fts)")
    ]
    problems += [
        Problem("keyword_orphan", None, str(rowid))
        for (rowid,) in catalog.query("SELECT rowid FROM chunks_fts WHERE rowid NOT IN (SELECT rowid FROM chunks)")
    ]
    stored = index.vectors.all_ids()
    embedded = {cid for cid, flag in catalog.query("SELECT id, embedded FROM chunks") if flag}
    problems += [Problem("vector_missing", None, cid) for cid in sorted(embedded - stored)]
    problems += [Problem("vector_pending", None, cid) for cid in sorted(chunk_ids - embedded)]
    problems += [Problem("vector_orphan", None, cid) for cid in sorted(stored - chunk_ids)]
    model = catalog.get_meta("model")
    if model is not None and model != index.embedder.name and chunk_ids:
        problems.append(Problem("model_changed", None, f"{model} → {index.embedder.name}"))
    files = int(catalog.query("SELECT count(*) FROM files")[0][0])
    return DoctorReport(tuple(problems), files, len(chunk_ids), len(stored))


def repair(index: NotesIndex, folders: Sequence[Path] | None = None,
           cancel: threading.Event | None = None) -> Repair:
    """Fix what `check` finds, then check again; an unreachable folder stays as it is."""
    found = check(index, folders)
    held = list(index.catalog.folders())
    wanted = held if folders is None else [str(Path(f).expanduser().resolve()) for f in folders]
    with index.writing(cancel):
        _repair_stores(index)
    unlisted = [Path(f) for f in held if f not in wanted]
    if unlisted:
        index.remove_folders(unlisted, cancel)
    # Files, pending vectors and a changed model are what a sync is for.
    index.sync([Path(f) for f in wanted], cancel=cancel)
    return Repair(found, check(index, folders))


def _check_folder(index: NotesIndex, folder: str, folder_id: int | None) -> list[Problem]:
    known = index.catalog.files_in(folder_id) if folder_id is not None else {}
    try:
        entries = list(walk_folder(Path(folder), index.pipeline.options))
    except FolderError:
        return [Problem("folder_unreachable", folder)]
    problems = []
    seen: set[str] = set()
    for entry in entries:
        seen.add(entry.rel)
        row = known.get(entry.rel)
        if row is None:
            problems.append(Problem("file_unindexed", folder, entry.rel))
        elif isinstance(entry, SkippedFile):
            if row.status != "skipped":
                problems.append(Problem("file_changed", folder, entry.rel))
        elif isinstance(entry, NoteFile) and (row.size, row.mtime_ns) != (entry.size, entry.mtime_ns):
            problems.append(Problem("file_changed", folder, entry.rel))
    problems += [Problem("file_missing", folder, rel) for rel in sorted(set(known) - seen)]
    return problems


def _repair_stores(index: NotesIndex) -> None:
    """Bring the catalog's keyword rows and the vector store in step with the chunks."""
    catalog, vectors = index.catalog, index.vectors
    with catalog.transaction() as db:
        for rowid, cid, text_hash in db.execute(
            "SELECT rowid, id, text_hash FROM chunks WHERE file_id NOT IN (SELECT id FROM files)"
        ).fetchall():
            db.execute("DELETE FROM chunks WHERE rowid = ?", (rowid,))
            db.execute("DELETE FROM chunks_fts WHERE rowid = ?", (rowid,))
            db.execute("INSERT OR REPLACE INTO vector_deletes(id, text_hash) VALUES (?, ?)", (cid, text_hash))
        db.execute("DELETE FROM chunks_fts WHERE rowid NOT IN (SELECT rowid FROM chunks)")
        missing = db.execute(
            "SELECT c.rowid, f.title, c.heading, c.text FROM chunks c JOIN files f ON f.id = c.file_id "
            "WHERE c.rowid NOT IN (SELECT rowid FROM chunks_fts)"
        ).fetchall()
        db.executemany(
            "INSERT INTO chunks_fts(rowid, title, heading, body) VALUES (?, ?, ?, ?)",
            [(rowid, index_text(title), index_text(heading), index_text(text)) for rowid, title, heading, text in missing],
        )
    chunk_ids = {cid for (cid,) in catalog.query("SELECT id FROM chunks")}
    stored = vectors.all_ids()
    lost = [cid for (cid,) in catalog.query("SELECT id FROM chunks WHERE embedded = 1") if cid not in stored]
    if lost:
        with catalog.transaction() as db:
            db.executemany("UPDATE chunks SET embedded = 0 WHERE id = ?", [(cid,) for cid in lost])
    orphans = sorted(stored - chunk_ids)
    if orphans:
        vectors.delete(orphans)
    # Every tombstone's vector is gone now; one naming a live chunk was never valid.
    catalog.clear_vector_deletes(catalog.pending_vector_deletes())


def _shown(problem: Problem) -> str:
    if problem.item is None:
        return problem.folder or "?"
    if problem.folder:
        return os.path.join(problem.folder, problem.item)
    return problem.item
