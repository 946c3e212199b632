"""Markdown notes: frontmatter, titles, tags and Obsidian syntax."""

from __future__ import annotations

import pytest

from notewell.indexer.errors import SkipFile
from notewell.indexer.markdown_notes import clean_obsidian, inline_tags, read_markdown, split_frontmatter


def read(text: str, stem: str = "note"):  # type: ignore[no-untyped-def]
    return read_markdown(text.encode(), stem)


@pytest.mark.parametrize(
    ("source", "tags"),
    [
        ("---\ntags: [Python, '#git', 2024]\n---\nbody\n", ("python", "git", "2024")),
        ("---\ntags:\n  - one\n  - two/sub\n---\nbody\n", ("one", "two/sub")),
        ("---\ntags: alpha, beta gamma\n---\nbody\n", ("alpha", "beta", "gamma")),
        ("---\ntag: '#solo'\n---\nbody\n", ("solo",)),
        ("---\ntags: [[nested], ok, true]\n---\nbody\n", ("ok",)),
        ("---\ntags:\n---\nbody #inline\n", ("inline",)),
        ("---\ntags: [dup]\n---\n#dup and #Other and #other\n", ("dup", "other")),
    ],
)
def test_frontmatter_tags(source: str, tags: tuple[str, ...]) -> None:
    assert read(source).tags == tags


@pytest.mark.parametrize(
    ("body", "tags"),
    [
        ("Use #python and #nested/tag here.", ["python", "nested/tag"]),
        ("# Heading\n## Sub heading #real", ["real"]),
        ("`#not-in-code` and ``#nor-this`` but #yes", ["yes"]),
        ("```bash\n# comment\necho #nope\n```\nafter #ok", ["ok"]),
        ("Issue #123 and url http://x.org/a#frag and &#8212; entity", []),
        ("See [setup](#setup) and #日记 #trailing/", ["日记", "trailing"]),
    ],
)
def test_inline_tags(body: str, tags: list[str]) -> None:
    assert inline_tags(body) == tags


@pytest.mark.parametrize(
    ("source", "stem", "title"),
    [
        ("---\ntitle: From YAML\n---\n# From heading\n", "file", "From YAML"),
        ("Intro line\n\n# git reset\n\nUndo.\n", "git-reset", "git reset"),
        ("## Only a subheading\n\ntext\n", "Meeting notes", "Meeting notes"),
        ("```\n# not a heading\n```\ntext\n", "stem", "stem"),
        ("Setext Title\n============\n\ntext\n", "stem", "Setext Title"),
        ("# Closing hashes ##\n", "stem", "Closing hashes"),
        ("# [[Linked Note|Shown]] today\n", "stem", "Shown today"),
        ("---\ntitle: 2024\n---\ntext\n", "stem", "2024"),
        ("---\ntitle: 2024-05-01\n---\ntext\n", "stem", "2024-05-01"),
        ("---\ntitle: [a, list]\n---\n# Heading wins\n", "stem", "Heading wins"),
    ],
)
def test_title_rules(source: str, stem: str, title: str) -> None:
    assert read(source, stem).title == title


def test_frontmatter_fields_and_first_line() -> None:
    source = "---\nTitle: Trip\naliases: [Vacation, Holiday]\ncreated: 2024-03-01 10:30:00\n---\n\nDay one.\n"

    doc = read(source)

    assert doc.title == "Trip"
    assert doc.aliases == ("Vacation", "Holiday")
    assert doc.created == "2024-03-01T10:30:00"
    assert doc.first_line == 6
    assert doc.text == "\nDay one.\n"
    assert source.split("\n")[doc.first_line] == "Day one."  # line 7 of the file, 1-based


@pytest.mark.parametrize(
    ("frontmatter", "created", "aliases"),
    [
        ("date: 2023-12-31", "2023-12-31", ()),
        ("created: 'last tuesday'", "last tuesday", ()),
        ("alias: One, Two", None, ("One", "Two")),
    ],
)
def test_dates_and_aliases(frontmatter: str, created: str | None, aliases: tuple[str, ...]) -> None:
    doc = read(f"---\n{frontmatter}\n---\nbody\n")
    assert (doc.created, doc.aliases) == (created, aliases)


@pytest.mark.parametrize(
    "source",
    [
        "---\nprivate: true\n---\nmy diary\n",
        "---\nprivate: yes\n---\nmy diary\n",
        "---\nPrivate: 'true'\n---\nmy diary\n",
        "---\ntitle: [unclosed\nprivate: true\n---\nmy diary\n",  # broken YAML still honours it
    ],
)
def test_private_notes_are_skipped(source: str) -> None:
    with pytest.raises(SkipFile) as caught:
        read(source)
    assert caught.value.reason == "marked private: true"


def test_private_false_is_indexed() -> None:
    assert read("---\nprivate: false\n---\ntext\n").text == "text\n"


@pytest.mark.parametrize(
    "source",
    [
        "---\ntitle: [unclosed\n---\nbody text\n",
        "---\njust a sentence, not a mapping\n---\nbody text\n",
        "---\nno closing delimiter\nbody text\n",
    ],
)
def test_not_quite_frontmatter_keeps_the_whole_text(source: str) -> None:
    doc = read(source)
    assert (doc.text, doc.first_line) == (source, 1)


def test_frontmatter_closed_with_dots_and_empty_block() -> None:
    assert split_frontmatter("---\ntitle: x\n...\nbody").body == "body"
    assert split_frontmatter("---\n---\nbody").first_line == 3


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("", "empty file"),
        ("\n  \n", "empty file"),
        ("---\ntitle: Only meta\n---\n\n", "empty note (frontmatter only)"),
    ],
)
def test_empty_notes_are_skipped(source: str, reason: str) -> None:
    with pytest.raises(SkipFile) as caught:
        read(source)
    assert caught.value.reason == reason


@pytest.mark.parametrize(
    ("body", "cleaned"),
    [
        ("See [[Other Note]] now", "See Other Note now"),
        ("See [[Other Note|that note]] now", "See that note now"),
        ("See [[Other#Setup]] and [[#Local]] and [[N#^block1]]", "See Other > Setup and Local and N"),
        ("Pic: ![[diagram.png]] end", "Pic:  end"),
        ("a %%hidden%% b", "a  b"),
        ("a %%spans\ntwo\nlines%% b\nc", "a \n\n b\nc"),
        ("```\n[[kept]] %%kept%%\n```\n[[gone]]", "```\n[[kept]] %%kept%%\n```\ngone"),
    ],
)
def test_obsidian_cleanup(body: str, cleaned: str) -> None:
    assert clean_obsidian(body) == cleaned
    assert cleaned.count("\n") == body.count("\n")


def test_cleanup_keeps_line_numbers_pointing_at_the_file() -> None:
    source = "---\ntags: [a]\n---\nintro %%note\nto self%% ![[x.png]]\n[[Target|Label]] line\n# Heading\n"

    doc = read(source)

    file_lines = source.split("\n")
    text_lines = doc.text.split("\n")
    assert len(text_lines) == len(file_lines) - (doc.first_line - 1)
    assert text_lines[3] == file_lines[doc.first_line - 1 + 3] == "# Heading"
