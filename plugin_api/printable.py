"""Text from a request, made safe to print on a console, in a log or in a dialog (issue 15).

A request path, a query or a registered client name can carry control characters
(an escape sequence that clears the screen, a newline that forges a log line) or
Unicode format characters (a right-to-left override that reverses what follows).
`printable` shows each as a visible escape (`\\x1b`, `\\u202e`) and cuts the text
to a length; `EscapingFormatter` does the same to every log message.
"""

from __future__ import annotations

import logging
import unicodedata

_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def printable(text: str, limit: int | None = 500) -> str:
    """`text` with every control or format character escaped, cut to `limit` characters."""
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    if text.isprintable():
        return text
    return "".join(
        _escape(char) if char != " " and unicodedata.category(char) in _UNSAFE_CATEGORIES else char
        for char in text
    )


def clean_label(text: str, limit: int) -> str:
    """A name to show as a plain label: unsafe characters dropped, whitespace collapsed, cut."""
    kept = "".join(char for char in text if unicodedata.category(char) not in _UNSAFE_CATEGORIES or char in "\t\n")
    label = " ".join(kept.split())
    return label if len(label) <= limit else label[: limit - 1].rstrip() + "…"


class EscapingFormatter(logging.Formatter):
    """Log messages with control characters escaped; tracebacks are left as they are."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        record.message = printable(record.message, limit=None)
        return super().formatMessage(record)
