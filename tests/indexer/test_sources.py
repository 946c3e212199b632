"""Walking notes folders and reading notes: what a user sees indexed, skipped or left alone."""

from __future__ import annotations

import hashlib
import os
import pickle
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from notewell.indexer.errors import FolderError, SkipFile
from notewell.indexer.sources import (
    DEFAULT_EXTENSIONS,
    DEFAULT_MAX_BYTES,
    SourceOptions,
    content_hash,
    parse_note,
    read_bytes,
    walk_folder,
)
from notewell.indexer.types import NoteFile, SkippedFile


def write(root: Path, rel: str, content: bytes | str = "# A note\n\nSome text.\n") -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def walk(root: Path, **options: Any) -> tuple[list[str], dict[str, str]]:
    found: list[str] = []
    skipped: dict[str, str] = {}
    for item in walk_folder(root, SourceOptions(**options)):
        if isinstance(item, NoteFile):
            found.append(item.rel)
        else:
            skipped[item.rel] = item.reason
    return found, skipped


def notes(root: Path) -> list[NoteFile]:
    return [item for item in walk_folder(root) if isinstance(item, NoteFile)]


def note_file(root: Path, rel: str) -> NoteFile:
    (item,) = [item for item in notes(root) if item.rel == rel]
    return item


def run_unprivileged(fn: Callable[[], Any]) -> Any:
    """Call fn as a user that file permissions apply to (root ignores them)."""
    if os.geteuid() != 0:
        return fn()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child must never return into pytest
        try:
            os.close(read_end)
            try:
                os.setgid(65534)
                os.setuid(65534)
            except OSError as exc:
                outcome: tuple[str, Any] = ("no-setuid", repr(exc))
            else:
                outcome = _outcome(fn)
            with os.fdopen(write_end, "wb") as pipe:
                pickle.dump(outcome, pipe)
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        kind, value = pickle.loads(pipe.read())
    os.waitpid(pid, 0)
    if kind == "no-setuid":
        pytest.skip(f"cannot drop root privileges here: {value}")
    if kind == "error":
        raise AssertionError(value)
    if kind == "skip":
        raise SkipFile(value)
    return value


def _outcome(fn: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return ("ok", fn())
    except SkipFile as exc:
        return ("skip", exc.reason)
    except BaseException as exc:  # reported to the parent, which fails the test
        return ("error", repr(exc))


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder an unprivileged user can reach (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="notewell-test-"))
    path.chmod(0o755)
    yield path
    for dirpath, dirnames, _ in os.walk(path):
        for name in dirnames:
            os.chmod(os.path.join(dirpath, name), 0o755)
    shutil.rmtree(path)


def test_walk_finds_notes_in_nested_folders_in_sorted_order(tmp_path: Path) -> None:
    for rel in ["z.rst", "b/d/e.org", "a.md", "b/c.txt", "page.html", "old.htm", "paper.pdf", "x.markdown"]:
        write(tmp_path, rel)

    found, skipped = walk(tmp_path)

    assert found == ["a.md", "b/c.txt", "b/d/e.org", "old.htm", "page.html", "paper.pdf", "x.markdown", "z.rst"]
    assert skipped == {}


def test_walk_order_is_plain_sorted_order_of_paths(tmp_path: Path) -> None:
    for rel in ["a/x.md", "a b.md", "a.md", "a-b/y.md", "B.md", "a/b/c.md", "a/b.md"]:
        write(tmp_path, rel)

    found, _ = walk(tmp_path)

    assert found == sorted(found) == ["B.md", "a b.md", "a-b/y.md", "a.md", "a/b.md", "a/b/c.md", "a/x.md"]


def test_note_file_carries_resolved_folder_absolute_path_size_and_mtime(tmp_path: Path) -> None:
    path = write(tmp_path, "sub/note.md", "hello\n")
    (tmp_path / "link-to-root").symlink_to(tmp_path)

    (item,) = [e for e in walk_folder(tmp_path / "link-to-root") if isinstance(e, NoteFile)]

    st = path.stat()
    assert item == NoteFile(tmp_path.resolve(), path.resolve(), "sub/note.md", 6, st.st_mtime_ns)
    assert item.path.is_absolute()


def test_only_note_extensions_are_listed_and_others_are_silent(tmp_path: Path) -> None:
    for rel in ["photo.png", "data.csv", "README", "Upper.MD", "Shout.TXT", "notes.md.bak", "n.md"]:
        write(tmp_path, rel)

    assert walk(tmp_path) == (["Shout.TXT", "Upper.MD", "n.md"], {})
    assert walk(tmp_path, extensions=frozenset({".csv"})) == (["data.csv"], {})
    assert DEFAULT_EXTENSIONS == {".md", ".markdown", ".txt", ".org", ".rst", ".html", ".htm", ".pdf"}


