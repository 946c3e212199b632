"""Text → keyword terms for the SQLite FTS5 index, the same way for notes and queries.

FTS5's `unicode61` tokenizer (with Porter stemming) handles Latin scripts well but
keeps a run of Chinese characters as one token, which a query could only match
whole. So before text reaches FTS5, each run of CJK characters is rewritten into
overlapping character bigrams ("无线网密码" → "无线 线网 网密 密码"), the classic
segmentation-free approach for Chinese retrieval: it needs no dictionary, never
splits a word the way a segmenter might get wrong, and matches any substring of
two or more characters. A lone CJK character stays a unigram.
"""

from __future__ import annotations

import re

_CJK_RANGES = (
    "\u3400-\u4dbf"  # CJK extension A
    "\u4e00-\u9fff"  # CJK unified ideographs
    "\uf900-\ufaff"  # compatibility ideographs
    "\u3040-\u30ff"  # hiragana, katakana
    "\uac00-\ud7af"  # hangul syllables
)
_CJK_RUN = re.compile(f"[{_CJK_RANGES}]+")
_HAS_CJK = re.compile(f"[{_CJK_RANGES}]")
# Latin-script terms as unicode61 would see them (letters, digits, underscore).
_TERM = re.compile(r"[^\W_]+", re.UNICODE)

# Common English words that carry no meaning in a search for notes. Queries are
# natural-language questions ("how do I …"), and with OR semantics these words
# would otherwise match nearly every chunk.
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been
    before being below between both but by can could did do does doing down during each
    few for from further had has have having he her here hers herself him himself his how
    i if in into is it its itself just me more most my myself no nor not now of off on
    once only or other our ours ourselves out over own same she should so some such than
    that the their theirs them themselves then there these they this those through to too
    under until up very was we were what when where which while who whom why will with
    would you your yours yourself yourselves want wants need needs way ways get gets thing
    things using use used without into onto let lets like make makes please also""".split()
)

# Chinese function characters/words that appear in most questions.
_CJK_STOP_BIGRAMS = frozenset(
    "怎么 如何 什么 为什么 哪个 哪些 可以 能否 是否 一个 这个 那个 我的 我们 你们 他们 的是 了吗 吗？".split()
)


def _cjk_bigrams(run: str) -> list[str]:
    if len(run) == 1:
        return [run]
    return [run[i : i + 2] for i in range(len(run) - 1)]


def index_text(text: str) -> str:
    """Rewrite text for the FTS5 column: CJK runs become space-separated bigrams."""
    if not _HAS_CJK.search(text):
        return text
    return _CJK_RUN.sub(lambda m: " " + " ".join(_cjk_bigrams(m.group())) + " ", text)


def query_terms(query: str) -> list[str]:
    """Distinct search terms of a query, in order (lowercase; stopwords dropped)."""
    terms: list[str] = []
    seen: set[str] = set()
    position = 0
    for match in _CJK_RUN.finditer(query):
        _latin_terms(query[position : match.start()], terms, seen)
        for gram in _cjk_bigrams(match.group()):
            if gram not in seen and gram not in _CJK_STOP_BIGRAMS:
                seen.add(gram)
                terms.append(gram)
        position = match.end()
    _latin_terms(query[position:], terms, seen)
    return terms


def _latin_terms(text: str, terms: list[str], seen: set[str]) -> None:
    for word in _TERM.findall(text.lower()):
        if word not in STOPWORDS and word not in seen:
            seen.add(word)
            terms.append(word)


# A compound name written with dots, slashes, underscores and the like:
# com.apple.quarantine, known_hosts, java.lang.Object, C:\\Users, key=value.
_IDENTIFIER = re.compile(r"[^\W_]+(?:(?:[./\\:=@]|_+)[^\W_]+)+")


def identifiers(query: str) -> list[str]:
    """The query's compound names, each as the run of terms a keyword phrase must match."""
    names: list[str] = []
    for match in _IDENTIFIER.finditer(query):
        phrase = " ".join(word.lower() for word in _TERM.findall(match.group()))
        if phrase not in names:
            names.append(phrase)
    return names


def cjk_share(text: str) -> float:
    """Fraction of a text's letters that are CJK (0.0 for English, 1.0 for Chinese)."""
    letters = [ch for ch in text if ch.isalnum()]
    if not letters:
        return 0.0
    return sum(1 for ch in letters if _HAS_CJK.match(ch)) / len(letters)


def writes_cjk(text: str) -> bool:
    """Whether a text is written in Chinese, Japanese or Korean: at least a fifth of its words
    are, counting each CJK character as a word (a Chinese note that is mostly code is Chinese;
    an English one quoting a Chinese term is not)."""
    cjk = len(_HAS_CJK.findall(text))
    if not cjk:
        return False
    words = len(_TERM.findall(_CJK_RUN.sub(" ", text)))
    return cjk >= 0.2 * (cjk + words)


def match_phrase(term: str) -> str:
    """One term as an FTS5 string (quoted, so no word is read as an operator)."""
    return '"' + term.replace('"', '""') + '"'


def match_expression(terms: list[str]) -> str:
    """An FTS5 MATCH expression: any of the terms (ranking does the rest)."""
    return " OR ".join(match_phrase(term) for term in terms)
