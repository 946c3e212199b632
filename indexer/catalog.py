"""The SQLite catalog: folders, files, chunks, the FTS5 keyword index, and a journal
of vector deletions, so the catalog and the vector store can be reconciled after a
crash at any point.

Invariants (each write below is one transaction):
- every chunk row has its FTS row; `embedded = 1` only once its vector is stored;
- a chunk removed from the catalog leaves a row in `vector_deletes` until its
  vector is gone from the vector store (so nothing is orphaned there).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, NamedTuple, Sequence

from .errors import DiskFull, ReadOnlyData, StoreError, is_disk_full
from .keywords import index_text, match_phrase
from .types import ChunkDraft, SearchFilters

SCHEMA_VERSION = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS folders (id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY,
    folder_id INTEGER NOT NULL REFERENCES folders(id),
    rel TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    hash TEXT,
    status TEXT NOT NULL,              -- indexed | skipped | failed
    reason TEXT,
    note_id TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL DEFAULT '',
    tags TEXT NOT NULL DEFAULT '[]',
    modified_at REAL NOT NULL,         -- unix seconds
    UNIQUE (folder_id, rel)
);
CREATE TABLE IF NOT EXISTS file_tags (
    file_id INTEGER NOT NULL, tag TEXT NOT NULL, PRIMARY KEY (tag, file_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS note_text (file_id INTEGER PRIMARY KEY, text TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS chunks (
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    file_id INTEGER NOT NULL,
    ord INTEGER NOT NULL,
    heading TEXT NOT NULL,
    text TEXT NOT NULL,
    start_line INTEGER NOT NULL,
    end_line INTEGER NOT NULL,
    text_hash TEXT NOT NULL,
    embedded INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS chunks_by_file ON chunks(file_id);
CREATE INDEX IF NOT EXISTS chunks_by_hash ON chunks(text_hash);
CREATE INDEX IF NOT EXISTS chunks_pending ON chunks(embedded) WHERE embedded = 0;
CREATE INDEX IF NOT EXISTS files_by_modified ON files(modified_at);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    title, heading, body, tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TABLE IF NOT EXISTS vector_deletes (id TEXT PRIMARY KEY, text_hash TEXT NOT NULL);
"""

_VECTORS_DELETED = "vectors_deleted_since_build"  # meta key


class FileRow(NamedTuple):  # a tuple: 38,000 of them are built on every no-op sync
    id: int
    rel: str
    size: int
    mtime_ns: int
    hash: str | None
    status: str


@dataclass(frozen=True)
class ChunkRow:
    rowid: int
    id: str
    file_id: int
    note_id: str
    folder: str
    rel: str
    title: str
    heading: str
    text: str
    start_line: int
    end_line: int
    modified_at: float
    tags: tuple[str, ...]


@dataclass(frozen=True)
class NewChunk:
    """A chunk ready for the catalog: its id and hash derive from what is embedded."""

    id: str
    draft: ChunkDraft
    text_hash: str


@dataclass(frozen=True)
class NoteRecord:
    """What the pipeline writes for one readable note."""

    rel: str
    size: int
    mtime_ns: int
    hash: str
    title: str
    tags: tuple[str, ...]
    modified_at: float
    text: str
    chunks: Sequence[NewChunk]


def note_id_for(folder: str, rel: str) -> str:
    """Opaque id, stable while the note keeps its path."""
    return hashlib.blake2b(f"{folder}\0{rel}".encode(), digest_size=10).hexdigest()


def chunk_identity(note_id: str, embedded_text: str) -> tuple[str, str]:
    """(chunk id, text hash): equal text under equal title/heading keeps its id (a note holds it once)."""
    text_hash = hashlib.blake2b(embedded_text.encode(), digest_size=16).hexdigest()
    return f"{note_id}-{text_hash[:16]}", text_hash


