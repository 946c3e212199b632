"""Split a note into chunks that fit the embedding model (pure functions, no I/O).

    chunks = chunk_document(doc, count_tokens=embedder.count_tokens, max_tokens=embedder.max_tokens)
    vectors = embedder.embed_documents([embedding_text(doc.title, c.heading, c.text) for c in chunks])

Markdown is cut along its structure first (headings, then paragraphs, lists, code
blocks and quotes), then by sentences and lines, and only then by a hard cut. The
hard limit is exact: `count_tokens(embedding_text(title, chunk.heading, chunk.text))
<= max_tokens` for every chunk, so the model never truncates what we index.

Token counting is the expensive part (a fast HF tokenizer costs ~0.1 ms a call plus
~1 µs a character), so candidate chunks are sized with a cheap estimate that is
corrected by every exact count, and each character is counted about once.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from itertools import accumulate
from typing import Callable, NamedTuple

from .types import ChunkDraft, NoteDocument

TokenCounter = Callable[[str], int]

# A chunk never holds more than this many characters per token of budget. It bounds
# the text handed to the tokenizer at once, and catches text that tokenizes to almost
# nothing (a WordPiece "word" over 100 characters is a single [UNK]).
_MAX_CHARS_PER_TOKEN = 8
# Chunks may overshoot `target_tokens` by this factor rather than leave a small tail.
_SOFT = 1.25

_HEADING = re.compile(r" {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"[ \t]*(`{3,}|~{3,})(.*)$")
_LIST_ITEM = re.compile(r"[ \t]*(?:[-*+]|\d{1,9}[.)])(?:[ \t]|$)")
_MARKUP_ONLY = re.compile(r"[\s\-*_=~`#>|:+]*|(?:\s*<!--(?:(?!-->).)*-->)+\s*", re.DOTALL)
# A boundary falls after the whitespace that follows an English sentence, right after
# Chinese end punctuation (no spaces there), and after every newline.
_SENTENCE_END = re.compile(r"[.!?][\"'”’)\]]*[ \t]+|[。！？；…]+[\"”’」』）)]*[ \t]*|\n+")
_LIST_NUMBER = re.compile(r"[ \t]*\d{1,9}")
_LINE_END = re.compile(r"\n+")
_ESTIMATE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]|[^\W\u3400-\u9fff\uf900-\ufaff]+|[^\w\s]")


def embedding_text(title: str, heading: str, text: str) -> str:
    """The text that is embedded for a chunk: title, heading path, then the text.

    A leading heading equal to the title (the usual `# Title` line) is not repeated.
    """
    title, heading = title.strip(), heading.strip()
    if heading == title:
        heading = ""
    elif title and heading.startswith(title + " > "):
        heading = heading[len(title) + 3 :]
    return "\n".join(part for part in (title, heading, text) if part.strip())


def chunk_document(
    doc: NoteDocument,
    *,
    count_tokens: TokenCounter,
    max_tokens: int,
    target_tokens: int = 160,
) -> list[ChunkDraft]:
    text = doc.text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    chunker = _Chunker(text, lines, doc, count_tokens, max_tokens, min(target_tokens, max_tokens))
    if doc.kind == "markdown":
        sections, heading_lines = _markdown_sections(lines)
    else:
        sections, heading_lines = [("", _paragraphs(lines))], []
    chunks = [c for heading, blocks in sections for c in chunker.section(heading, blocks)]
    if not chunks and heading_lines:
        # Trigger: a note that is nothing but headings. Why: it should still be
        # findable. Outcome: its heading lines are indexed as plain text.
        chunks = chunker.section("", heading_lines)
    return chunks


class _Block(NamedTuple):
    first: int  # 0-based line index, inclusive
    last: int  # exclusive
    code: bool


class _Piece(NamedTuple):
    start: int  # character offsets into the text
    end: int
    level: int  # 0 block, 1 sentence or line, 2 hard-cut window
    code: bool
    estimate: float
    tokens: int | None = None  # exact count of its embedding text, when known


_Section = tuple[str, list[_Block]]


def _markdown_sections(lines: list[str]) -> tuple[list[_Section], list[_Block]]:
    sections: list[_Section] = [("", [])]
    path: list[tuple[int, str]] = []
    heading_lines: list[_Block] = []
    i, n = 0, len(lines)
    while i < n:
        line = lines[i]
        stripped = line.lstrip()
        if not stripped:
            i += 1
        elif stripped[0] in "`~" and (end := _fence_end(lines, i)) is not None:
            sections[-1][1].append(_Block(i, end, True))
            i = end
        elif stripped[0] == "#" and (m := _HEADING.match(line)):
            level, title = len(m.group(1)), (m.group(2) or "").strip()
            path = [(lv, t) for lv, t in path if lv < level] + [(level, title)]
            sections.append((" > ".join(t for _, t in path if t), []))
            heading_lines.append(_Block(i, i + 1, False))
            i += 1
        else:
            end = _text_block_end(lines, i)
            if not _is_markup_block(lines, i, end):
                sections[-1][1].append(_Block(i, end, False))
            i = end
    return [s for s in sections if s[1]], heading_lines


def _fence_end(lines: list[str], i: int) -> int | None:
    """The line after a fenced code block opening at `i`, or None if it is no fence."""
    m = _FENCE.match(lines[i])
    if not m or (m.group(1)[0] == "`" and "`" in m.group(2)):
        return None
    fence = m.group(1)
    for j in range(i + 1, len(lines)):
        closing = lines[j].strip()
        if closing.startswith(fence) and not closing.strip(fence[0]):
            return j + 1
    return len(lines)


def _text_block_end(lines: list[str], i: int) -> int:
    """End of the paragraph, list, quote or table starting at line `i`."""
    in_list = bool(_LIST_ITEM.match(lines[i]))
    n = len(lines)
    j = i + 1
    while j < n:
        line = lines[j]
        stripped = line.lstrip()
        if not stripped:
            if not in_list:
                break
            k = j + 1
            while k < n and not lines[k].strip():
                k += 1
            # A list goes on across blank lines while items or indented lines follow.
            if k < n and (_LIST_ITEM.match(lines[k]) or lines[k][:1] in (" ", "\t")):
                j = k
                continue
            break
        if stripped[0] in "`~" and (end := _fence_end(lines, j)) is not None:
            if not (in_list and line[:1] in (" ", "\t")):
                break
            j = end
            continue
        if stripped[0] == "#" and _HEADING.match(line):
            break
        if not in_list and _LIST_ITEM.match(line):
            in_list = True
        j += 1
    return j


def _paragraphs(lines: list[str]) -> list[_Block]:
    blocks: list[_Block] = []
    start: int | None = None
    for i in range(len(lines) + 1):
        blank = i == len(lines) or not lines[i].strip()
        if blank and start is not None:
            if not _is_markup_block(lines, start, i):
                blocks.append(_Block(start, i, False))
            start = None
        elif not blank and start is None:
            start = i
    return blocks


def _is_markup_block(lines: list[str], first: int, last: int) -> bool:
    if not lines[first].lstrip().startswith("<!--") and not _is_markup(lines[first]):
        return False
    return _is_markup("\n".join(lines[first:last]))


def _is_markup(text: str) -> bool:
    return _MARKUP_ONLY.fullmatch(text) is not None


def _clean(raw: str) -> str:
    """Original text without trailing whitespace or blank lines at either end."""
    lines = [line.rstrip() for line in raw.split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    start = 0
    while start < len(lines) and not lines[start]:
        start += 1
    return "\n".join(lines[start:])


def _estimate(text: str) -> float:
    if len(text) > 100_000:
        return len(text) / 3  # about to be split anyway; don't build a huge list
    return float(len(_ESTIMATE.findall(text)))


class _Left:
    """Running size of the pieces not yet packed (estimates and exact counts apart)."""

    def __init__(self) -> None:
        self.estimate = 0.0
        self.known = 0

    def add(self, pieces: list[_Piece], overhead: int, sign: int = 1) -> None:
        for p in pieces:
            if p.tokens is None:
                self.estimate += sign * p.estimate
            else:
                self.known += sign * (p.tokens - overhead)

    def remove(self, pieces: list[_Piece], overhead: int) -> None:
        self.add(pieces, overhead, -1)

    def tokens(self, factor: float) -> float:
        return max(1.0, self.estimate * factor + self.known)


class _Chunker:
    """Chunking state for one document: its text, line offsets and token budget."""

    def __init__(
        self,
        text: str,
        lines: list[str],
        doc: NoteDocument,
        count: TokenCounter,
        max_tokens: int,
        target: int,
    ) -> None:
        self.text = text
        self.title = doc.title
        self.first_line = doc.first_line
        self.count = count
        self.max = max_tokens
        self.target = target
        self.max_chars = max_tokens * _MAX_CHARS_PER_TOKEN
        self.lines = lines
        self.line_starts = [0, *accumulate(len(line) + 1 for line in lines[:-1])]
        self.factor = 1.2  # exact tokens per estimated token, updated as we count

    def section(self, heading: str, blocks: list[_Block]) -> list[ChunkDraft]:
        if not blocks:
            return []
        heading, overhead = self._fit_heading(heading)
        room = max(1, self.max - overhead)
        per_chunk = max(1, min(room, max(self.target - overhead, self.target // 4)))
        soft = min(self.max, int(max(self.target, overhead + per_chunk) * _SOFT))
        pieces = [self._block_piece(b) for b in blocks]
        return self._pack(heading, overhead, pieces, per_chunk, soft)

    def _pack(
        self, heading: str, overhead: int, pieces: list[_Piece], per_chunk: int, soft: int
    ) -> list[ChunkDraft]:
        chunks: list[ChunkDraft] = []
        stack = pieces[::-1]
        left = _Left()
        left.add(pieces, overhead)
        while stack:
            # Spread what is left evenly, rather than leave a small last chunk.
            remaining = left.tokens(self.factor)
            if remaining <= 0.9 * (soft - overhead):
                aim = math.inf
            else:
                aim = remaining / math.ceil(remaining / per_chunk)
            k = self._take(stack, aim, soft - overhead, overhead, len(stack))
            while True:
                top = stack[-1]
                start, end = top.start, stack[-k].end
                if k == 1 and top.tokens is not None:
                    text, n = self._clean_span(start, end), top.tokens
                    break
                if end - start > self.max_chars:
                    n = None  # only a single piece can be this long: split it
                    break
                text = self._clean_span(start, end)
                n = self.count(embedding_text(self.title, heading, text))
                estimate = sum(p.estimate for p in stack[-k:] if p.tokens is None)
                if estimate and n > overhead and all(p.tokens is None for p in stack[-k:]):
                    self.factor = (n - overhead) / estimate
                if k == 1 or (n <= self.max and n <= soft):
                    break
                k = self._take(stack, aim, soft - overhead, overhead, k - 1)
            if n is None or (n > self.max and top.level < 2):
                stack.pop()
                pieces = self._split(heading, overhead, soft, top)
                left.remove([top], overhead)
                left.add(pieces, overhead)
                stack.extend(reversed(pieces))
                continue
            left.remove(stack[-k:], overhead)
            del stack[len(stack) - k :]
            if text and not _is_markup(text):
                chunks.append(self._draft(text, heading, start, end))
        return chunks

    def _size(self, piece: _Piece, overhead: int) -> float:
        if piece.tokens is not None:
            return piece.tokens - overhead
        return piece.estimate * self.factor

    def _take(
        self, stack: list[_Piece], aim: float, stretch: float, overhead: int, limit: int
    ) -> int:
        """How many pieces from the top of `stack` make a chunk of about `aim` tokens."""
        start = stack[-1].start
        total = 0.0
        k = 0
        while k < limit:
            piece = stack[-1 - k]
            size = self._size(piece, overhead)
            if k and (total + size > aim or piece.end - start > self.max_chars):
                break
            total += size
            k += 1
        # Keep "Run this:" with what follows it: take that too if it fits, else leave both.
        if k < limit and self._introduces(stack[-k]):
            follower = self._size(stack[-1 - k], overhead)
            if total + follower <= stretch and stack[-1 - k].end - start <= self.max_chars:
                return k + 1
        while 1 < k < len(stack) and self._introduces(stack[-k]):
            k -= 1
        return k

    def _introduces(self, piece: _Piece) -> bool:
        return piece.level == 0 and self.text[piece.start : piece.end].rstrip().endswith((":", "："))

    def _split(self, heading: str, overhead: int, soft: int, piece: _Piece) -> list[_Piece]:
        if piece.level == 0:
            pattern = _LINE_END if piece.code else _SENTENCE_END
            parts = self._split_on(pattern, piece)
            if len(parts) > 1:
                return parts
        return self._hard_cut(heading, overhead, soft, piece)

    def _split_on(self, pattern: re.Pattern[str], piece: _Piece) -> list[_Piece]:
        cuts = [piece.start]
        text = self.text
        for m in pattern.finditer(text, piece.start, piece.end):
            if not cuts[-1] < m.end() < piece.end:
                continue
            if text[m.start()] == ".":
                line_start = text.rfind("\n", piece.start, m.start()) + 1 or piece.start
                if _LIST_NUMBER.fullmatch(text, line_start, m.start()):
                    continue  # "1. " starts a list item, it ends no sentence
            cuts.append(m.end())
        cuts.append(piece.end)
        return [
            _Piece(a, b, 1, piece.code, _estimate(self.text[a:b]))
            for a, b in zip(cuts, cuts[1:])
        ]

    def _hard_cut(self, heading: str, overhead: int, soft: int, piece: _Piece) -> list[_Piece]:
        """Token-counted windows over text with no usable boundary (a minified blob)."""
        room = max(1, self.target - overhead)
        chars_per_token = 4.0
        out: list[_Piece] = []
        pos = piece.start
        while pos < piece.end:
            ceiling = min(piece.end, pos + self.max_chars)
            fits, fits_n = pos, 0
            too_long = ceiling + 1
            guess = min(ceiling, pos + max(1, int(room * chars_per_token * 0.95)))
            for _ in range(16):
                end = self._snap(pos, fits, guess, piece.end)
                n = self.count(embedding_text(self.title, heading, self._clean_span(pos, end)))
                if n <= soft:
                    fits, fits_n = end, n
                    if end >= ceiling or n >= 0.75 * self.target:
                        break
                else:
                    too_long = end
                chars_per_token = max(0.25, (end - pos) / max(1, n - overhead))
                guess = pos + int(room * chars_per_token * 0.95)
                if not fits < guess < too_long:
                    guess = (fits + min(too_long, ceiling + 1)) // 2
                if guess <= fits:
                    break
            if fits == pos:
                # Trigger: nothing fits. Why: the title alone is over the limit, which
                # no cut can fix. Outcome: windows of plain size, over the limit.
                fits = min(piece.end, pos + self.max)
                fits_n = self.count(embedding_text(self.title, heading, self._clean_span(pos, fits)))
            out.append(_Piece(pos, fits, 2, piece.code, max(0, fits_n - overhead), fits_n))
            pos = fits
        return out

    def _snap(self, pos: int, fits: int, end: int, limit: int) -> int:
        """Move a cut back to just after whitespace, if there is some close by."""
        end = min(end, limit)
        if end >= limit:
            return end
        floor = max(fits + 1, pos + (end - pos) * 3 // 4)
        for i in range(end - 1, floor - 1, -1):
            if self.text[i].isspace():
                return i + 1
        return end

    def _block_piece(self, block: _Block) -> _Piece:
        start = self.line_starts[block.first]
        end = self.line_starts[block.last - 1] + len(self.lines[block.last - 1])
        return _Piece(start, end, 0, block.code, _estimate(self.text[start:end]))

    def _clean_span(self, start: int, end: int) -> str:
        return _clean(self.text[start:end])

    def _draft(self, text: str, heading: str, start: int, end: int) -> ChunkDraft:
        raw = self.text[start:end]
        first = start + len(raw) - len(raw.lstrip())
        last = start + len(raw.rstrip()) - 1
        return ChunkDraft(
            text=text,
            heading=heading,
            start_line=self.first_line + self._line_of(first),
            end_line=self.first_line + self._line_of(last),
        )

    def _line_of(self, offset: int) -> int:
        return bisect_right(self.line_starts, offset) - 1

    def _fit_heading(self, heading: str) -> tuple[str, int]:
        """The heading path, shortened if it leaves little room, and its token cost.

        The cost only sizes candidate chunks (each chunk is counted whole), so a
        generous estimate does unless the title and heading look long.
        """
        limit = self.max // 2
        estimate = math.ceil(_estimate(embedding_text(self.title, heading, "")) * 1.5)
        if estimate <= limit // 2:
            return heading, estimate
        overhead = self.count(embedding_text(self.title, heading, ""))
        if overhead > limit and " > " in heading:
            heading = heading.rsplit(" > ", 1)[-1]
            overhead = self.count(embedding_text(self.title, heading, ""))
        while heading and overhead > limit:
            heading = heading[: len(heading) // 2].rstrip() + "…" if len(heading) > 2 else ""
            overhead = self.count(embedding_text(self.title, heading, ""))
        return heading, overhead
