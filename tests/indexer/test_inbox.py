"""Saving a note into the inbox: names from hostile titles, clashes, never an existing file (issue 18)."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

import pytest

from notewell.indexer.inbox import MAX_NAME_BYTES, NewNote, file_stem, write_new_note
from notewell.indexer.markdown_notes import read_markdown

WHEN = datetime(2026, 12, 7, 1, 30, tzinfo=timezone.utc)


@pytest.mark.parametrize(("title", "stem"), [
    ("Trip ideas", "Trip ideas"),
    ("../../etc/x", "etc x"),
    ("/abs", "abs"),
    ("..\\..\\windows\\system32", "windows system32"),
    ("CON", "CON note"),
    ("nul.txt", "nul note.txt"),  # Windows reserves NUL.txt too
    # Review of #18, finding 10: every name Windows reserves, whatever follows it.
    ("COM¹", "COM¹ note"),
    ("lpt²", "lpt² note"),
    ("LPT³.md", "LPT³ note.md"),
    ("CONIN$", "CONIN$ note"),
    ("conout$", "conout$ note"),
    ("CON .txt", "CON note.txt"),
    ("prn...", "prn note"),
    ("Console", "Console"),
    ("COM10", "COM10"),
    ("", "Untitled note"),
    ("   ", "Untitled note"),
    ("..", "Untitled note"),
    (".hidden", "hidden"),
    ("a\x00b\nc\u202ed", "a b cd"),  # NUL and newline split, a bidi override goes
    ("Ideas 🌱 for May", "Ideas 🌱 for May"),
    ("what? <yes>: \"no\" | *", "what yes no"),
])
def test_a_title_becomes_one_plain_file_name(title: str, stem: str) -> None:
    assert file_stem(title) == stem


def test_a_huge_title_is_cut_to_a_name_every_file_system_takes(tmp_path: Path) -> None:
    stem = file_stem("ü" * 10_000)
    assert len(stem.encode()) <= MAX_NAME_BYTES and stem == "ü" * (MAX_NAME_BYTES // 2)
    emoji = file_stem("🌱" * 10_000)
    assert len(emoji.encode()) <= MAX_NAME_BYTES and set(emoji) == {"🌱"}  # never half a character
    assert write_new_note(tmp_path, NewNote("🌱" * 10_000, "text")).name == emoji + ".md"


def test_the_file_has_frontmatter_the_indexer_reads(tmp_path: Path) -> None:
    note = NewNote('Trip: "Lisbon"\n---\nnot: frontmatter', "# Plan\n\nTrams and tiles.", ("travel", "2027"),
                   "ChatGPT")
    path = write_new_note(tmp_path, note, WHEN)
    assert path.parent == tmp_path and path.name == "Trip Lisbon --- not frontmatter.md"
    text = path.read_text(encoding="utf-8")
    assert text.startswith("---\n") and "saved_by: ChatGPT" in text and "created: '2026-12-07T01:30:00+00:00'" in text
    parsed = read_markdown(path.read_bytes(), path.stem)
    assert parsed.title == 'Trip: "Lisbon" --- not: frontmatter' and set(parsed.tags) >= {"travel", "2027"}
    assert "Trams and tiles." in parsed.text and "not: frontmatter" not in parsed.text


def test_a_clash_gets_a_new_name_and_the_old_file_is_untouched(tmp_path: Path) -> None:
    first = write_new_note(tmp_path, NewNote("Plan", "first"))
    before = first.read_bytes()
    second = write_new_note(tmp_path, NewNote("Plan", "second"))
    third = write_new_note(tmp_path, NewNote("/Plan/", "third"))
    assert [first.name, second.name, third.name] == ["Plan.md", "Plan 2.md", "Plan 3.md"]
    assert first.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Plan 2.md", "Plan 3.md", "Plan.md"]  # no temp left


def test_a_name_taken_by_a_folder_or_a_link_is_not_used(tmp_path: Path) -> None:
    (tmp_path / "Plan.md").mkdir()
    outside = tmp_path.parent / "outside.md"
    outside.write_text("keep me")
    (tmp_path / "Plan 2.md").symlink_to(outside)
    saved = write_new_note(tmp_path, NewNote("Plan", "new"))
    assert saved.name == "Plan 3.md" and outside.read_text() == "keep me"


def test_the_saved_file_is_private_to_the_user(tmp_path: Path) -> None:
    saved = write_new_note(tmp_path, NewNote("Plan", "new"))
    assert os.stat(saved).st_mode & 0o077 == 0


def test_in_a_saved_only_folder_only_notes_notewell_saved_are_read(tmp_path: Path) -> None:
    """Review of #18, finding 1: an inbox like ~/Downloads publishes only what Notewell saved."""
    from notewell.indexer.errors import SkipFile
    from notewell.indexer.sources import SourceOptions, parse_note, walk_folder

    saved = write_new_note(tmp_path, NewNote("Plan", "saved text", (), "ChatGPT"))
    (tmp_path / "passwords.md").write_text("# SSH\n\nhunter2\n")
    (tmp_path / "old.txt").write_text("saved_by: me\nhunter2\n")
    options = SourceOptions(saved_only=lambda folder: folder == str(tmp_path)).for_folder(str(tmp_path))
    files = {entry.rel: entry for entry in walk_folder(tmp_path, options)}
    assert set(files) == {"Plan.md", "passwords.md"}  # Markdown only
    assert "saved text" in parse_note(files["Plan.md"], saved.read_bytes(), saved_only=True).text
    with pytest.raises(SkipFile):
        parse_note(files["passwords.md"], (tmp_path / "passwords.md").read_bytes(), saved_only=True)


def test_an_inbox_swapped_for_a_link_is_refused_and_nothing_lands_elsewhere(tmp_path: Path) -> None:
    """Review of #18, finding 8: the inbox is resolved once; a link put in its place later is not followed."""
    from notewell.indexer.inbox import InboxError

    tmp_path = tmp_path.resolve()
    inbox, outside = tmp_path / "notes" / "inbox", tmp_path / "outside"
    inbox.mkdir(parents=True)
    outside.mkdir()
    write_new_note(inbox, NewNote("First", "fine"))
    inbox.rename(tmp_path / "notes" / "inbox.real")
    inbox.symlink_to(outside)
    with pytest.raises(InboxError, match="link"):
        write_new_note(inbox, NewNote("Second", "redirected?"))
    assert list(outside.iterdir()) == []
    (tmp_path / "notes").rename(tmp_path / "notes.real")  # a link higher up is not followed either
    (tmp_path / "notes").symlink_to(tmp_path / "notes.real")
    with pytest.raises(InboxError, match="link"):
        write_new_note(tmp_path / "notes" / "inbox.real", NewNote("Third", "redirected?"))
    assert sorted(p.name for p in (tmp_path / "notes.real" / "inbox.real").iterdir()) == ["First.md"]


def test_control_characters_and_bidi_overrides_do_not_reach_the_file(tmp_path: Path) -> None:
    """Review of #18, finding 11: `cat` of a saved note must not run terminal escapes."""
    text = "Plan\x1b]0;pwned\x07 and \x1b[31mred\x1b[0m\u202eevil\u2066x\u2069\r\nnext\rline\x9b2J\x00\ttabbed\n"
    saved = write_new_note(tmp_path, NewNote("Plan", text)).read_text(encoding="utf-8")
    for bad in ("\x1b", "\x07", "\x9b", "\x00", "\u202e", "\u2066", "\u2069", "\r"):
        assert bad not in saved, repr(bad)
    assert "Plan]0;pwned and [31mred[0mevilx\nnext\nline2J\ttabbed\n" in saved
