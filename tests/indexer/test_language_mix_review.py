"""Review of auto's sampler (indexer/language_mix.py, 8b7196e): notes the indexer reads as
Chinese must count as Chinese, and sampling must stay cheap (it now runs at every catch-up)."""

from __future__ import annotations

from pathlib import Path

from notewell.indexer.language_mix import sample_notes
from notewell.indexer.sources import SourceOptions
from notewell.indexer.readers import read_html, read_plain_text
from tests.helpers import write_notes

PARAGRAPH = "会议纪要：预算评审改到周四，第三项用 git push 推送分支。" * 300  # ~24 KB in UTF-8, one line


def test_a_chinese_note_whose_first_paragraph_is_long_counts_as_chinese(tmp_path: Path) -> None:
    """An English heading, then one long Chinese paragraph (a clipped article): the head is cut
    at its last line feed, which is the heading's, so only "# Meeting 0" is sampled. Before
    8b7196e the first 6000 bytes were read and these notes counted as Chinese."""
    notes = write_notes(tmp_path / "notes", {f"meeting{i}.md": f"# Meeting {i}\n\n{PARAGRAPH}\n" for i in range(5)})
    assert "预算" in read_plain_text((notes / "meeting0.md").read_bytes(), "meeting0", ".md").text
    mix = sample_notes([notes])
    assert (mix.sampled, mix.cjk_notes) == (5, 5)


def test_a_gbk_note_without_line_feeds_counts_as_chinese(tmp_path: Path) -> None:
    """GBK text with classic-Mac line ends (CR only) or none: no b"\\n" to cut at, the 16 KB head
    ends inside a character, and the whole head decodes as Windows-1252/Latin-1 mojibake."""
    text = ("#a\r" + "会议纪要：预算评审改到周四。\r" * 1500).encode("gb18030")
    notes = write_notes(tmp_path / "notes", {f"note{i}.txt": text for i in range(5)})
    assert "预算" in read_plain_text(text, "note0", ".txt").text  # the indexer reads it as Chinese
    mix = sample_notes([notes])
    assert (mix.sampled, mix.cjk_notes) == (5, 5)


def test_a_saved_chinese_web_page_with_a_large_head_counts_as_chinese(tmp_path: Path) -> None:
    """A page saved from the web carries its styles and scripts inline: over 16 KB of <head>.
    The sampler reads only the first 16 KB, finds no body text, and skips the page, so a
    folder of them is "0 of 0 sampled notes" and stays on the English model."""
    style = "<style>" + "".join(f".c{i}{{color:#{i:06x};margin:{i}px}}\n" for i in range(800)) + "</style>"
    page = (f"<html><head><meta charset='utf-8'><title>page</title>{style}</head>"
            f"<body><p>{PARAGRAPH[:300]}</p></body></html>")
    notes = write_notes(tmp_path / "notes", {f"page{i}.html": page for i in range(5)})
    assert "预算" in read_html(page.encode(), "page0").text  # the indexer reads it as Chinese
    mix = sample_notes([notes])
    assert (mix.sampled, mix.cjk_notes) == (5, 5)


def many_pages_pdf(pages: int) -> bytes:
    """A valid PDF of `pages` empty pages (under the sampler's 8 MB cap for 80 000 pages)."""
    objects = {1: b"<< /Type /Catalog /Pages 2 0 R >>"}
    kids = " ".join(f"{i + 3} 0 R" for i in range(pages)).encode()
    objects[2] = b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % pages
    for i in range(pages):
        objects[i + 3] = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>"
    out = bytearray(b"%PDF-1.4\n")
    offsets = {}
    for n in sorted(objects):
        offsets[n] = len(out)
        out += b"%d 0 obj\n%s\nendobj\n" % (n, objects[n])
    xref, size = len(out), len(objects) + 1
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    out += b"".join(b"%010d 00000 n \n" % offsets[n] for n in range(1, size))
    out += f"trailer\n<< /Size {size} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def test_a_pdf_of_many_pages_is_not_sampled(tmp_path: Path) -> None:
    """"first 2 pages" was not what it cost: pypdf reads the whole page tree to reach page 1. One
    8 MB PDF of 80,000 empty pages took 3.6 s on the writer's thread, and the sampler allowed 40
    of them at every catch-up. A PDF declaring more pages than that is left out of the sample
    (0.4 s for this one, most of it reading its cross-reference table)."""
    data = many_pages_pdf(80_000)
    assert len(data) < 8 * 1024 * 1024
    notes = write_notes(tmp_path / "notes", {"scan.pdf": data, "note.md": "# Note\n\nHello.\n"})
    mix = sample_notes([notes], SourceOptions())
    assert (mix.sampled, mix.cjk_notes) == (1, 0)
