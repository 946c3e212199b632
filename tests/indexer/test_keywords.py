import pytest

from notewell.indexer.keywords import identifiers, index_text, match_expression, query_terms


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain English stays", "plain English stays"),
        ("无线网密码", " 无线 线网 网密 密码 "),
        ("用 tzutil 改时区", " 用  tzutil  改时 时区 "),
        ("一", " 一 "),
    ],
)
def test_index_text_turns_cjk_runs_into_bigrams(text: str, expected: str) -> None:
    assert index_text(text) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("How do I extract a tar archive?", ["extract", "tar", "archive"]),
        ("tar TAR tar", ["tar"]),
        ("怎么修改时区", ["么修", "修改", "改时", "时区"]),
        ("dir 命令输出", ["dir", "命令", "令输", "输出"]),
        ("the of and", []),
        ("git-reset --soft", ["git", "reset", "soft"]),
    ],
)
def test_query_terms(query: str, expected: list[str]) -> None:
    assert query_terms(query) == expected


def test_match_expression_quotes_terms_so_fts_syntax_cannot_leak() -> None:
    assert match_expression(['a"b', "OR"]) == '"a""b" OR "OR"'


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("remove com.apple.quarantine from an app", ["com apple quarantine"]),
        ("stale entry in known_hosts", ["known hosts"]),
        ("OLLAMA_ORIGINS gives 403", ["ollama origins"]),
        ("Plausible 统计 publish.js", ["publish js"]),
        ("rsync --info=progress2 over ssh", ["info progress2"]),
        ("a non-standard port, well-known", []),  # hyphenated words are words, not names
        ("how do I undo a commit", []),
    ],
)
def test_identifiers_are_the_compound_names_a_query_spells_out(query: str, expected: list[str]) -> None:
    assert identifiers(query) == expected
