"""Bytes to text, by file type: plain text in any common encoding, HTML and PDF.

Every reader returns a `NoteDocument` or raises `SkipFile` with a reason the user sees.
Markdown is read by `indexer.markdown_notes`, on top of `decode_text` here.
"""

from __future__ import annotations

import codecs
import functools
import io
import logging
import re
import warnings
from html.parser import HTMLParser
from typing import Any

from notewell.indexer.errors import SkipFile
from notewell.indexer.types import NoteDocument

_SNIFF_BYTES = 8192
_BOMS = (
    # UTF-32 first: its little-endian BOM starts with UTF-16's.
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_CONTROL_BYTES = bytes(b for b in range(32) if b not in b"\t\n\x0b\x0c\r\x1b") + b"\x7f"
# Characters str.splitlines() breaks on besides \n. Editors number lines by \n only, so these
# become spaces and every later stage counts the same lines the user's editor shows.
_ODD_LINE_BREAKS = str.maketrans({ch: " " for ch in "\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"})
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


def decode_text(data: bytes, declared: str | None = None) -> str:
    """Decode a text file whatever its encoding; raises SkipFile if it is not text at all.

    Order: byte-order mark, UTF-8, the encoding the file declares (HTML), GB18030 when the
    bytes read as Chinese, then Windows-1252. Newlines come back as "\\n".
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return normalize_newlines(data.decode(encoding, errors="replace"))
    sample = data[:_SNIFF_BYTES]
    controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    if b"\x00" in sample or controls > len(sample) * 0.1:
        raise SkipFile("binary file, not text")
    return normalize_newlines(_decode_without_bom(data, declared))


def normalize_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").translate(_ODD_LINE_BREAKS)


def _decode_without_bom(data: bytes, declared: str | None) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    lenient = data.decode("utf-8", errors="replace")
    bad = lenient.count("\ufffd")
    good = sum(1 for ch in lenient if ord(ch) > 0x7F) - bad
    if good >= bad:
        return lenient  # UTF-8 with a few stray bytes: keep it UTF-8, mark the damage
    if declared:
        try:
            return data.decode(declared, errors="replace")
        except LookupError:
            pass
    try:
        chinese = data.decode("gb18030")
    except UnicodeDecodeError:
        pass
    else:
        if _looks_chinese(chinese):
            return chinese
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _looks_chinese(text: str) -> bool:
    # Western text mis-read as GB18030 pairs an accented byte with the next ASCII letter;
    # real GB2312-range characters have both bytes in 0xA1-0xFE.
    common = total = 0
    for ch in text[:20000]:
        if ord(ch) > 0x7F:
            total += 1
            encoded = ch.encode("gb18030")
            common += len(encoded) == 2 and 0xA1 <= encoded[0] <= 0xF7 and 0xA1 <= encoded[1] <= 0xFE
    return total > 0 and common >= 0.7 * total


def read_plain_text(data: bytes, stem: str, suffix: str) -> NoteDocument:
    text = decode_text(data)
    if not text.strip():
        raise SkipFile("empty file")
    title = None
    if suffix == ".org":
        found = re.search(r"^#\+title:[ \t]*(.+)$", text, re.IGNORECASE | re.MULTILINE)
        title = found.group(1).strip() if found else None
    return NoteDocument(title=title or stem, text=text, kind="text")


def read_html(data: bytes, stem: str) -> NoteDocument:
    declared = _META_CHARSET.search(data[:4096])
    text = decode_text(data, declared.group(1).decode("ascii") if declared else None)
    parser = _HTMLText()
    try:
        parser.feed(text)
        parser.close()
    except (AssertionError, ValueError) as exc:  # html.parser gives up on some broken markup
        raise SkipFile(f"could not read HTML: {exc}") from exc
    body = parser.text()
    if not body.strip():
        raise SkipFile("no readable text in this HTML file")
    return NoteDocument(title=parser.title() or stem, text=body, kind="html")


class _HTMLText(HTMLParser):
    _BLOCKS = frozenset(
        "address article aside blockquote br dd details div dl dt fieldset figcaption figure footer form "
        "h1 h2 h3 h4 h5 h6 header hr li main nav ol p pre section summary table tr ul".split()
    )
    _HIDDEN = frozenset({"script", "style", "noscript", "template", "svg"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._parts: list[str] = []
        self._hidden = 0
        self._pre = 0
        self._in_title = False
        self._in_h1 = False
        self._title: list[str] = []
        self._h1: list[str] = []
        self._h1_done = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._HIDDEN:
            self._hidden += 1
        elif tag == "title":
            self._in_title = True
        elif tag in self._BLOCKS:
            self._parts.append("\n")
            if tag == "pre":
                self._pre += 1
            elif tag[0] == "h" and tag[1:].isdigit():
                # Headings stay visible to the structure-aware chunker.
                self._parts.append("#" * int(tag[1:]) + " ")
                self._in_h1 = tag == "h1" and not self._h1_done
        elif tag in ("td", "th"):
            self._parts.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._BLOCKS:
            self._parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag == "title":
            self._in_title = False
        elif tag in self._BLOCKS:
            self._parts.append("\n")
            if tag == "pre":
                self._pre = max(0, self._pre - 1)
            if tag == "h1" and self._in_h1:
                self._in_h1, self._h1_done = False, True

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self._title.append(data)
            return
        if self._hidden:
            return
        if not self._pre:
            data = re.sub(r"\s+", " ", data)
            if not self._parts or self._parts[-1].endswith("\n"):
                data = data.lstrip()
        if self._in_h1:
            self._h1.append(data)
        self._parts.append(data)

    def text(self) -> str:
        lines = [line.rstrip() for line in normalize_newlines("".join(self._parts)).split("\n")]
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n") + "\n"

    def title(self) -> str:
        return " ".join("".join(self._title).split()) or " ".join("".join(self._h1).split())


def read_pdf(data: bytes, stem: str, max_pages: int | None = None, max_tree: int | None = None) -> NoteDocument:
    """The PDF's text, page by page (`max_pages`: its first pages only; `max_tree`: skipped
    when it says it has more pages than that, as reaching any page reads the whole tree)."""
    pypdf = _import_pypdf()
    # pypdf raises many exception types on damaged files, not only PdfReadError;
    # any of them means this one file cannot be read, never that indexing should stop.
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not _opens_without_password(reader):
            raise SkipFile("encrypted PDF")
        if max_tree is not None and _declared_pages(reader) > max_tree:
            raise SkipFile(f"a PDF of over {max_tree} pages")
        count = len(reader.pages) if max_pages is None else min(len(reader.pages), max_pages)
        pages = [_page_text(reader.pages[i]) for i in range(count)]
        title = _pdf_title(reader)
    except SkipFile:
        raise
    except Exception as exc:
        raise SkipFile(f"could not read PDF: {exc}") from exc
    text = "\n\n".join(page for page in pages if page)
    if not text.strip():
        raise SkipFile("PDF has no extractable text (scanned images?)")
    return NoteDocument(title=title or stem, text=text, kind="pdf")


@functools.cache
def _import_pypdf() -> Any:
    import pypdf

    # pypdf logs and warns about every small defect; a notes indexer can do nothing with them.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module=r"pypdf(\.|$)")
    return pypdf


def _declared_pages(reader: Any) -> int:
    """The page count the PDF's page tree declares (read without walking the tree)."""
    pages = reader.trailer["/Root"]["/Pages"]
    count = pages["/Count"] if "/Count" in pages else 0  # (indexing resolves an indirect count)
    return int(count) if isinstance(count, int) else 0


def _opens_without_password(reader: Any) -> bool:
    try:
        return bool(reader.decrypt(""))
    except Exception:  # e.g. an unsupported cipher: same outcome for the user
        return False


def _page_text(page: Any) -> str:
    try:
        return normalize_newlines(page.extract_text() or "").replace("\x00", "").strip()
    except Exception:  # one damaged page should not cost the rest of the document
        return ""


def _pdf_title(reader: Any) -> str:
    try:
        title = reader.metadata.title if reader.metadata else None
    except Exception:
        return ""
    return " ".join(str(title).split()) if title else ""
