"""Near-universal keyword terms are left out of a keyword query; the rare ones decide."""

from __future__ import annotations

from pathlib import Path

from notewell.indexer.embedding import HashEmbedder
from notewell.indexer.notes_index import NotesIndex
from notewell.indexer.term_stats import TermStats

from tests.helpers import write_notes


def _index(tmp_path: Path, notes: dict[str, str]) -> NotesIndex:
    index = NotesIndex.open(tmp_path / "data", HashEmbedder())
    index.sync([write_notes(tmp_path / "notes", notes)])
    return index


def _notes(count: int) -> dict[str, str]:
    notes = {f"note{i}.md": f"# Note {i}\n\nThis file talks about command number {i}.\n" for i in range(count)}
    notes["rare.md"] = "# Rare\n\nThe fjord kayak file.\n"
    return notes


def test_terms_in_most_chunks_are_dropped_and_rare_ones_kept(tmp_path: Path) -> None:
    index = _index(tmp_path, _notes(20))
    stats = TermStats(index.catalog)
    try:
        assert stats.chunks_with("files") == 21  # counted as the index stems it: "files" finds "file"
        assert stats.without_common(["file", "fjord", "kayak"], share=0.5, min_total=0) == ["fjord", "kayak"]
        # only common terms: the rarest one still searches
        assert stats.without_common(["file", "command"], share=0.5, min_total=0) == ["command"]
        # a small index keeps every term (it is fast anyway)
        assert stats.without_common(["file", "fjord"], share=0.5) == ["file", "fjord"]
    finally:
        index.close()


def test_counts_refresh_after_their_time(tmp_path: Path) -> None:
    now = [0.0]
    index = _index(tmp_path, {"a.md": "# A\n\nfjord\n"})
    stats = TermStats(index.catalog, ttl=60, clock=lambda: now[0])
    try:
        assert stats.chunks_with("fjord") == 1
        (tmp_path / "notes" / "b.md").write_text("# B\n\nanother fjord\n")
        index.sync([tmp_path / "notes"])
        assert stats.chunks_with("fjord") == 1  # cached
        now[0] = 61
        assert stats.chunks_with("fjord") == 2
    finally:
        index.close()


def test_keyword_search_still_finds_the_rare_term_among_common_ones(tmp_path: Path) -> None:
    index = _index(tmp_path, _notes(2500))
    try:
        results = index.search("which file mentions the fjord", k=3, mode="keyword")
        assert results[0].path == "rare.md"
        assert index.searcher.term_stats.total() > 2000
    finally:
        index.close()
