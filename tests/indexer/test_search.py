"""Search with the real bundled model, real Chroma and real files: English and
Chinese questions find the note a person means; filters restrict results."""

from __future__ import annotations

import os
import random
from datetime import datetime, timezone
from pathlib import Path

import pytest

from notewell.indexer.embedding import HashEmbedder
from notewell.indexer.notes_index import NotesIndex
from notewell.indexer.relevance import GOOD_MATCH
from notewell.indexer.types import SearchFilters
from tests.helpers import write_notes

NOTES = {
    "kitchen/sourdough.md": (
        "---\ntags: [baking, recipe]\n---\n# Sourdough bread\n\n## Method\n\n"
        "Mix flour and water, rest an hour, add the starter and salt. Stretch and fold, proof "
        "overnight in the fridge and bake in a covered Dutch oven.\n"
    ),
    "kitchen/pancakes.md": "# Pancakes\n\nWhisk eggs, milk and flour. Fry in butter until golden.\n",
    "work/git.md": (
        "---\ntags: [dev]\n---\n# Git notes\n\n## Undo\n\nUndo the last commit but keep the changes "
        "in the working tree: `git reset HEAD~`.\n\n## Branches\n\nCreate a branch with `git switch -c name`.\n"
    ),
    "work/network.md": "# Networking\n\nFind which process listens on a port: `lsof -i :3000`, then kill it.\n",
    "生活/时区.md": "# 修改时区\n\n在 Windows 上用 tzutil 命令查看或设置系统时区：`tzutil /s \"China Standard Time\"`。\n",
    "生活/剪贴板.md": "# 剪贴板\n\n把命令的输出直接复制到剪贴板：`dir | clip`。\n",
    "生活/跑步.md": "# 跑步计划\n\n每周跑三次，每次五公里，周末去公园长跑。\n",
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = write_notes(tmp_path_factory.mktemp("search") / "notes", NOTES)
    old = datetime(2020, 1, 15, tzinfo=timezone.utc).timestamp()
    os.utime(folder / "kitchen/pancakes.md", (old, old))
    return folder


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory, corpus: Path, real_embedder):
    idx = NotesIndex.open(tmp_path_factory.mktemp("data"), real_embedder)
    idx.sync([corpus])
    yield idx
    idx.close()


def top(index: NotesIndex, query: str, mode: str = "hybrid", filters: SearchFilters | None = None) -> list[str]:
    seen: list[str] = []
    for r in index.search(query, k=10, mode=mode, filters=filters):
        if r.path not in seen:
            seen.append(r.path)
    return seen


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("take back my last commit but keep my edits", "work/git.md"),
        ("how do I bake bread with a starter", "kitchen/sourdough.md"),
        ("something is hogging port 3000", "work/network.md"),
        ("电脑时区不对怎么改", "生活/时区.md"),
        ("把输出放进剪贴板", "生活/剪贴板.md"),
        ("tzutil", "生活/时区.md"),
    ],
)
def test_hybrid_finds_the_note_a_person_means(index: NotesIndex, query: str, expected: str) -> None:
    assert top(index, query)[0] == expected


def test_results_have_the_documented_shape(index: NotesIndex, corpus: Path) -> None:
    (result,) = index.search("git reset HEAD~", k=1)
    data = result.to_dict()
    assert set(data) >= {"id", "note_id", "path", "folder", "title", "heading", "text", "score", "modified_at", "lines"}
    assert data["path"] == "work/git.md" and data["folder"] == str(corpus.resolve())
    assert data["title"] == "Git notes" and data["heading"] == "Git notes > Undo"
    assert "git reset HEAD~" in data["text"]
    start, end = data["lines"]
    lines = (corpus / "work/git.md").read_text().splitlines()
    assert "git reset HEAD~" in "\n".join(lines[start - 1 : end])
    assert 0 < data["score"] <= 1
    datetime.fromisoformat(data["modified_at"])


@pytest.mark.parametrize("mode", ["hybrid", "dense", "keyword"])
def test_scores_are_similarities_best_first(index: NotesIndex, mode: str) -> None:
    results = index.search("sourdough starter", k=5, mode=mode)
    scores = [r.score for r in results]
    assert results and scores == sorted(scores, reverse=True)
    assert results[0].path == "kitchen/sourdough.md"