class Catalog:
    """One SQLite database, shared between threads.

    Writes go through one connection under one lock. Reads from any other thread use
    that thread's own connection: in WAL mode they never wait for a write, so searches
    stay fast while a big index is written.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        # A data folder on a read-only disk (a backup, a locked-down machine) is still
        # searched; only writes fail, in words (#14).
        self.read_only = path.is_file() and not os.access(path.parent, os.W_OK)
        self._uri = _read_only_uri(path) if self.read_only else None
        try:
            if self.read_only:
                self._db = self._connect()
                self._db.execute("SELECT count(*) FROM meta").fetchone()
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
                self._db.execute("PRAGMA busy_timeout=5000")
                self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise StoreError(
                f"Could not open the catalog at {path}: {exc}. "
                "Check that the data folder is writable, or choose another with --data-dir."
            ) from exc
        self._lock = threading.RLock()
        self._writing_thread: int | None = None
        self._local = threading.local()
        self._readers: list[tuple[sqlite3.Connection, threading.Lock]] = []
        self._readers_lock = threading.Lock()
        if not self.read_only and self.get_meta("schema") is None:
            self.set_meta("schema", SCHEMA_VERSION)

    def _connect(self) -> sqlite3.Connection:
        if self._uri is not None:
            return sqlite3.connect(self._uri, uri=True, check_same_thread=False, isolation_level=None)
        return sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)

    def close(self) -> None:
        with self._lock:
            self._db.close()
            with self._readers_lock:
                for reader, lock in self._readers:
                    with lock:
                        reader.close()
                self._readers.clear()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        if self.read_only:
            raise ReadOnlyData(self.path.parent)
        with self._lock:
            self._writing_thread = threading.get_ident()
            try:
                self._db.execute("BEGIN IMMEDIATE")
                yield self._db
                self._db.execute("COMMIT")
            except BaseException as exc:
                # Trigger: a failed COMMIT (a full disk). Why: SQLite has already rolled back,
                # and a ROLLBACK now would fail and hide the cause (#14: "cannot rollback - no
                # transaction is active"). Outcome: the real error, in words.
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                if is_disk_full(exc):
                    raise DiskFull(self.path.parent) from exc
                raise
            finally:
                self._writing_thread = None

    def query(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:
        if self._writing_thread == threading.get_ident():  # inside its own transaction: see its writes
            with self._lock:
                return self._db.execute(sql, params).fetchall()
        reader, lock = self._reader()
        with lock:  # held so that close() never pulls the connection out from under a read
            return reader.execute(sql, params).fetchall()

    def _reader(self) -> tuple[sqlite3.Connection, threading.Lock]:
        found = getattr(self._local, "reader", None)
        if found is None:
            try:
                reader = self._connect()
                reader.execute("PRAGMA busy_timeout=5000")
                reader.execute("PRAGMA query_only=1")
                reader.execute("PRAGMA mmap_size=268435456")  # the keyword index, read from the page cache
            except sqlite3.Error as exc:
                raise StoreError(f"Could not read the catalog at {self.path}: {exc}") from exc
            found = (reader, threading.Lock())
            with self._readers_lock:
                self._readers.append(found)
            self._local.reader = found
        return found

    # -- meta ---------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        rows = self.query("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    # -- folders and files --------------------------------------------------
    def folder_id(self, folder: str, create: bool = True) -> int | None:
        rows = self.query("SELECT id FROM folders WHERE path = ?", (folder,))
        if rows:
            return int(rows[0][0])
        if not create:
            return None
        with self.transaction() as db:
            return int(db.execute("INSERT INTO folders(path) VALUES (?)", (folder,)).lastrowid)

    def has_files(self, folder_id: int) -> bool:
        return bool(self.query("SELECT 1 FROM files WHERE folder_id = ? LIMIT 1", (folder_id,)))

    def folders(self) -> dict[str, int]:
        return {path: fid for fid, path in self.query("SELECT id, path FROM folders")}

    def files_in(self, folder_id: int) -> dict[str, FileRow]:
        rows = self.query(
            "SELECT id, rel, size, mtime_ns, hash, status FROM files WHERE folder_id = ?",
            (folder_id,),
        )
        return {r[1]: FileRow._make(r) for r in rows}

    def files_under(self, folder_id: int, rels: Iterable[str]) -> dict[str, FileRow]:
        """The folder's files at `rels` or below them ("" is the whole folder); index lookups only."""
        rels = set(rels)
        if "" in rels:
            return self.files_in(folder_id)
        out: dict[str, FileRow] = {}
        for rel in rels:
            # [rel, rel + "0") holds rel, everything under "rel/" ("/" sorts just before "0"), and
            # a few siblings such as "rel.md", which the check below drops.
            for row in self.query(
                "SELECT id, rel, size, mtime_ns, hash, status FROM files "
                "WHERE folder_id = ? AND rel >= ? AND rel < ?",
                (folder_id, rel, rel + "0"),
            ):
                if row[1] == rel or row[1].startswith(rel + "/"):
                    out[row[1]] = FileRow(*row)
        return out

    def touch_files(self, updates: Iterable[tuple[int, int, int]]) -> None:
        """Record a new size/mtime for files whose content did not change."""
        with self.transaction() as db:
            db.executemany("UPDATE files SET size = ?, mtime_ns = ? WHERE id = ?", updates)

    def write_notes(self, folder_id: int, folder: str, records: Sequence[NoteRecord]) -> int:
        """Insert or replace notes and their chunks in one transaction; returns chunks needing a vector."""
        pending = 0
        with self.transaction() as db:
            for record in records:
                file_id = self._upsert_file(
                    db, folder_id, note_id_for(folder, record.rel), record.rel, record.size,
                    record.mtime_ns, record.hash, "indexed", None, record.title, record.tags,
                    record.modified_at,
                )
                db.execute("INSERT OR REPLACE INTO note_text(file_id, text) VALUES (?, ?)", (file_id, record.text))
                db.execute("DELETE FROM file_tags WHERE file_id = ?", (file_id,))
                db.executemany(
                    "INSERT OR IGNORE INTO file_tags(file_id, tag) VALUES (?, ?)",
                    [(file_id, tag.lower()) for tag in record.tags],
                )
                pending += self._replace_chunks(db, file_id, record.title, record.chunks)
        return pending

    def write_problem(
        self, folder_id: int, folder: str, rel: str, size: int, mtime_ns: int,
        hash: str | None, status: str, reason: str,
    ) -> None:
        """Record a skipped or failed file; any chunks it had are removed."""
        note_id = note_id_for(folder, rel)
        with self.transaction() as db:
            file_id = self._upsert_file(
                db, folder_id, note_id, rel, size, mtime_ns, hash, status, reason, "", (), mtime_ns / 1e9
            )
            db.execute("DELETE FROM note_text WHERE file_id = ?", (file_id,))
            db.execute("DELETE FROM file_tags WHERE file_id = ?", (file_id,))
            self._replace_chunks(db, file_id, "", ())

    def remove_files(self, file_ids: Sequence[int]) -> None:
        with self.transaction() as db:
            for file_id in file_ids:
                self._replace_chunks(db, file_id, "", ())
                db.execute("DELETE FROM note_text WHERE file_id = ?", (file_id,))
                db.execute("DELETE FROM file_tags WHERE file_id = ?", (file_id,))
                db.execute("DELETE FROM files WHERE id = ?", (file_id,))

    def remove_folder(self, folder_id: int) -> int:
        ids = [r[0] for r in self.query("SELECT id FROM files WHERE folder_id = ?", (folder_id,))]
        self.remove_files(ids)
        with self.transaction() as db:
            db.execute("DELETE FROM folders WHERE id = ?", (folder_id,))
        return len(ids)

    def _upsert_file(
        self, db: sqlite3.Connection, folder_id: int, note_id: str, rel: str, size: int,
        mtime_ns: int, hash: str | None, status: str, reason: str | None, title: str,
        tags: Sequence[str], modified_at: float,
    ) -> int:
        row = db.execute("SELECT id FROM files WHERE folder_id = ? AND rel = ?", (folder_id, rel)).fetchone()
        values = (size, mtime_ns, hash, status, reason, title, json.dumps(list(tags), ensure_ascii=False), modified_at)
        if row:
            db.execute(
                "UPDATE files SET size=?, mtime_ns=?, hash=?, status=?, reason=?, title=?, tags=?, "
                "modified_at=? WHERE id=?",
                (*values, row[0]),
            )
            return int(row[0])
        cursor = db.execute(
            "INSERT INTO files(folder_id, rel, note_id, size, mtime_ns, hash, status, reason, title, "
            "tags, modified_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (folder_id, rel, note_id, *values),
        )
        return int(cursor.lastrowid)

    def _replace_chunks(
        self, db: sqlite3.Connection, file_id: int, title: str, chunks: Sequence[NewChunk]
    ) -> int:
        old = {
            cid: (rowid, text_hash)
            for rowid, cid, text_hash in db.execute(
                "SELECT rowid, id, text_hash FROM chunks WHERE file_id = ?", (file_id,)
            )
        }
        new_ids = {c.id for c in chunks}
        for cid, (rowid, text_hash) in old.items():
            if cid not in new_ids:
                db.execute("DELETE FROM chunks WHERE rowid = ?", (rowid,))
                db.execute("DELETE FROM chunks_fts WHERE rowid = ?", (rowid,))
                db.execute(
                    "INSERT OR REPLACE INTO vector_deletes(id, text_hash) VALUES (?, ?)", (cid, text_hash)
                )
        pending = 0
        for ord_, chunk in enumerate(chunks):
            d = chunk.draft
            if chunk.id in old:
                db.execute(
                    "UPDATE chunks SET ord=?, start_line=?, end_line=?, text=? WHERE rowid=?",
                    (ord_, d.start_line, d.end_line, d.text, old[chunk.id][0]),
                )
                continue
            # Trigger: this id was removed earlier and its vector is still stored.
            # Why: the text (and so the vector) is identical. Outcome: keep the vector.
            revived = db.execute("DELETE FROM vector_deletes WHERE id = ?", (chunk.id,)).rowcount
            cursor = db.execute(
                "INSERT INTO chunks(id, file_id, ord, heading, text, start_line, end_line, text_hash, "
                "embedded) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (chunk.id, file_id, ord_, d.heading, d.text, d.start_line, d.end_line,
                 chunk.text_hash, 1 if revived else 0),
            )
            db.execute(
                "INSERT INTO chunks_fts(rowid, title, heading, body) VALUES (?, ?, ?, ?)",
                (cursor.lastrowid, index_text(title), index_text(d.heading), index_text(d.text)),
            )
            pending += 0 if revived else 1
        return pending

    # -- vectors bookkeeping ------------------------------------------------
    def pending_files(self) -> list[tuple[int, int]]:
        """(file id, passages without a vector) of every such note, most recently modified
        first: on a big first index, what a person worked on lately is found by meaning
        first (#14)."""
        return self.query(
            "SELECT f.id, p.n FROM files f JOIN "
            "(SELECT file_id, count(*) AS n FROM chunks WHERE embedded = 0 GROUP BY file_id) p "
            "ON p.file_id = f.id ORDER BY f.modified_at DESC, f.id"
        )

    def pending_chunks(self, file_ids: Sequence[int]) -> list[tuple[str, str, str, str, str, int]]:
        """(chunk id, text hash, title, heading, text, file id) of these notes' passages
        without a vector, in the order of `file_ids`."""
        marks = ",".join("?" * len(file_ids))
        rows = self.query(
            "SELECT c.id, c.text_hash, f.title, c.heading, c.text, c.file_id FROM chunks c INDEXED BY chunks_by_file "
            f"JOIN files f ON f.id = c.file_id WHERE c.file_id IN ({marks}) AND c.embedded = 0 ORDER BY c.rowid",
            list(file_ids),
        )
        rank = {fid: n for n, fid in enumerate(file_ids)}
        return sorted(rows, key=lambda row: rank[row[5]])

    def has_vectors(self) -> bool:
        return bool(self.query("SELECT 1 FROM chunks WHERE embedded = 1 LIMIT 1"))

    def count_embedded(self) -> int:
        return int(self.query("SELECT count(*) FROM chunks WHERE embedded = 1")[0][0])

    def count_pending(self) -> int:
        return int(self.query("SELECT count(*) FROM chunks WHERE embedded = 0")[0][0])

    def mark_embedded(self, ids: Sequence[str]) -> None:
        with self.transaction() as db:
            db.executemany("UPDATE chunks SET embedded = 1 WHERE id = ?", [(i,) for i in ids])

    def mark_all_unembedded(self) -> None:
        """Every chunk needs a vector again (the vector store was emptied)."""
        with self.transaction() as db:
            db.execute("UPDATE chunks SET embedded = 0")
            db.execute("DELETE FROM vector_deletes")
            db.execute("DELETE FROM meta WHERE key = ?", (_VECTORS_DELETED,))

    def vector_donors(self, text_hashes: Sequence[str]) -> dict[str, str]:
        """text hash → id of a stored vector with that text (live chunk or pending delete)."""
        donors: dict[str, str] = {}
        for start in range(0, len(text_hashes), 500):
            part = list(text_hashes[start : start + 500])
            marks = ",".join("?" * len(part))
            for cid, text_hash in self.query(
                f"SELECT id, text_hash FROM vector_deletes WHERE text_hash IN ({marks}) "
                f"UNION ALL SELECT id, text_hash FROM chunks WHERE embedded = 1 AND text_hash IN ({marks})",
                part + part,
            ):
                donors.setdefault(text_hash, cid)
        return donors

    def pending_vector_deletes(self) -> list[str]:
        return [r[0] for r in self.query("SELECT id FROM vector_deletes")]

    def clear_vector_deletes(self, ids: Sequence[str]) -> None:
        """These vectors are gone from the vector store (counted: see `vectors_deleted`)."""
        with self.transaction() as db:
            db.executemany("DELETE FROM vector_deletes WHERE id = ?", [(i,) for i in ids])
            db.execute(
                "INSERT INTO meta(key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + excluded.value",
                (_VECTORS_DELETED, len(ids)),
            )

    def vectors_deleted(self) -> int:
        """Vectors deleted from the vector store since it was last built (its graph keeps them)."""
        return int(self.get_meta(_VECTORS_DELETED) or 0)

    def vector_store_rebuilt(self) -> None:
        self.set_meta(_VECTORS_DELETED, "0")

    def optimize_keywords(self) -> None:
        """Merge the keyword index's segments (after a big write; searches get a little faster)."""
        with self.transaction() as db:
            db.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('optimize')")

    # -- reading ------------------------------------------------------------
    def chunk_count(self) -> int:
        return int(self.query("SELECT count(*) FROM chunks")[0][0])

    def chunks_matching(self, term: str) -> int:
        """How many chunks the keyword index finds for one term."""
        try:
            return int(self.query("SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?", (match_phrase(term),))[0][0])
        except sqlite3.OperationalError:
            return 0
    def terms_in_chunks(self, terms: Sequence[str], ids: Sequence[str]) -> dict[str, set[str]]:
        """Which of `terms` each chunk holds (as the keyword index tokenizes and stems them)."""
        found: dict[str, set[str]] = {cid: set() for cid in ids}
        if not ids:
            return found
        by_rowid = dict(self.query(f"SELECT rowid, id FROM chunks WHERE id IN ({','.join('?' * len(ids))})", list(ids)))
        marks = ",".join("?" * len(by_rowid))
        for term in terms:
            try:  # FTS5 looks up each rowid: no walk over a common term's whole posting list
                rows = self.query(
                    f"SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ? AND rowid IN ({marks})",
                    [match_phrase(term), *by_rowid],
                )
            except sqlite3.OperationalError:
                continue
            for (rowid,) in rows:
                found[by_rowid[rowid]].add(term)
        return found

    def chunks_by_ids(self, ids: Sequence[str]) -> dict[str, ChunkRow]:
        out: dict[str, ChunkRow] = {}
        for start in range(0, len(ids), 500):
            part = list(ids[start : start + 500])
            marks = ",".join("?" * len(part))
            for row in self.query(_CHUNK_SELECT + f" WHERE c.id IN ({marks})", part):
                chunk = _chunk_row(row)
                out[chunk.id] = chunk
        return out

    def keyword_search(
        self, match: str, limit: int, filters: SearchFilters
    ) -> list[tuple[ChunkRow, float]]:
        where, params = filter_sql(filters)
        if where:
            sql = _CHUNK_SELECT_FTS + f" WHERE chunks_fts MATCH ? AND {where} ORDER BY score LIMIT ?"
        else:  # rank inside FTS5 first, then join only the few rows returned (a third faster)
            sql = _CHUNK_SELECT_TOP_FTS
        try:
            rows = self.query(sql, [match, *params, limit])
        except sqlite3.OperationalError as exc:
            raise StoreError(f"Keyword search failed: {exc}") from exc
        return [(_chunk_row(r[:-1]), float(r[-1])) for r in rows]

    def file_ids_matching(self, filters: SearchFilters) -> list[int]:
        where, params = filter_sql(filters)
        return [r[0] for r in self.query(f"SELECT f.id FROM files f WHERE f.status = 'indexed' AND {where}", params)]

    def note(self, note_id: str) -> tuple[str, str, str, str, float, tuple[str, ...]] | None:
        rows = self.query(
            "SELECT d.path, f.rel, f.title, t.text, f.modified_at, f.tags FROM files f "
            "JOIN folders d ON d.id = f.folder_id JOIN note_text t ON t.file_id = f.id "
            "WHERE f.note_id = ? AND f.status = 'indexed'",
            (note_id,),
        )
        if not rows:
            return None
        folder, rel, title, text, modified, tags = rows[0]
        return folder, rel, title, text, modified, tuple(json.loads(tags))

    def counts(self) -> dict[str, int]:
        (files, chunks, pending), = self.query(
            "SELECT (SELECT count(*) FROM files WHERE status='indexed'), (SELECT count(*) FROM chunks), "
            "(SELECT count(*) FROM chunks WHERE embedded = 0)"
        )
        return {"files": files, "chunks": chunks, "pending": pending}

    def folder_counts(self) -> list[tuple[str, int, int, int, int, int]]:
        """(folder, indexed files, chunks, pending chunks, skipped, failed) per folder."""
        return self.query(
            "SELECT d.path, "
            "(SELECT count(*) FROM files f WHERE f.folder_id = d.id AND f.status = 'indexed'), "
            "(SELECT count(*) FROM chunks c JOIN files f ON f.id = c.file_id WHERE f.folder_id = d.id), "
            "(SELECT count(*) FROM chunks c JOIN files f ON f.id = c.file_id "
            " WHERE f.folder_id = d.id AND c.embedded = 0), "
            "(SELECT count(*) FROM files f WHERE f.folder_id = d.id AND f.status = 'skipped'), "
            "(SELECT count(*) FROM files f WHERE f.folder_id = d.id AND f.status = 'failed') "
            "FROM folders d ORDER BY d.path"
        )

    def problems(self, folder_id: int) -> list[tuple[str, str, str]]:
        """(rel, status, reason) of files not indexed in a folder."""
        return self.query(
            "SELECT rel, status, reason FROM files WHERE folder_id = ? AND status != 'indexed' ORDER BY rel",
            (folder_id,),
        )


