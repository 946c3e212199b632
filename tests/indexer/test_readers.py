"""Bytes to text: encodings, binary detection, HTML and PDF."""

from __future__ import annotations

import io
import logging

import pypdf
import pytest

from notewell.indexer.errors import SkipFile
from notewell.indexer.readers import decode_text, read_html, read_pdf, read_plain_text


def make_pdf(pages: list[str], title: str | None = None) -> bytes:
    """A minimal real PDF with one line of Helvetica text per input line."""
    count = len(pages)
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(count))
    objects: dict[int, bytes] = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: f"<< /Type /Pages /Kids [{kids}] /Count {count} >>".encode(),
        3: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    }
    for i, text in enumerate(pages):
        lines = " ".join(f"({line}) Tj T*" for line in text.split("\n") if line)
        stream = f"BT /F1 12 Tf 72 720 Td 14 TL {lines} ET".encode("latin-1")
        objects[4 + 2 * i] = (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (5 + 2 * i)
        )
        objects[5 + 2 * i] = b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream)
    info = ""
    if title is not None:
        objects[len(objects) + 1] = f"<< /Title ({title}) >>".encode()
        info = f" /Info {len(objects)} 0 R"
    out = bytearray(b"%PDF-1.4\n")
    offsets = {}
    for number in sorted(objects):
        offsets[number] = len(out)
        out += b"%d 0 obj\n%s\nendobj\n" % (number, objects[number])
    xref = len(out)
    size = len(objects) + 1
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    out += b"".join(b"%010d 00000 n \n" % offsets[n] for n in range(1, size))
    out += f"trailer\n<< /Size {size} /Root 1 0 R{info} >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def encrypt(pdf: bytes, user_password: str) -> bytes:
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(pdf)))
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param("plain ascii\n".encode(), "plain ascii\n", id="ascii"),
        pytest.param("naïve café ✓\n".encode(), "naïve café ✓\n", id="utf-8"),
        pytest.param(b"\xef\xbb\xbf# Title\n", "# Title\n", id="utf-8 BOM stripped"),
        pytest.param("\ufeffnaïve\n".encode("utf-16-le"), "naïve\n", id="utf-16-le BOM"),
        pytest.param("\ufeffnaïve 中文\n".encode("utf-16-be"), "naïve 中文\n", id="utf-16-be BOM"),
        pytest.param("naïve 中文\n".encode("utf-32"), "naïve 中文\n", id="utf-32 BOM"),
        pytest.param("会议记录：明天讨论项目进度。\n".encode("gb18030"), "会议记录：明天讨论项目进度。\n", id="gb18030"),
        pytest.param("# 笔记\n\n今天学习了 git reset --hard。\n".encode("gb18030"), "# 笔记\n\n今天学习了 git reset --hard。\n", id="gb18030 mixed"),
        pytest.param("Café – résumé “quoted” naïve\n".encode("cp1252"), "Café – résumé “quoted” naïve\n", id="cp1252"),
        pytest.param("café".encode("latin-1"), "café", id="latin-1 short"),
        pytest.param(b"one\xc3\xa9 two\xc3\xa9 \x80 three\n", "oneé twoé \ufffd three\n", id="utf-8 with a stray byte"),
        pytest.param(b"a\r\nb\rc\n", "a\nb\nc\n", id="CRLF and CR become LF"),
        pytest.param(b"page one\x0cpage two\n", "page one page two\n", id="form feed is not a line break"),
    ],
)
def test_decode_text(data: bytes, expected: str) -> None:
    assert decode_text(data) == expected


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", id="NUL bytes"),
        pytest.param(bytes(range(1, 32)) * 20 + b"some text", id="control characters"),
    ],
)
def test_binary_data_is_not_text(data: bytes) -> None:
    with pytest.raises(SkipFile, match="binary file, not text"):
        decode_text(data)