@pytest.mark.parametrize("nonsense", ["xyzzyqq plugh", "blorptang frumious wibble", "qqqq zzkv"])
@pytest.mark.parametrize("mode", ["hybrid", "dense", "keyword"])
def test_a_query_that_matches_nothing_scores_below_a_good_match(index: NotesIndex, nonsense: str, mode: str) -> None:
    weak = index.search(nonsense, k=3, mode=mode)
    best_weak = weak[0].score if weak else 0.0
    real = index.search("how do I bake bread with a starter", k=1, mode=mode)[0]
    assert best_weak < GOOD_MATCH <= real.score
    assert best_weak < real.score


def test_the_best_of_a_weak_lot_is_not_a_perfect_score(index: NotesIndex) -> None:
    results = index.search("train timetable for the mountain railway", k=3)
    assert results and results[0].score < 0.5


def test_the_words_of_the_query_lift_a_passage_that_holds_them(index: NotesIndex) -> None:
    """`tzutil` means little to the model; the note that holds the word is still a good match."""
    (hit,) = index.search("tzutil", k=1)
    (dense,) = index.search("tzutil", k=1, mode="dense")
    assert hit.path == "生活/时区.md" and hit.score >= GOOD_MATCH and hit.score > dense.score


def test_one_note_contributes_at_most_two_chunks(index: NotesIndex) -> None:
    results = index.search("git", k=10)
    assert sum(r.path == "work/git.md" for r in results) <= 2


@pytest.mark.parametrize(
    ("filters", "allowed"),
    [
        (SearchFilters(path_prefix="kitchen/"), {"kitchen/sourdough.md", "kitchen/pancakes.md"}),
        (SearchFilters(tags=("baking",)), {"kitchen/sourdough.md"}),
        (SearchFilters(end_date="2020-12-31"), {"kitchen/pancakes.md"}),
        (SearchFilters(start_date="2021-01-01", path_prefix="kitchen"), {"kitchen/sourdough.md"}),
    ],
)
@pytest.mark.parametrize("mode", ["hybrid", "dense", "keyword"])
def test_filters_restrict_every_mode(index: NotesIndex, filters: SearchFilters, allowed: set[str], mode: str) -> None:
    found = set(top(index, "flour and eggs for baking", mode, filters))
    assert found and found <= allowed


def test_note_and_folder_filters(index: NotesIndex, corpus: Path) -> None:
    note_id = index.search("tzutil", k=1)[0].note_id
    assert set(top(index, "时区 剪贴板 跑步", filters=SearchFilters(note_id=note_id))) == {"生活/时区.md"}
    assert top(index, "bread", filters=SearchFilters(folder="/somewhere/else")) == []
    assert top(index, "bread", filters=SearchFilters(folder=str(corpus)))[0] == "kitchen/sourdough.md"


def test_empty_query_returns_nothing(index: NotesIndex) -> None:
    assert index.search("   ") == []
    assert index.search("the of and", mode="keyword") == []


COMMANDS = {
    "tar": "Create a gzip-compressed archive of a folder, or extract one.",
    "rsync": "Copy files to a remote host, sending only what changed.",
    "grep": "Search files for lines that match a pattern.",
    "ffmpeg": "Convert a video to another format or cut a clip out of it.",
    "cron": "Run a script on a schedule, every day at a set time.",
    "ssh-keygen": "Make a new key pair for logging in without a password.",
    "du": "Show which folders take the most disk space.",
    "ping": "Check whether a host answers on the network.",
    "curl": "Send an HTTP request and print the response body.",
    "chmod": "Change who may read, write or execute a file.",
    "kill": "Stop a process by its id.",
    "df": "Show free space on each mounted drive.",
    "zip": "Pack files into a zip archive for email.",
    "git-log": "Show the history of commits on a branch.",
    "docker-run": "Start a container from an image with a port published.",
    "systemctl": "Start, stop or enable a service at boot.",
    "journalctl": "Read the system log of a service.",
    "sed": "Replace text in a file from the command line.",
    "awk": "Print one column of a table of text.",
    "sort": "Sort the lines of a file, numerically or by a column.",
    "uniq": "Count repeated lines in sorted input.",
    "find": "Find files by name, size or age below a folder.",
    "xargs": "Run a command on every line of its input.",
    "top": "Watch which processes use the most CPU and memory.",
    "lsblk": "List disks and partitions.",
    "mount": "Attach a drive or network share to a folder.",
    "ip": "Show network interfaces and their addresses.",
    "dig": "Look up the DNS records of a domain.",
    "openssl": "Check when a site's certificate expires.",
    "pandoc": "Turn a Markdown document into a PDF or a Word file.",
}


TICKETS = dict(zip(COMMANDS, random.Random(3).sample(range(1000, 9999), len(COMMANDS))))