_CHUNK_COLUMNS = (
    "c.rowid, c.id, c.file_id, f.note_id, d.path, f.rel, f.title, c.heading, c.text, "
    "c.start_line, c.end_line, f.modified_at, f.tags"
)
_CHUNK_SELECT = (
    f"SELECT {_CHUNK_COLUMNS} FROM chunks c JOIN files f ON f.id = c.file_id "
    "JOIN folders d ON d.id = f.folder_id"
)
_BM25_WEIGHTS = "4.0, 2.0, 1.0"  # title, heading, body
_CHUNK_SELECT_FTS = (
    f"SELECT {_CHUNK_COLUMNS}, bm25(chunks_fts, {_BM25_WEIGHTS}) AS score FROM chunks_fts "
    "JOIN chunks c ON c.rowid = chunks_fts.rowid JOIN files f ON f.id = c.file_id "
    "JOIN folders d ON d.id = f.folder_id"
)

_CHUNK_SELECT_TOP_FTS = (
    f"SELECT {_CHUNK_COLUMNS}, top.score FROM ("
    f"SELECT rowid, bm25(chunks_fts, {_BM25_WEIGHTS}) AS score FROM chunks_fts WHERE chunks_fts MATCH ? "
    "ORDER BY score LIMIT ?) top "
    "JOIN chunks c ON c.rowid = top.rowid JOIN files f ON f.id = c.file_id "
    "JOIN folders d ON d.id = f.folder_id ORDER BY top.score"
)


