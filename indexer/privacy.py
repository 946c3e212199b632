"""Is a note marked private? Read conservatively (issue 15).

A note is left out when its frontmatter says `private` with any value that is not
plainly "no": `true`, `yes`, `on`, `1`, `'True'`, `[yes]`, even `maybe`. Only
false, no, off, 0, n, an empty value or null keep it in. When the YAML cannot be
read (a typo, or a block whose closing `---` is missing) a `private:` line is still
honoured, and so is frontmatter at the top of a plain-text note.
"""

from __future__ import annotations

import re

_NOT_PRIVATE = frozenset({"", "false", "no", "off", "0", "n", "null", "~", "none"})
_PRIVATE_LINE = re.compile(r"^[ \t]*private[ \t]*:(.*)$", re.IGNORECASE | re.MULTILINE)


def marked_private(value: object) -> bool:
    """A parsed frontmatter value of `private`: does it mark the note private?"""
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, (int, float)):
        return value != 0
    if isinstance(value, str):
        return value.strip().strip("'\"").strip().lower() not in _NOT_PRIVATE
    if isinstance(value, (list, tuple, set)):
        return any(marked_private(item) for item in value)
    return True  # a mapping or a date: someone meant something by it


def private_line_in(block: str) -> bool:
    """Does unparsed frontmatter text hold a `private:` line that marks the note private?"""
    for match in _PRIVATE_LINE.finditer(block):
        value = match.group(1).split(" #", 1)[0].strip().strip("[]{}")
        if any(marked_private(item) for item in value.split(",")):
            return True
    return False