def test_hidden_and_tool_folders_are_skipped_silently(tmp_path: Path) -> None:
    for rel in [
        ".git/HEAD.md",
        ".obsidian/workspace.md",
        ".trash/deleted.md",
        "node_modules/pkg/README.md",
        "sub/node_modules/x.md",
        "__pycache__/x.md",
        "sub/.hidden.md",
        ".hidden-top.md",
        "visible.md",
        "sub/visible.md",
    ]:
        write(tmp_path, rel)

    assert walk(tmp_path) == (["sub/visible.md", "visible.md"], {})


def test_notewellignore_at_root_nested_and_in_settings(tmp_path: Path) -> None:
    write(tmp_path, ".notewellignore", "# comment\ndrafts/\n*.tmp.md\n!keep.tmp.md\n")
    write(tmp_path, "work/.notewellignore", "secret.md\n/only-here.md\n!wanted.tmp.md\n")
    for rel in [
        "drafts/a.md",
        "work/drafts/b.md",
        "x.tmp.md",
        "keep.tmp.md",
        "secret.md",
        "work/secret.md",
        "work/deep/secret.md",
        "only-here.md",
        "work/only-here.md",
        "work/deep/only-here.md",
        "work/wanted.tmp.md",
        "archive/2019.md",
        "journal/private.md",
        "journal/public.md",
        "kept.md",
    ]:
        write(tmp_path, rel)

    found, skipped = walk(tmp_path, ignore_patterns=("archive/", "journal/private.md"))

    assert found == [
        "journal/public.md",
        "keep.tmp.md",
        "kept.md",
        "only-here.md",
        "secret.md",
        "work/deep/only-here.md",
        "work/wanted.tmp.md",
    ]
    assert skipped == {}


def test_a_bad_ignore_pattern_does_not_disable_the_others(tmp_path: Path) -> None:
    write(tmp_path, ".notewellignore", "!\nprivate/\n")
    write(tmp_path, "private/a.md")
    write(tmp_path, "b.md")

    assert walk(tmp_path) == (["b.md"], {})


def test_files_over_the_size_cap_are_reported_with_sizes(tmp_path: Path) -> None:
    write(tmp_path, "at-cap.md", b"x" * 1024)
    write(tmp_path, "over.md", b"x" * 2000)
    with open(tmp_path / "huge.txt", "wb") as handle:  # 50 MB, one line, sparse
        handle.write(b"start of a very long line")
        handle.truncate(50 * 1024 * 1024)

    assert walk(tmp_path, max_bytes=1024) == (
        ["at-cap.md"],
        {
            "huge.txt": "larger than the 1 KB size cap (50 MB)",
            "over.md": "larger than the 1 KB size cap (2 KB)",
        },
    )
    found, skipped = walk(tmp_path)
    assert DEFAULT_MAX_BYTES == 20 * 1024 * 1024
    assert skipped == {"huge.txt": "larger than the 20 MB size cap (50 MB)"}
    assert found == ["at-cap.md", "over.md"]


def test_symlinks_leading_out_of_the_folder_are_not_followed(tmp_path: Path) -> None:
    root, outside = tmp_path / "notes", tmp_path / "elsewhere"
    write(root, "mine.md")
    write(outside, "secret.md")
    write(outside, "photo.jpg")
    (root / "linked-dir").symlink_to(outside)
    (root / "linked-note.md").symlink_to(outside / "secret.md")
    (root / "linked-photo.jpg").symlink_to(outside / "photo.jpg")
    (root / "etc").symlink_to("/etc")

    found, skipped = walk(root)

    assert found == ["mine.md"]
    assert set(skipped) == {"etc", "linked-dir", "linked-note.md"}
    assert all("outside this folder, not followed" in reason for reason in skipped.values())


def test_symlinks_inside_the_folder_do_not_duplicate_notes(tmp_path: Path) -> None:
    write(tmp_path, "real.md")
    write(tmp_path, "projects/plan.md")
    (tmp_path / "alias.md").symlink_to(tmp_path / "real.md")
    (tmp_path / "shortcut").symlink_to(tmp_path / "projects")
    (tmp_path / "broken.md").symlink_to(tmp_path / "gone.md")

    notes, skipped = walk(tmp_path)
    assert notes == ["projects/plan.md", "real.md"]  # each note once, under its own name
    assert skipped == {  # and every link says why it was left out (#14)
        "alias.md": "link to a note or folder inside this folder: indexed there, under its own name",
        "shortcut": "link to a note or folder inside this folder: indexed there, under its own name",
        "broken.md": "link to something that no longer exists",
    }


