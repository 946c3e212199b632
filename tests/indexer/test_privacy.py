from __future__ import annotations

import datetime as dt

import pytest

from notewell.indexer.privacy import marked_private, private_line_in


@pytest.mark.parametrize(
    "value, private",
    [
        (True, True), (1, True), (2, True), ("yes", True), ("On", True), (" 'True' ", True), ("y", True),
        ("maybe", True), (["yes"], True), ({"a": 1}, True), (dt.date(2024, 1, 1), True),
        (False, False), (0, False), (None, False), ("", False), ("no", False), ("OFF", False), ("0", False),
        ("null", False), ([], False), (["no", 0], False),
    ],
)
def test_marked_private(value: object, private: bool) -> None:
    assert marked_private(value) is private


@pytest.mark.parametrize(
    "block, private",
    [
        ("title: x\nprivate: true", True),
        ("  PRIVATE : 1  # keep out", True),
        ("private: [yes, later]", True),
        ("private: false\n", False),
        ("private:\n", False),
        ("privately: yes", False),
        ("title: private: yes", False),  # not the key
    ],
)
def test_private_line_in(block: str, private: bool) -> None:
    assert private_line_in(block) is private
