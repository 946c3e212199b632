"""Which model the notes need: the "auto" model setting, decided from the notes themselves.

The bundled English model is the fastest and the best on English notes (tldr-en
hybrid nDCG@10 0.94), but places Chinese text almost at random. multilingual-e5-small
reads Chinese, Japanese and Korean by meaning, and an English question finds the
Chinese note (and the reverse), at about half the English model's speed. So "auto"
takes the English model while the notes are English, and the multilingual one as soon
as they hold CJK notes:

* a note counts as CJK when at least `CJK_NOTE_SHARE` of the letters of its name and
  first `SAMPLE_CHARS` characters are CJK (a Chinese tldr page, commands and all, is
  ~40%; an English note quoting one Chinese term, under 5%);
* the notes need the multilingual model when at least `MIN_CJK_NOTES` of the sampled
  notes, and `MIN_CJK_SHARE` of them, are CJK: a few Chinese notes among thousands of
  English ones do not slow the rest down (they are still found by their words);
* once an index holds the multilingual model's vectors, it keeps them ("sticky"): the
  decision never flips back and forth, re-embedding everything each time.

Sampling reads at most `SAMPLE_FILES` notes, spread over the folders, `SAMPLE_CHARS`
characters each (a few hundred milliseconds on a large vault), decoded as the indexer
decodes them (a GBK-encoded Chinese text is Chinese); of them at most `MAX_PARSED` PDFs
and web pages, their first pages only (a vault of Chinese PDFs is Chinese).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from .errors import FolderError, SkipFile
from .keywords import cjk_share
from .readers import decode_text, read_html, read_pdf
from .sources import SourceOptions, read_bytes, read_head, walk_folder
from .types import NoteFile

CJK_NOTE_SHARE = 0.2
MIN_CJK_NOTES = 3
MIN_CJK_SHARE = 0.05
SAMPLE_FILES = 400
SAMPLE_CHARS = 2000
_WALK_LIMIT = 20000  # entries looked at per folder, at most
MAX_PARSED = 40
MAX_PARSED_BYTES = 8 * 1024 * 1024  # a PDF is read whole (its index is at its end)
_PDF_PAGES = 2
_MAX_PDF_TREE = 2000  # pages: a bigger PDF's page tree alone takes seconds to read (80,000: 3.6 s)
_HEAD_BYTES = 16384
_HTML_HEAD_BYTES = 256 * 1024
_TEXT_SUFFIXES = (".md", ".markdown", ".txt", ".org", ".rst")
_PARSED_SUFFIXES = (".pdf", ".html", ".htm")


@dataclass(frozen=True)
class LanguageMix:
    """What a sample of the notes holds."""

    sampled: int
    cjk_notes: int

    @property
    def needs_multilingual(self) -> bool:
        return self.cjk_notes >= MIN_CJK_NOTES and self.cjk_notes >= MIN_CJK_SHARE * self.sampled

    def describe(self) -> str:
        """For the log and `doctor`: why auto chose what it chose."""
        return f"{self.cjk_notes} of {self.sampled} sampled notes are Chinese, Japanese or Korean"


def sample_notes(folders: Iterable[Path], options: SourceOptions = SourceOptions()) -> LanguageMix:
    """Look at up to SAMPLE_FILES notes across `folders` (every n-th of each folder's notes)."""
    per_folder: list[list[NoteFile]] = []
    for folder in folders:
        notes: list[NoteFile] = []
        try:
            for seen, entry in enumerate(walk_folder(folder, options.for_folder(str(folder)))):
                if seen >= _WALK_LIMIT:
                    break
                if isinstance(entry, NoteFile) and entry.path.suffix.lower() in _TEXT_SUFFIXES + _PARSED_SUFFIXES:
                    notes.append(entry)
        except (OSError, FolderError):
            continue  # a folder that can't be read is reported where it is indexed
        per_folder.append(notes)
    total = sum(len(notes) for notes in per_folder)
    if total == 0:
        return LanguageMix(0, 0)
    sampled = cjk = parsed = 0
    for notes in per_folder:
        quota = max(1, round(SAMPLE_FILES * len(notes) / total)) if notes else 0
        step = max(1, len(notes) // quota) if quota else 1
        for note in notes[::step][:quota]:
            costly = note.path.suffix.lower() in _PARSED_SUFFIXES
            if costly and (parsed >= MAX_PARSED or note.size > MAX_PARSED_BYTES):
                continue
            parsed += costly
            try:
                text = head_text(note)[:SAMPLE_CHARS]
            except SkipFile:  # gone, swapped for a link or a FIFO since the walk (issue 15), unreadable
                continue
            sampled += 1
            if cjk_share(f"{note.path.stem} {text}") >= CJK_NOTE_SHARE:
                cjk += 1
    return LanguageMix(sampled, cjk)


def head_text(note: NoteFile) -> str:
    """The start of a note's text as the indexer reads it: decoded whatever its encoding; a
    PDF's first pages, a web page's text. Raises SkipFile when the note can't be read."""
    suffix = note.path.suffix.lower()
    if suffix == ".pdf":
        data = read_bytes(note, MAX_PARSED_BYTES)
        return read_pdf(data, note.path.stem, max_pages=_PDF_PAGES, max_tree=_MAX_PDF_TREE).text
    if suffix in (".html", ".htm"):  # a saved page may carry 100s of KB of styles before its text
        return read_html(_whole_characters(read_head(note, _HTML_HEAD_BYTES)), note.path.stem).text
    return decode_text(_whole_characters(read_head(note, _HEAD_BYTES)))


def _whole_characters(data: bytes) -> bytes:
    """A head read ends wherever the byte count does, maybe inside a character: drop the
    1-3 bytes of a cut character, so that the head decodes as the whole file would (a GBK
    text cut inside a character no longer reads as GB18030 at all)."""
    for encoding in ("utf-8", "gb18030"):
        for cut in range(4):
            part = data[: len(data) - cut]
            try:
                part.decode(encoding)
            except UnicodeDecodeError:
                continue
            return part
    return data