def test_plain_text_notes() -> None:
    doc = read_plain_text(b"#+title: Weekly review\n* Done\n", "review", ".org")
    assert (doc.title, doc.kind, doc.first_line) == ("Weekly review", "text", 1)
    assert read_plain_text(b"buy milk\n", "todo", ".txt").title == "todo"
    with pytest.raises(SkipFile, match="empty file"):
        read_plain_text(b"\n \t\r\n", "blank", ".txt")


def test_html_keeps_readable_text_only() -> None:
    page = b"""<!doctype html><html><head><title>  Saved   article </title>
    <style>body { color: red }</style><script>alert("x")</script></head>
    <body><nav>Home</nav><h1>Main heading</h1><p>First   paragraph
    spans lines &amp; has an entity.</p><ul><li>one</li><li>two</li></ul>
    <h2>Details</h2><pre>  code
    stays</pre><noscript>enable js</noscript></body></html>"""

    doc = read_html(page, "article")

    assert doc.title == "Saved article"
    assert doc.kind == "html"
    assert doc.text == (
        "Home\n\n# Main heading\n\nFirst paragraph spans lines & has an entity.\n\none\n\ntwo\n\n"
        "## Details\n\n  code\n    stays\n"
    )


@pytest.mark.parametrize(
    ("page", "title"),
    [
        (b"<h1>From <b>the</b> heading</h1><h1>Second</h1><p>x</p>", "From the heading"),
        (b"<title></title><p>body only</p>", "stem"),
    ],
)
def test_html_title_fallbacks(page: bytes, title: str) -> None:
    assert read_html(page, "stem").title == title


def test_html_without_closing_head_still_has_its_body() -> None:
    page = b"<html><head><meta charset=utf-8><title>T</title><body><p>Visible text"
    assert read_html(page, "x").text == "Visible text\n"


def test_html_declared_legacy_charset() -> None:
    page = '<meta charset="windows-1252"><p>Café – naïve</p>'.encode("cp1252")
    assert read_html(page, "x").text == "Café – naïve\n"
    page = '<meta http-equiv="Content-Type" content="text/html; charset=gb2312"><p>笔记</p>'
    page = page.encode("gb2312")
    assert read_html(page, "x").text == "笔记\n"


def test_html_without_text_is_skipped() -> None:
    with pytest.raises(SkipFile, match="no readable text"):
        read_html(b"<html><script>only()</script><img src=x></html>", "x")


def test_pdf_pages_and_title() -> None:
    doc = read_pdf(make_pdf(["Hello PDF world", "Second page text"], title="Quarterly report"), "q3")

    assert doc.kind == "pdf"
    assert doc.title == "Quarterly report"
    assert doc.text.split("\n\n") == ["Hello PDF world", "Second page text"]


def test_pdf_title_falls_back_to_file_name() -> None:
    assert read_pdf(make_pdf(["text"], title=""), "scan-2024").title == "scan-2024"
    assert read_pdf(make_pdf(["text"]), "scan-2024").title == "scan-2024"


def test_pdf_encrypted_with_a_password_is_skipped_without_one_is_read() -> None:
    pdf = make_pdf(["Top secret plans"])

    with pytest.raises(SkipFile) as caught:
        read_pdf(encrypt(pdf, "hunter2"), "locked")
    assert caught.value.reason == "encrypted PDF"
    assert "Top secret plans" in read_pdf(encrypt(pdf, ""), "open").text


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (make_pdf([""]), "PDF has no extractable text (scanned images?)"),
        (b"%PDF-1.4\nnot really", "could not read PDF: "),
        (make_pdf(["cut short"])[:120], "could not read PDF: "),
    ],
)
def test_unreadable_pdfs_are_skipped_quietly(
    data: bytes, reason: str, caplog: pytest.LogCaptureFixture, recwarn: pytest.WarningsRecorder
) -> None:
    caplog.set_level(logging.DEBUG)

    with pytest.raises(SkipFile) as caught:
        read_pdf(data, "x")

    assert caught.value.reason.startswith(reason)
    assert not [r for r in caplog.records if r.name.startswith("pypdf") and r.levelno < logging.ERROR]
    assert not [w for w in recwarn if "pypdf" in (w.filename or "")]