def test_symlink_loops_terminate(tmp_path: Path) -> None:
    write(tmp_path, "a/b/note.md")
    (tmp_path / "a/b/up").symlink_to(tmp_path / "a")
    (tmp_path / "a/root").symlink_to(tmp_path)
    (tmp_path / "self.md").symlink_to(tmp_path / "self.md")
    (tmp_path / "ping.md").symlink_to(tmp_path / "pong.md")
    (tmp_path / "pong.md").symlink_to(tmp_path / "ping.md")

    notes, skipped = walk(tmp_path)
    assert notes == ["a/b/note.md"]
    loop = "link that leads back to itself (a loop), not followed"
    inside = "link to a note or folder inside this folder: indexed there, under its own name"
    assert skipped == {"self.md": loop, "ping.md": loop, "pong.md": loop, "a/b/up": inside, "a/root": inside}


def test_pipes_and_devices_with_a_note_name_say_why_they_are_never_read(tmp_path: Path) -> None:
    write(tmp_path, "real.md")
    os.mkfifo(tmp_path / "queue.md")
    notes, skipped = walk(tmp_path)
    assert notes == ["real.md"]
    assert skipped == {"queue.md": "a named pipe (FIFO), not a note: never read"}


def test_unreadable_subfolder_is_reported_and_the_walk_continues(shared_dir: Path) -> None:
    write(shared_dir, "ok.md")
    write(shared_dir, "locked/a.md")
    write(shared_dir, "zzz/after.md")
    write(shared_dir, "ignored-locked/b.md")
    write(shared_dir, ".notewellignore", "ignored-locked/\n")
    (shared_dir / "locked").chmod(0)
    (shared_dir / "ignored-locked").chmod(0)

    found, skipped = run_unprivileged(lambda: walk(shared_dir))

    assert found == ["ok.md", "zzz/after.md"]
    assert skipped == {"locked": "permission denied"}  # the ignored one is never opened


def test_unusable_folder_raises_folder_error_before_iteration(tmp_path: Path) -> None:
    write(tmp_path, "file.md")

    with pytest.raises(FolderError, match="does not exist"):
        walk_folder(tmp_path / "missing")
    with pytest.raises(FolderError, match="not a folder"):
        walk_folder(tmp_path / "file.md")


def test_unreadable_root_folder_raises_folder_error(shared_dir: Path) -> None:
    write(shared_dir, "locked/a.md")
    (shared_dir / "locked").chmod(0)

    message = run_unprivileged(lambda: _folder_error(shared_dir / "locked"))

    assert "permission denied" in message and "Settings" in message


def _folder_error(folder: Path) -> str:
    try:
        walk_folder(folder)
    except FolderError as exc:
        return str(exc)
    return "no error"


def test_names_with_spaces_unicode_and_emoji(tmp_path: Path) -> None:
    names = ["Café.txt", "Meeting notes.md", "ideas 💡.md", "with 'quotes' & (parens).md", "日记/今天.md"]
    for rel in names:
        write(tmp_path, rel, "just text\n")

    found, _ = walk(tmp_path)

    assert found == names
    titles = {item.rel: parse_note(item, read_bytes(item)).title for item in notes(tmp_path)}
    assert titles["Meeting notes.md"] == "Meeting notes"
    assert titles["日记/今天.md"] == "今天"
    assert titles["ideas 💡.md"] == "ideas 💡"


def test_names_that_are_not_utf8_are_reported_not_crashed_on(tmp_path: Path) -> None:
    root = os.fsencode(tmp_path)
    open(root + b"/caf\xe9.md", "wb").close()  # Latin-1 names from an old archive
    open(root + b"/photo\xff.png", "wb").close()
    os.mkdir(root + b"/d\xe9j\xe0")
    write(tmp_path, "ok.md")

    found, skipped = walk(tmp_path)

    assert found == ["ok.md"]
    reason = "name is not valid UTF-8; rename it to index it"
    assert skipped == {"caf\ufffd.md": reason, "d\ufffdj\ufffd": reason}


def test_extensions_from_settings_are_case_and_dot_insensitive(tmp_path: Path) -> None:
    for rel in ["a.CSV", "b.csv", "c.md"]:
        write(tmp_path, rel)
    assert walk(tmp_path, extensions=frozenset({"CSV"})) == (["a.CSV", "b.csv"], {})


def test_read_bytes_of_a_vanished_file(tmp_path: Path) -> None:
    path = write(tmp_path, "gone.md")
    item = note_file(tmp_path, "gone.md")
    path.unlink()

    with pytest.raises(SkipFile) as caught:
        read_bytes(item)

    assert caught.value.reason == "file vanished while reading"


def test_read_bytes_without_permission(shared_dir: Path) -> None:
    path = write(shared_dir, "locked.md")
    item = note_file(shared_dir, "locked.md")
    path.chmod(0)

    with pytest.raises(SkipFile) as caught:
        run_unprivileged(lambda: read_bytes(item))

    assert caught.value.reason == "permission denied"


