from __future__ import annotations

import logging
import sys

import pytest

from notewell.plugin_api.printable import EscapingFormatter, clean_label, printable


@pytest.mark.parametrize(
    "text, shown",
    [
        ("plain text, ünïcode 笔记", "plain text, ünïcode 笔记"),
        ("\x1b[2J", "\\x1b[2J"),
        ("line\nforged", "line\\x0aforged"),
        ("tab\there", "tab\\x09here"),
        ("rtl \u202eevil", "rtl \\u202eevil"),
        ("zero\u200bwidth", "zero\\u200bwidth"),
        ("c1 \x9b", "c1 \\x9b"),
        ("x" * 600, "x" * 499 + "…"),
    ],
)
def test_printable(text: str, shown: str) -> None:
    assert printable(text) == shown


@pytest.mark.parametrize(
    "name, label",
    [
        ('<font color="green">ChatGPT</font>', '<font color="green">ChatGPT</font>'),  # shown as text
        ("\x1b[32mChatGPT\x1b[0m\n(verified)", "[32mChatGPT[0m (verified)"),
        ("Claude\u202e\u200b  Desktop ", "Claude Desktop"),
        ("A" * 100, "A" * 59 + "…"),
        ("", ""),
    ],
)
def test_clean_label(name: str, label: str) -> None:
    assert clean_label(name, 60) == label


def test_log_messages_are_escaped_and_tracebacks_kept() -> None:
    formatter = EscapingFormatter("%(levelname)s %(message)s")
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "bad path %s", ("/a\x1b[2J\nFAKE",),
                                   sys.exc_info())
    text = formatter.format(record)
    first, *rest = text.split("\n")
    assert first == "ERROR bad path /a\\x1b[2J\\x0aFAKE"
    assert rest[0] == "Traceback (most recent call last):" and "ValueError: boom" in text