def _chunk_row(row: Sequence) -> ChunkRow:
    *head, tags = row
    return ChunkRow(*head, tags=tuple(json.loads(tags)))


def filter_sql(filters: SearchFilters) -> tuple[str, list[object]]:
    """SQL condition on `files f` (and `folders d` via f.folder_id) for the filters."""
    clauses: list[str] = []
    params: list[object] = []
    if filters.folder:
        clauses.append("f.folder_id IN (SELECT id FROM folders WHERE path = ?)")
        params.append(str(Path(filters.folder)))
    if filters.path_prefix:
        prefix = filters.path_prefix.lstrip("/")
        clauses.append("substr(f.rel, 1, ?) = ?")
        params += [len(prefix), prefix]
    if filters.note_id:
        clauses.append("f.note_id = ?")
        params.append(filters.note_id)
    if filters.start_date:
        clauses.append("f.modified_at >= ?")
        params.append(_timestamp(filters.start_date, end=False))
    if filters.end_date:
        clauses.append("f.modified_at <= ?")
        params.append(_timestamp(filters.end_date, end=True))
    for tag in filters.tags:
        clauses.append("f.id IN (SELECT file_id FROM file_tags WHERE tag = ?)")
        params.append(tag.lstrip("#").lower())
    return (" AND ".join(clauses) or "1"), params


def _timestamp(value: str, end: bool) -> float:
    from datetime import datetime, time

    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"{value!r} is not an ISO 8601 date (use e.g. 2024-05-31)") from exc
    if len(value) <= 10 and end:  # a bare date includes the whole day
        parsed = datetime.combine(parsed.date(), time.max)
    if parsed.tzinfo is None:
        parsed = parsed.astimezone()  # a date without a zone is the user's local time
    return parsed.timestamp()


def _read_only_uri(path: Path) -> str:
    """SQLite's read-only URI; `immutable` where the WAL's shared-memory file can't be made
    (it is only missing after a clean close, when the WAL holds nothing)."""
    shm = path.with_name(path.name + "-shm")
    mode = "mode=ro" if shm.exists() else "immutable=1"
    return f"{path.resolve().as_uri()}?{mode}"