def test_read_bytes_of_something_that_became_a_folder(tmp_path: Path) -> None:
    path = write(tmp_path, "x.md")
    item = note_file(tmp_path, "x.md")
    path.unlink()
    path.mkdir()

    with pytest.raises(SkipFile, match="not a regular file any more"):
        read_bytes(item)


def test_content_hash_is_a_stable_hex_digest_of_the_bytes() -> None:
    assert content_hash(b"abc") == content_hash(b"abc")
    assert content_hash(b"abc") != content_hash(b"abd")
    assert len(content_hash(b"")) == 64 and int(content_hash(b"abc"), 16) >= 0


@pytest.mark.parametrize(
    ("name", "content", "kind", "title"),
    [
        ("git-reset.md", "# git reset\n\nUndo commits.\n", "markdown", "git reset"),
        ("x.markdown", "plain words\n", "markdown", "x"),
        ("todo.txt", "buy milk\n", "text", "todo"),
        ("plan.org", "#+TITLE: Q3 plan\n* Goals\n", "text", "Q3 plan"),
        ("guide.rst", "Guide\n=====\n\nBody.\n", "text", "guide"),
        ("page.html", "<title>Saved page</title><p>Hello</p>", "html", "Saved page"),
        ("PAGE.HTM", "<h1>Big</h1><p>Hello</p>", "html", "Big"),
    ],
)
def test_parse_note_reads_each_type(tmp_path: Path, name: str, content: str, kind: str, title: str) -> None:
    write(tmp_path, name, content)
    item = note_file(tmp_path, name)

    doc = parse_note(item, read_bytes(item))

    assert (doc.kind, doc.title) == (kind, title)


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.md", b"", "empty file"),
        ("blank.txt", b"  \n\n\t\n", "empty file"),
        ("image.md", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "binary file, not text"),
        ("secret.md", b"---\nprivate: true\n---\nmy diary\n", "marked private: true"),
        ("broken.pdf", b"this is not a pdf at all", "could not read PDF"),
    ],
)
def test_parse_note_skips_with_a_reason(tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    write(tmp_path, name, content)
    item = note_file(tmp_path, name)

    with pytest.raises(SkipFile) as caught:
        parse_note(item, read_bytes(item))

    assert caught.value.reason.startswith(reason)


def test_parse_note_decodes_legacy_chinese_and_invalid_utf8(tmp_path: Path) -> None:
    write(tmp_path, "会议.txt", "会议记录：明天讨论项目进度。\n".encode("gb18030"))
    write(tmp_path, "mixed.md", b"caf\xc3\xa9 na\xc3\xafve r\xc3\xa9sum\xc3\xa9 \xff end\n")

    docs = {item.rel: parse_note(item, read_bytes(item)) for item in notes(tmp_path)}

    assert docs["会议.txt"].text == "会议记录：明天讨论项目进度。\n"
    assert docs["mixed.md"].text == "café naïve résumé \ufffd end\n"


def test_walking_and_parsing_never_modify_notes(tmp_path: Path) -> None:
    files = {
        "a.md": "---\ntitle: T\ntags: [x]\n---\n# H\n\n[[Link|alias]] %%c%% ![[img.png]]\r\n",
        "b/c.txt": "text\r\nmore\r\n",
        "b/page.html": "<html><title>x</title><body><p>hi</p><script>x()</script></body></html>",
        "gb.txt": "中文笔记".encode("gb18030"),
        "bom.md": b"\xef\xbb\xbf# BOM\n",
        "image.png": b"\x89PNG\x00",
        "big.md": b"x" * 3000,
    }
    for rel, content in files.items():
        write(tmp_path, rel, content)

    def snapshot() -> dict[str, tuple[str, int, int]]:
        out = {}
        for path in sorted(tmp_path.rglob("*")):
            st = path.stat()
            digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
            out[str(path)] = (digest, st.st_mtime_ns, stat.S_IMODE(st.st_mode))
        return out

    before = snapshot()
    for item in walk_folder(tmp_path, SourceOptions(max_bytes=2048)):
        if isinstance(item, NoteFile):
            data = read_bytes(item)
            assert content_hash(data) == content_hash((tmp_path / item.rel).read_bytes())
            parse_note(item, data)
        else:
            assert isinstance(item, SkippedFile)

    assert snapshot() == before


def test_a_file_that_grew_past_the_size_cap_since_it_was_listed_is_skipped_not_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "log.md"
    path.write_bytes(b"# Log\n")
    listed = NoteFile(folder=tmp_path, path=path, rel="log.md", size=6, mtime_ns=path.stat().st_mtime_ns)
    path.write_bytes(b"# Log\n" + b"x" * 5000)  # an app appended to it after the walk
    with pytest.raises(SkipFile, match="size cap"):
        read_bytes(listed, max_bytes=1000)
    assert read_bytes(listed, max_bytes=10_000).startswith(b"# Log\n")
