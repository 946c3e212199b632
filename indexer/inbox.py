"""Saving a new note into the inbox folder: one new Markdown file, never an existing one (issue 18).

    path = write_new_note(inbox, NewNote("Trip ideas", "Lisbon in May", ("travel",), "ChatGPT"))

The file name comes from the title with every path component and unsafe character
removed (`../../etc/x` → `etc x.md`, `CON` → `CON note.md`, `nul.txt` → `nul note.txt.md`, nothing left →
`Untitled note.md`); a name in use gets ` 2`, ` 3`… The text goes to a temp file
in the inbox first, then is linked to its name, which fails rather than replace a
file: a reader never sees half a note, and nothing is edited, appended to or
overwritten. Only file writing lives here: no HTTP, no index (the caller queues
the index update on the one writer).
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import yaml

from .chunking import chunk_document
from .errors import SkipFile
from .markdown_notes import read_markdown

EXTENSION = ".md"
MAX_NAME_BYTES = 120  # of the stem, in UTF-8: room for " 999" and ".md" under every file system's 255
MAX_CLASHES = 999
UNTITLED = "Untitled note"
TEMP_PREFIX = ".notewell-saving-"
# Names Windows reserves for devices, whatever the extension (a synced folder may reach Windows).
# Windows also takes the superscript digits ¹ ² ³ after COM and LPT, and the console's CONIN$ and
# CONOUT$ (review of #18, finding 10).
RESERVED = frozenset({"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$",
                      *(f"{port}{n}" for port in ("COM", "LPT") for n in ("0123456789¹²³"))})
UNSAFE = frozenset('<>:"|?*\\/')


class InboxError(Exception):
    """The note could not be saved; the message says why and what to do."""


@dataclass(frozen=True)
class NewNote:
    title: str
    text: str
    tags: tuple[str, ...] = ()
    saved_by: str = ""  # the client's name, for the frontmatter


def file_stem(title: str) -> str:
    """A file name (without extension) from a title: one plain component, never a path."""
    text = unicodedata.normalize("NFC", title)
    kept = "".join(_safe(char) for char in text)
    parts = [part for part in kept.split() if part.strip(".")]  # "..", "." and dots-only go
    stem = " ".join(parts).strip(". ")
    stem = _cut_utf8(stem, MAX_NAME_BYTES).rstrip(". ")
    base, dot, rest = stem.partition(".")
    if base.rstrip(" ").upper() in RESERVED:  # Windows compares the part before the first dot, spaces cut
        stem = f"{base.rstrip(' ')} note{dot}{rest}"
    return stem or UNTITLED


# C0 and C1 control characters but tab and newline, DEL, and the bidi overrides and isolates:
# dropped from the text (review of #18, finding 11): `cat` of a saved note runs no terminal
# escape, and no text is shown reversed. NUL would also make the file not text to the indexer.
_UNSAFE_IN_TEXT = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def clean_text(text: str) -> str:
    """The note's text as it is written: line ends as \\n, without control characters or bidi overrides."""
    return _UNSAFE_IN_TEXT.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def unsearchable(note: NewNote) -> str | None:
    """Why this note, once saved, would never be found (review of #18, finding 9); None: it would be.
    Read back exactly as the indexer reads the file."""
    try:
        document = read_markdown(render(note, datetime.now(timezone.utc)).encode("utf-8"), file_stem(note.title))
    except SkipFile as exc:
        reason = str(exc)
    else:
        if chunk_document(document, count_tokens=lambda text: len(text.split()), max_tokens=512):
            return None
        reason = "no text"
    return (f"The note was not saved: its text would not be searchable ({reason}); comments, embeds and "
            "white space alone are left out of the index. Send the note's text itself.")


def render(note: NewNote, created: datetime) -> str:
    """The file's text: YAML frontmatter (title, created, tags, saved_by), then the note."""
    front: dict[str, object] = {"title": _plain(note.title) or UNTITLED,
                                "created": created.isoformat(timespec="seconds")}
    tags = [tag for tag in map(_plain, note.tags) if tag]
    if tags:
        front["tags"] = tags
    if note.saved_by:
        front["saved_by"] = _plain(note.saved_by)
    block = yaml.safe_dump(front, allow_unicode=True, sort_keys=False, width=1_000_000)
    text = clean_text(note.text)
    body = text if text.endswith("\n") else text + "\n"
    return f"---\n{block}---\n\n{body}"