@pytest.fixture(scope="module")
def commands_index(tmp_path_factory: pytest.TempPathFactory, real_embedder):
    # A folder of ticket notes: "OPS-4898: Create a gzip-compressed archive…"
    notes = {f"tickets/{name}.md": f"# {name}\n\nOPS-{TICKETS[name]}: {text}\n" for name, text in COMMANDS.items()}
    folder = write_notes(tmp_path_factory.mktemp("commands") / "notes", notes)
    idx = NotesIndex.open(tmp_path_factory.mktemp("data"), real_embedder)
    idx.sync([folder])
    yield idx
    idx.close()


def test_a_ticket_number_finds_its_note_first(commands_index: NotesIndex) -> None:
    # The model sees every "OPS-dddd" as alike and ranks a ticket's note anywhere
    # (for a third of these not even in its top ten); the one note holding the
    # number is what the user means.
    found = {name: top(commands_index, f"OPS-{n}")[0] for name, n in TICKETS.items()}
    assert found == {name: f"tickets/{name}.md" for name in TICKETS}


@pytest.mark.parametrize(
    ("query", "expected"),
    [("which program is eating my CPU", "tickets/top.md"), ("my drives are running out of space", "tickets/df.md")],
)
def test_a_question_is_still_led_by_meaning(commands_index: NotesIndex, query: str, expected: str) -> None:
    assert top(commands_index, query)[0] == expected


def test_a_filter_keeps_the_best_keyword_match(tmp_path: Path) -> None:
    # A word in a note's title outweighs the same word repeated in many notes' bodies;
    # a filter must rank by that same measure before it cuts to the candidates, or the
    # best note falls out of a filtered search while an unfiltered one puts it first.
    notes = {f"b/note-{n}.md": f"# Note {n}\n\nA line about topic number {n}.\n" for n in range(200)}
    notes.update({
        f"a/review-{n}.md": f"# Review {n}\n\nbackup backup: the backup ran, then backup again on day {n}.\n"
        for n in range(70)
    })
    notes["a/title.md"] = "# Backup\n\nThe external drive is copied every night with restic to the NAS.\n"
    folder = write_notes(tmp_path / "notes", notes)
    idx = NotesIndex.open(tmp_path / "data", HashEmbedder())  # keyword ranking only
    try:
        idx.sync([folder])
        assert top(idx, "backup", "keyword")[0] == "a/title.md"
        assert top(idx, "backup", "keyword", SearchFilters(path_prefix="a/"))[0] == "a/title.md"
    finally:
        idx.close()


def test_a_name_written_as_the_note_writes_it_finds_that_note(tmp_path: Path, real_embedder) -> None:
    # Two notes talk about quarantine at length; one holds the exact name the user typed.
    notes = {f"cmd/{name}.md": f"# {name}\n\n{text}\n" for name, text in COMMANDS.items()}
    notes.update({
        "security/antivirus.md": "# Antivirus\n\nThe scanner moves infected downloads to quarantine. Remove an app "
        "from quarantine to restore it, or delete it from quarantine for good.\n",
        "security/quarantine-log.md": "# Quarantine log\n\nEvery app the scanner put in quarantine is listed with "
        "the date it was downloaded and removed.\n",
        "mac/gatekeeper.md": "# When macOS won't open a program\n\nClear the flag Safari set on it: "
        "`xattr -d com.apple.quarantine MyTool.app`, then open it again.\n",
    })
    idx = NotesIndex.open(tmp_path / "data", real_embedder)
    try:
        idx.sync([write_notes(tmp_path / "notes", notes)])
        assert top(idx, "remove com.apple.quarantine from an app I downloaded")[0] == "mac/gatekeeper.md"
        assert top(idx, "what is quarantine for")[0].startswith("security/")
    finally:
        idx.close()


def test_a_model_can_say_where_its_cosines_lie(tmp_path: Path, corpus: Path) -> None:
    """Another model places nonsense at another cosine: its own range sets the scale."""

    class Wide(HashEmbedder):
        cosine_range = (-1.0, 1.0)

    class Narrow(HashEmbedder):
        cosine_range = (0.99, 1.0)

    scores = {}
    for name, embedder in (("wide", Wide()), ("narrow", Narrow())):
        idx = NotesIndex.open(tmp_path / name, embedder)
        idx.sync([corpus])
        scores[name] = idx.search("Pancakes", k=1, mode="dense")[0].score
        idx.close()
    assert scores["wide"] > 0.4 and scores["narrow"] == 0.0
