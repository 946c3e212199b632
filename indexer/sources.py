"""Find the notes in a folder and read each one into a `NoteDocument`.

The walk applies the ignore rules (hidden names, `node_modules`, `__pycache__`,
`.notewellignore` files, the user's own patterns), the extension filter and the
size cap. Reading turns raw bytes into text by file type (see `indexer.readers`).
Notes are only ever read, never written.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pathspec

from notewell.indexer import readers
from notewell.indexer.errors import FolderError, SkipFile
from notewell.indexer.markdown_notes import read_markdown, split_frontmatter
from notewell.indexer.privacy import marked_private
from notewell.indexer.types import NoteDocument, NoteFile, SkippedFile

DEFAULT_EXTENSIONS: frozenset[str] = frozenset(
    {".md", ".markdown", ".txt", ".org", ".rst", ".html", ".htm", ".pdf"}
)
DEFAULT_MAX_BYTES = 20 * 1024 * 1024
IGNORE_FILE = ".notewellignore"
SKIPPED_NAMES = frozenset({"node_modules", "__pycache__"})
# An inbox outside the notes folders (issue 18, review finding 1) may be a folder like
# ~/Downloads: there only Markdown notes Notewell saved (frontmatter `saved_by`) are read.
SAVED_EXTENSIONS = frozenset({".md"})
SAVED_MARK = "saved_by"
NOT_SAVED = "in the inbox folder, only notes Notewell saved are indexed"


def _no_folder(folder: str) -> bool:
    return False


@dataclass(frozen=True)
class SourceOptions:
    extensions: frozenset[str] = DEFAULT_EXTENSIONS
    max_bytes: int = DEFAULT_MAX_BYTES
    ignore_patterns: tuple[str, ...] = ()  # gitignore-style, relative to the folder
    # Folders (as given to the index) where only notes Notewell saved count: asked per folder,
    # so the inbox can change without the index being opened again.
    saved_only: Callable[[str], bool] = _no_folder

    def for_folder(self, folder: str) -> "SourceOptions":
        """The options for one folder: in a saved-only folder, Markdown files only."""
        if not self.saved_only(folder):
            return self
        return SourceOptions(SAVED_EXTENSIONS, self.max_bytes, self.ignore_patterns, self.saved_only)


def walk_folder(folder: Path, options: SourceOptions = SourceOptions()) -> Iterator[NoteFile | SkippedFile]:
    """Yield every note under `folder` (sorted by path) and every note that cannot be indexed.

    Raises FolderError at once, before iteration, if the folder itself is unusable.
    """
    root = _usable_root(Path(folder))
    return iter(_Walk(root, options))


def walk_paths(
    folder: Path, rels: Iterable[str], options: SourceOptions = SourceOptions()
) -> Iterator[NoteFile | SkippedFile]:
    """What `walk_folder(folder)` yields at these places, and nothing else.

    `rels` are POSIX paths relative to the folder ("" is the folder itself). A file
    gives its own entry, a folder everything under it; a path that is missing,
    hidden, ignored or under a link gives nothing. For the watcher: a few changed
    paths cost a few `stat`s, not a walk of the whole folder.
    Raises FolderError at once if the folder itself is unusable.
    """
    root = _usable_root(Path(folder))
    return _Walk(root, options).at(set(rels))


def would_index(folder: Path, rel: str, options: SourceOptions = SourceOptions()) -> bool:
    """Would the walk of `folder` read a note at `rel` (which need not exist yet)? False when a
    hidden or ignored folder, an ignore rule or the file types leave it out. Raises FolderError
    if the folder is unusable."""
    walk = _Walk(_usable_root(Path(folder)), options.for_folder(str(folder)))
    parent, _, name = rel.rpartition("/")
    if not name or name[0] == "." or os.path.splitext(name)[1].lower() not in walk.extensions:
        return False
    rules = walk._rules_at(parent + "/" if parent else "", {})
    if rules is None:
        return False
    file_rules = tuple(rule for rule in rules if rule.files is not None)
    return not (file_rules and _is_ignored(file_rules, rel))


def read_bytes(file: NoteFile, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """The bytes of the file the walk listed; skipped if it is not that file any more.

    Between listing and reading, the note (or a folder on its way) may have been swapped
    for a link to a file outside the folder, or for a FIFO (issue 15). So it is opened
    from its folder one name at a time without following links, without blocking, and
    must be the regular file (device and inode) the walk saw. A file that grew past the
    size cap since it was listed is skipped too.
    """
    data = read_head(file, max_bytes + 1)
    if len(data) > max_bytes:
        raise SkipFile(f"larger than the {format_size(max_bytes)} size cap (it grew while being indexed)")
    return data


def read_head(file: NoteFile, size: int) -> bytes:
    """The first `size` bytes of the file the walk listed, read as safely as `read_bytes` reads
    (no link followed, no FIFO waited on, the very file listed); SkipFile otherwise."""
    try:
        fd = _open_listed(file)
    except FileNotFoundError as exc:
        raise SkipFile("file vanished while reading") from exc
    except PermissionError as exc:
        raise SkipFile("permission denied") from exc
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
            raise SkipFile("it became a link while being indexed; links are not followed") from exc
        raise SkipFile(f"could not read: {exc.strerror or exc}") from exc
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise SkipFile("not a regular file any more (it was replaced while being indexed)")
        if file.inode and (st.st_dev, st.st_ino) != (file.device, file.inode):
            raise SkipFile("it was replaced by another file while being indexed; it is read again at the next sync")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            return handle.read(size)
    except OSError as exc:
        raise SkipFile(f"could not read: {exc.strerror or exc}") from exc
    finally:
        os.close(fd)


_NO_FOLLOW = getattr(os, "O_NOFOLLOW", 0)
_READ_FLAGS = os.O_RDONLY | _NO_FOLLOW | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(
    os, "O_CLOEXEC", 0)


def _open_listed(file: NoteFile) -> int:
    """A read-only descriptor of `file`, reached from its folder without following a link."""
    parts = file.rel.split("/")
    if not _NO_FOLLOW or os.open not in os.supports_dir_fd:  # pragma: no cover - Windows
        return os.open(file.path, _READ_FLAGS)
    folder = os.open(file.folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        for name in parts[:-1]:
            inner = os.open(name, os.O_RDONLY | os.O_DIRECTORY | _NO_FOLLOW | os.O_CLOEXEC, dir_fd=folder)
            os.close(folder)
            folder = inner
        return os.open(parts[-1], _READ_FLAGS, dir_fd=folder)
    finally:
        os.close(folder)


def content_hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=32).hexdigest()


def parse_note(file: NoteFile, data: bytes, saved_only: bool = False) -> NoteDocument:
    """Turn a note's raw bytes into its text and metadata; raises SkipFile with the reason.
    `saved_only`: the file is in an inbox where only notes Notewell saved are indexed."""
    suffix = file.path.suffix.lower()
    stem = file.path.stem
    if saved_only and (suffix not in SAVED_EXTENSIONS
                       or not split_frontmatter(readers.decode_text(data)).fields.get(SAVED_MARK)):
        raise SkipFile(NOT_SAVED)
    if suffix in (".md", ".markdown"):
        return read_markdown(data, stem)
    if suffix in (".html", ".htm"):
        return readers.read_html(data, stem)
    if suffix == ".pdf":
        return readers.read_pdf(data, stem)
    # .txt, .org, .rst and any extension the user added in Settings. Frontmatter on top is
    # not theirs, but a note marked private there stays out all the same (issue 15).
    document = readers.read_plain_text(data, stem, suffix)
    if marked_private(split_frontmatter(document.text).fields.get("private")):
        raise SkipFile("marked private: true")
    return document


def format_size(size: int) -> str:
    for unit, scale in (("MB", 1024 * 1024), ("KB", 1024)):
        if size >= scale:
            return f"{size / scale:.1f}".removesuffix(".0") + f" {unit}"
    return f"{size} bytes"


def _not_a_file(entry: os.DirEntry[str]) -> str:
    mode = entry.stat(follow_symlinks=False).st_mode
    if stat.S_ISFIFO(mode):
        kind = "a named pipe (FIFO)"
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        kind = "a device"
    elif stat.S_ISSOCK(mode):
        kind = "a socket"
    else:
        kind = "not a regular file"
    return f"{kind}, not a note: never read"


def _usable_root(folder: Path) -> Path:
    shown = str(folder)
    try:
        root = folder.expanduser().resolve(strict=True)
    except FileNotFoundError:
        raise FolderError(
            f"The notes folder {shown} does not exist. Reconnect the drive it is on, "
            "or remove the folder in Settings."
        ) from None
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop, before Python 3.13
        reason = getattr(exc, "strerror", None) or exc
        raise FolderError(f"Cannot open the notes folder {shown}: {reason}.") from exc
    if not root.is_dir():
        raise FolderError(f"{shown} is a file, not a folder. Choose the folder that holds your notes.")
    try:
        with os.scandir(root):
            pass
    except PermissionError:
        raise FolderError(
            f"Notewell may not read the notes folder {shown} (permission denied). "
            "Give your user read access to it, or remove it in Settings."
        ) from None
    except OSError as exc:
        raise FolderError(f"Cannot read the notes folder {shown}: {exc.strerror or exc}.") from exc
    return root


class _IgnoreRule:
    """The patterns of one ignore file (or the user's settings), relative to `base`."""

    def __init__(self, base: str, lines: Iterable[str]) -> None:
        lines = [line for line in lines if line.strip() and not line.startswith("#")]
        self.base = base  # POSIX folder path, "" or ending in "/"
        self.dirs = _Matcher(lines)
        # A folder-only pattern ("drafts/") can only match a file inside that folder, and the
        # walk never enters an ignored folder; most notes then need no check at all.
        file_lines = [line for line in lines if not line.rstrip().endswith("/")]
        self.files = _Matcher(file_lines) if file_lines else None

    def decision(self, rel: str) -> bool | None:
        """True: ignore; False: re-included by a "!" pattern; None: no pattern matches."""
        matcher = self.dirs if rel.endswith("/") else self.files
        return None if matcher is None else matcher.decision(rel[len(self.base) :])


class _Matcher:
    def __init__(self, lines: list[str]) -> None:
        self.spec = _compile(lines)
        self.prefilter = _prefilter(self.spec)

    def decision(self, path: str) -> bool | None:
        if self.prefilter is not None and self.prefilter.match(path) is None:
            return None
        return self.spec.check_file(path).include


def _compile(lines: Iterable[str]) -> pathspec.GitIgnoreSpec:
    lines = list(lines)
    try:
        return pathspec.GitIgnoreSpec.from_lines(lines)
    except (ValueError, TypeError):
        # One bad pattern (say a lone "!") should not disable the others.
        good = []
        for line in lines:
            try:
                pathspec.GitIgnoreSpec.from_lines([line])
            except (ValueError, TypeError):
                continue
            good.append(line)
        return pathspec.GitIgnoreSpec.from_lines(good)


def _prefilter(spec: pathspec.GitIgnoreSpec) -> re.Pattern[str] | None:
    # check_file costs ~10 µs; a walk asks about every note, and almost none match. One
    # alternation of the same regexes answers "no pattern matches" in ~1 µs.
    try:
        sources = [p.regex.pattern for p in spec.patterns if p.include is not None]
        if any(p.regex.flags & ~re.UNICODE for p in spec.patterns if p.include is not None):
            return None
        return re.compile("|".join(f"(?:{_NAMED_GROUP.sub('(?:', source)})" for source in sources) or "(?!)")
    except (AttributeError, TypeError, re.error):
        return None


_NAMED_GROUP = re.compile(r"\(\?P<\w+>")


def _is_ignored(rules: tuple[_IgnoreRule, ...], rel: str) -> bool:
    """`rel` ends in "/" for a folder. Like git, the deepest ignore file that matches decides."""
    ignored = False
    for rule in rules:
        decision = rule.decision(rel)
        if decision is not None:
            ignored = decision
    return ignored


# Trigger: building a Path from a string is most of the walk's own time (~40% measured).
# Why: a child of an already-parsed Path needs no parsing; CPython's pathlib keeps this private
# helper for its own glob. Outcome: use it where it exists, else the public joinpath.
_child = getattr(Path, "_make_child_relpath", None) or Path.joinpath


_BAD_NAME = "name is not valid UTF-8; rename it to index it"
_OUTSIDE_LINK = (
    "link to a place outside this folder, not followed (add that place as a folder of its own to index it)"
)
_INSIDE_LINK = "link to a note or folder inside this folder: indexed there, under its own name"
_BROKEN_LINK = "link to something that no longer exists"
_LOOP_LINK = "link that leads back to itself (a loop), not followed"


def _undecodable(name: str) -> bool:
    # Linux names are bytes; Python maps invalid UTF-8 to lone surrogates, which neither
    # SQLite nor JSON accepts.
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _sort_key(entry: os.DirEntry[str]) -> str:
    # "a/" after "a b.md": walking in this order yields rel paths in plain sorted order.
    try:
        return entry.name + "/" if entry.is_dir(follow_symlinks=False) else entry.name
    except OSError:
        return entry.name


def _with_ignore_file(path: Path, rel: str, rules: tuple[_IgnoreRule, ...]) -> tuple[_IgnoreRule, ...]:
    with open(path / IGNORE_FILE, encoding="utf-8", errors="replace") as handle:
        return (*rules, _IgnoreRule(rel, handle.read().splitlines()))


def _is_real_dir(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def _printable(rel: str) -> str:
    return rel.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


@dataclass
class _Frame:
    entries: Iterator[os.DirEntry[str]]
    path: Path
    rel: str  # "" for the root, else ending in "/"
    rules: tuple[_IgnoreRule, ...]
    file_rules: tuple[_IgnoreRule, ...]  # the rules with patterns that can match a file


class _Walk:
    """Depth-first, sorted by name, one generator: 38,000 notes must list in well under a second."""

    def __init__(self, root: Path, options: SourceOptions) -> None:
        self.root = root
        self.root_prefix = os.path.join(str(root), "")
        self.options = options
        self.extensions = frozenset("." + ext.lower().lstrip(".") for ext in options.extensions)
        self.visited: set[tuple[int, int]] = set()
        self.stack: list[_Frame] = []

    def __iter__(self) -> Iterator[NoteFile | SkippedFile]:
        problem = self._enter(self.root, "", self._base_rules())
        if problem is not None:
            yield problem
        yield from self._drain()

    def at(self, rels: set[str]) -> Iterator[NoteFile | SkippedFile]:
        """The walk's entries at `rels` only (see `walk_paths`)."""
        if "" in rels:
            yield from self
            return
        wanted: dict[str, set[str]] = {}  # parent folder rel → names in it
        for rel in rels:
            parts = rel.split("/")
            if any("/".join(parts[:n]) in rels for n in range(1, len(parts))):
                continue  # a folder above it is walked whole
            parent = "/".join(parts[:-1])
            wanted.setdefault(parent + "/" if parent else "", set()).add(parts[-1])
        cache: dict[str, tuple[_IgnoreRule, ...] | None] = {}
        for parent, names in sorted(wanted.items()):
            rules = self._rules_at(parent, cache)
            if rules is None:
                continue
            path = self.root / parent if parent else self.root
            try:
                with os.scandir(path) as scan:
                    entries = sorted((e for e in scan if e.name in names), key=_sort_key)
            except OSError:
                continue
            file_rules = tuple(rule for rule in rules if rule.files is not None)
            self.stack.append(_Frame(iter(entries), path, parent, rules, file_rules))
            yield from self._drain()

    def _base_rules(self) -> tuple[_IgnoreRule, ...]:
        return (_IgnoreRule("", self.options.ignore_patterns),) if self.options.ignore_patterns else ()

    def _rules_at(
        self, rel: str, cache: dict[str, tuple[_IgnoreRule, ...] | None]
    ) -> tuple[_IgnoreRule, ...] | None:
        """The rules in force inside folder `rel` ("" or ending in "/"); None if the walk never enters it."""
        if rel in cache:
            return cache[rel]
        rules: tuple[_IgnoreRule, ...] | None
        if not rel:
            rules, path = self._base_rules(), self.root
        else:
            parent, _, name = rel[:-1].rpartition("/")
            rules = self._rules_at(parent + "/" if parent else "", cache)
            path = self.root / rel
            if rules is not None and (
                name[0] == "." or name in SKIPPED_NAMES or (rules and _is_ignored(rules, rel))
                or (not name.isascii() and _undecodable(name)) or not _is_real_dir(path)
            ):
                rules = None
        if rules is not None:
            try:
                rules = _with_ignore_file(path, rel, rules)
            except FileNotFoundError:
                pass
            except OSError:
                rules = None
        cache[rel] = rules
        return rules

    def _drain(self) -> Iterator[NoteFile | SkippedFile]:
        extensions, max_bytes, root, stack = self.extensions, self.options.max_bytes, self.root, self.stack
        while stack:
            frame = stack[-1]
            entry = next(frame.entries, None)
            if entry is None:
                stack.pop()
                continue
            name = entry.name
            if name[0] == "." or name in SKIPPED_NAMES:
                continue
            rel = frame.rel + name
            try:
                if entry.is_symlink():
                    problem = self._link_problem(entry, rel, frame.rules)
                elif entry.is_dir(follow_symlinks=False):
                    if frame.rules and _is_ignored(frame.rules, rel + "/"):
                        continue
                    if not name.isascii() and _undecodable(name):
                        problem = SkippedFile(root, _printable(rel), _BAD_NAME)
                    else:
                        problem = self._enter(_child(frame.path, name), rel + "/", frame.rules)
                else:
                    dot = name.rfind(".")
                    if dot <= 0 or name[dot:].lower() not in extensions:
                        continue
                    if frame.file_rules and _is_ignored(frame.file_rules, rel):
                        continue
                    if not entry.is_file(follow_symlinks=False):
                        problem = SkippedFile(root, _printable(rel), _not_a_file(entry))
                        yield problem
                        continue
                    if not name.isascii() and _undecodable(name):
                        yield SkippedFile(root, _printable(rel), _BAD_NAME)
                        continue
                    st = entry.stat(follow_symlinks=False)
                    if st.st_size <= max_bytes:
                        yield NoteFile(root, _child(frame.path, name), rel, st.st_size, st.st_mtime_ns,
                                       st.st_dev, st.st_ino)
                        continue
                    size, cap = format_size(st.st_size), format_size(max_bytes)
                    problem = SkippedFile(root, rel, f"larger than the {cap} size cap ({size})")
            except FileNotFoundError:
                continue  # deleted while we walked; the next sync sees it gone
            except OSError as exc:
                problem = SkippedFile(root, rel, f"could not read: {exc.strerror or exc}")
            if problem is not None:
                yield problem

    def _enter(self, path: Path, rel: str, rules: tuple[_IgnoreRule, ...]) -> SkippedFile | None:
        """Push a folder's entries onto the stack, or say why it cannot be read."""
        shown = rel.rstrip("/") or "."
        try:
            st = os.stat(path)
            if (st.st_dev, st.st_ino) in self.visited:
                return None  # a bind mount or similar brought us here before
            self.visited.add((st.st_dev, st.st_ino))
            with os.scandir(path) as scan:
                entries = sorted(scan, key=_sort_key)
        except FileNotFoundError:
            return None
        except PermissionError:
            return SkippedFile(self.root, shown, "permission denied")
        except OSError as exc:
            return SkippedFile(self.root, shown, f"could not read folder: {exc.strerror or exc}")
        if any(entry.name == IGNORE_FILE for entry in entries):
            try:
                rules = _with_ignore_file(path, rel, rules)
            except OSError as exc:
                # Indexing the folder anyway could expose notes the user asked us to leave alone.
                reason = f"could not read its {IGNORE_FILE}: {exc.strerror or exc}"
                return SkippedFile(self.root, shown, reason)
        file_rules = tuple(rule for rule in rules if rule.files is not None)
        self.stack.append(_Frame(iter(entries), path, rel, rules, file_rules))
        return None

    def _link_problem(
        self, entry: os.DirEntry[str], rel: str, rules: tuple[_IgnoreRule, ...]
    ) -> SkippedFile | None:
        """Links are never followed; each one that stands for a note or a folder says why (#14)."""
        note_like = os.path.splitext(entry.name)[1].lower() in self.extensions
        try:
            target = os.path.realpath(entry.path, strict=True)
            target_is_dir = os.path.isdir(target)
        except OSError as exc:
            if not note_like or _is_ignored(rules, rel):
                return None  # what it stood for is unknown: only a note's name says
            return SkippedFile(self.root, _printable(rel), _LOOP_LINK if exc.errno == errno.ELOOP else _BROKEN_LINK)
        if _is_ignored(rules, rel + "/" if target_is_dir else rel):
            return None
        if not target_is_dir and not note_like:
            return None
        inside = target == str(self.root) or target.startswith(self.root_prefix)
        return SkippedFile(self.root, _printable(rel), _INSIDE_LINK if inside else _OUTSIDE_LINK)