def write_new_note(inbox: Path, note: NewNote, now: datetime | None = None) -> Path:
    """Write `note` as a new file in `inbox`; returns its path. Never replaces a file.

    `inbox` is the resolved path the user chose; it is reached one folder at a time without
    following a link (review of #18, finding 8), so a link put in its place later is refused
    instead of leading the note elsewhere."""
    data = render(note, now or datetime.now(timezone.utc)).encode("utf-8")
    stem = file_stem(note.title)
    folder = _open_inbox(inbox)
    temp = f"{TEMP_PREFIX}{secrets.token_hex(8)}.tmp"
    try:
        try:
            fd = os.open(_at(inbox, folder, temp), _NEW_FILE, 0o600, dir_fd=folder)
        except OSError as exc:
            raise InboxError(f"Cannot write in the inbox folder {inbox}: {exc.strerror}. "
                             "Check that it exists and is writable, or choose another in Settings.") from exc
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            for attempt in range(1, MAX_CLASHES + 1):
                name = f"{stem}{'' if attempt == 1 else f' {attempt}'}{EXTENSION}"
                try:
                    _place(inbox, folder, temp, name, data)
                except FileExistsError:
                    continue
                return inbox / name
            raise InboxError(f"The inbox already holds {MAX_CLASHES} notes called “{stem}”; give this one another title.")
        except OSError as exc:
            raise InboxError(f"Could not save the note in {inbox}: {exc.strerror}. Check the folder and the disk.") from exc
        finally:
            try:
                os.unlink(_at(inbox, folder, temp), dir_fd=folder)
            except FileNotFoundError:
                pass
    finally:
        if folder is not None:
            os.close(folder)


_NO_FOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NO_FOLLOW | _CLOEXEC
_AT_SUPPORTED = bool(_NO_FOLLOW) and os.open in os.supports_dir_fd and os.link in os.supports_dir_fd


def _open_inbox(inbox: Path) -> int | None:
    """A descriptor of the inbox folder, reached from the root without following any link;
    None where the system cannot do that (Windows: paths are used as they are)."""
    if not _AT_SUPPORTED:  # pragma: no cover - Windows
        return None
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _CLOEXEC
    folder = os.open(inbox.anchor or "/", flags)
    try:
        for depth, part in enumerate(inbox.parts[1:], start=2):
            try:
                inner = os.open(part, flags | _NO_FOLLOW, dir_fd=folder)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR) or os.path.islink(Path(*inbox.parts[:depth])):
                    raise InboxError(
                        f"The inbox folder {inbox} is now reached through a link, not the folder that was "
                        "chosen, so Notewell does not save there. Choose the inbox folder again in Settings "
                        "(or with --inbox).") from exc
                raise InboxError(f"Cannot open the inbox folder {inbox}: {exc.strerror}. Check that it "
                                 "exists, or choose another in Settings.") from exc
            os.close(folder)
            folder = inner
        return folder
    except BaseException:
        os.close(folder)
        raise


def _at(inbox: Path, folder: int | None, name: str) -> str:
    """`name` relative to the open inbox, or its whole path where descriptors cannot be used."""
    return name if folder is not None else str(inbox / name)


def _place(inbox: Path, folder: int | None, temp: str, name: str, data: bytes) -> None:
    """Give the written temp file its name; FileExistsError if the name is taken."""
    try:
        # fails if `name` exists: never replaces
        os.link(_at(inbox, folder, temp), _at(inbox, folder, name), src_dir_fd=folder, dst_dir_fd=folder,
                follow_symlinks=False)
        return
    except FileExistsError:
        raise
    except OSError:
        pass  # Trigger: a file system without hard links (FAT, some network shares).
    # Outcome: create the name exclusively and write into it; still never replaces a file.
    fd = os.open(_at(inbox, folder, name), _NEW_FILE, 0o600, dir_fd=folder)  # like mkstemp's
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        os.unlink(_at(inbox, folder, name), dir_fd=folder)
        raise


def _safe(char: str) -> str:
    category = unicodedata.category(char)
    if char in UNSAFE or category == "Cc" or category[0] == "Z":
        return " "
    return "" if category[0] == "C" else char  # format (bidi overrides), private, unassigned, surrogates


def _plain(text: str) -> str:
    """One line of text: control and format characters dropped, white space collapsed."""
    return " ".join("".join(" " if unicodedata.category(c) == "Cc" else c for c in text
                            if unicodedata.category(c) not in ("Cf", "Cs", "Co", "Cn")).split())


def _cut_utf8(text: str, limit: int) -> str:
    data = text.encode("utf-8")
    return text if len(data) <= limit else data[:limit].decode("utf-8", errors="ignore")
