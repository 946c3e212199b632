"""Saving a new note into the inbox folder: one new Markdown file, never an existing one (issue 18).

    path = write_new_note(inbox, NewNote("Trip ideas", "Lisbon in May", ("travel",), "ChatGPT"))

The file name comes from the title with every path component and unsafe character
removed (`../../etc/x` → `etc x.md`, `CON` → `CON note.md`, nothing left →
`Untitled note.md`); a name in use gets ` 2`, ` 3`… The text goes to a temp file
in the inbox first, then is linked to its name, which fails rather than replace a
file: a reader never sees half a note, and nothing is edited, appended to or
overwritten. Only file writing lives here: no HTTP, no index (the caller queues
the index update on the one writer).
"""

from __future__ import annotations

import os
import tempfile
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
RESERVED = frozenset({"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)), *(f"LPT{i}" for i in range(10))})
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
    if stem.split(".")[0].upper() in RESERVED:
        stem = f"{stem} note"
    return stem or UNTITLED


def clean_text(text: str) -> str:
    """The note's text as it is written: without NUL, which makes a file not text to the indexer."""
    return text.replace("\x00", "")


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
    """Write `note` as a new file in `inbox`; returns its path. Never replaces a file."""
    data = render(note, now or datetime.now(timezone.utc)).encode("utf-8")
    stem = file_stem(note.title)
    try:
        fd, temp = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=".tmp", dir=inbox)
    except OSError as exc:
        raise InboxError(f"Cannot write in the inbox folder {inbox}: {exc.strerror}. "
                         "Check that it exists and is writable, or choose another in Settings.") from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        for attempt in range(1, MAX_CLASHES + 1):
            target = inbox / f"{stem}{'' if attempt == 1 else f' {attempt}'}{EXTENSION}"
            try:
                _place(temp, target, data)
            except FileExistsError:
                continue
            return target
        raise InboxError(f"The inbox already holds {MAX_CLASHES} notes called “{stem}”; give this one another title.")
    except OSError as exc:
        raise InboxError(f"Could not save the note in {inbox}: {exc.strerror}. Check the folder and the disk.") from exc
    finally:
        Path(temp).unlink(missing_ok=True)


def _place(temp: str, target: Path, data: bytes) -> None:
    """Give the written temp file its name; FileExistsError if the name is taken."""
    try:
        os.link(temp, target)  # fails if `target` exists: never replaces
        return
    except FileExistsError:
        raise
    except OSError:
        pass  # Trigger: a file system without hard links (FAT, some network shares).
    # Outcome: create the name exclusively and write into it; still never replaces a file.
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # like mkstemp's
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        target.unlink(missing_ok=True)
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
