"""Markdown notes: YAML frontmatter, title, tags, and Obsidian syntax made readable.

Every change to the body keeps its line count, so chunk line spans still point at
the lines the user sees in their editor.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass

import yaml

from notewell.indexer.errors import SkipFile
from notewell.indexer.privacy import marked_private, private_line_in
from notewell.indexer.readers import decode_text
from notewell.indexer.types import NoteDocument

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_COMMENT = re.compile(r"%%.*?%%", re.DOTALL)
_EMBED = re.compile(r"!\[\[[^\]\n]*\]\]")
_WIKILINK = re.compile(r"\[\[([^\]|\n]*)(?:\|([^\]\n]*))?\]\]")
_INLINE_CODE = re.compile(r"(`+).+?\1")
# Obsidian: a tag starts after whitespace, has no spaces and is not all digits. Not after
# "(": that is a link to a heading, [Setup](#setup).
_INLINE_TAG = re.compile(r"(?:^|(?<=\s))#([\w/-]*[^\W\d][\w/-]*)")
_SETEXT_H1 = re.compile(r" {0,3}=+[ \t]*")
_ATX_H1 = re.compile(r"^ {0,3}#[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$")


@dataclass(frozen=True)
class Frontmatter:
    fields: dict[str, object]
    body: str
    first_line: int  # 1-based line of the file where `body` starts


def read_markdown(data: bytes, stem: str) -> NoteDocument:
    text = decode_text(data)
    if not text.strip():
        raise SkipFile("empty file")
    front = split_frontmatter(text)
    fields = front.fields
    if marked_private(fields.get("private")):
        raise SkipFile("marked private: true")
    body = clean_obsidian(front.body)
    if not body.strip():
        raise SkipFile("empty note (frontmatter only)")
    return NoteDocument(
        title=_scalar_text(fields.get("title")) or markdown_title(body) or stem,
        text=body,
        kind="markdown",
        first_line=front.first_line,
        tags=_dedupe([*_tag_list(fields.get("tags", fields.get("tag"))), *inline_tags(body)]),
        aliases=_dedupe(_string_list(fields.get("aliases", fields.get("alias")), r",")),
        created=_scalar_text(fields.get("created", fields.get("date"))),
    )


def split_frontmatter(text: str) -> Frontmatter:
    """Separate a leading `---` YAML block from the body.

    A block that is not a YAML mapping counts as no frontmatter: the whole text is the body.
    """
    lines = text.split("\n")
    if lines[0].rstrip() != "---":
        return Frontmatter({}, text, 1)
    for end in range(1, len(lines)):
        if lines[end].rstrip() in ("---", "..."):
            break
    else:
        # Trigger: the closing `---` is missing. Why: the user still meant the block, and a
        # private note must not leak for a typo (issue 15). Outcome: its `private:` is honoured.
        if private_line_in(text):
            raise SkipFile("marked private: true")
        return Frontmatter({}, text, 1)
    block = "\n".join(lines[1:end])
    try:
        fields = yaml.safe_load(block)
    except (yaml.YAMLError, ValueError):  # ValueError: a date like 2024-02-30
        # Trigger: a typo in the frontmatter. Why: a note the user marked private must stay
        # out even when the rest of its YAML is broken. Outcome: the whole text is the body.
        if private_line_in(block):
            raise SkipFile("marked private: true") from None
        return Frontmatter({}, text, 1)
    if fields is None:
        fields = {}
    if not isinstance(fields, dict):
        if private_line_in(block):
            raise SkipFile("marked private: true")
        return Frontmatter({}, text, 1)
    fields = {str(key).lower(): value for key, value in fields.items()}
    return Frontmatter(fields, "\n".join(lines[end + 1 :]), end + 2)


def clean_obsidian(body: str) -> str:
    """Drop %%comments%% and ![[embeds]], show [[links]] as their text; code is left alone."""
    return "".join(_clean_prose(part) if not is_code else part for is_code, part in _segments(body))


def _clean_prose(text: str) -> str:
    text = _COMMENT.sub(lambda m: "\n" * m.group().count("\n"), text)
    text = _EMBED.sub("", text)
    return _WIKILINK.sub(_link_text, text)


def _link_text(match: re.Match[str]) -> str:
    target, alias = match.group(1), match.group(2)
    if alias and alias.strip():
        return alias.strip()
    # [[Note#Heading]] reads as "Note > Heading"; block ids (#^abc) mean nothing to a reader.
    parts = [part.strip() for part in target.split("#") if part.strip() and not part.startswith("^")]
    return " > ".join(parts)


def _segments(body: str) -> Iterable[tuple[bool, str]]:
    """Yield (is_code, text) runs of whole lines; fenced code blocks are code."""
    run: list[str] = []
    fence = ""
    for line in body.splitlines(keepends=True):
        opening = _FENCE.match(line)
        if not fence and opening:
            if run:
                yield False, "".join(run)
            run, fence = [line], opening.group(1)
        elif fence and line.strip().startswith(fence[0] * len(fence)) and not line.strip().strip(fence[0]):
            run.append(line)
            yield True, "".join(run)
            run, fence = [], ""
        else:
            run.append(line)
    if run:
        yield bool(fence), "".join(run)


def inline_tags(body: str) -> list[str]:
    tags: list[str] = []
    for is_code, part in _segments(body):
        if not is_code:
            for match in _INLINE_TAG.finditer(_INLINE_CODE.sub(" ", part)):
                tags.append(match.group(1).strip("/").lower())
    return tags


def markdown_title(body: str) -> str | None:
    """The first level-1 heading, `# Title` or Title underlined with `===`."""
    for is_code, part in _segments(body):
        if is_code:
            continue
        lines = part.split("\n")
        for index, line in enumerate(lines):
            atx = _ATX_H1.match(line)
            if atx:
                title = atx.group(1)
            elif line.strip() and index + 1 < len(lines) and _SETEXT_H1.fullmatch(lines[index + 1]):
                title = line
            else:
                continue
            title = title.replace("`", "").strip()
            if title:
                return title
    return None


def _tag_list(value: object) -> list[str]:
    return [tag.lstrip("#").lower() for tag in _string_list(value, r"[,\s]+") if tag.lstrip("#")]


def _string_list(value: object, separator: str) -> list[str]:
    if isinstance(value, str):
        items: list[object] = re.split(separator, value)
    elif isinstance(value, (list, tuple, set)):
        items = list(value)
    else:
        items = [value]
    texts = (_scalar_text(item) for item in items)
    return [text for text in texts if text]


def _scalar_text(value: object) -> str | None:
    """A YAML scalar as text: dates in ISO 8601; lists, mappings and booleans give None."""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return " ".join(str(value).split()) or None
    return None


def _dedupe(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))
