import math

import pytest

from notewell.indexer.evaluation import ranked_files, score_query
from notewell.indexer.types import SearchResult


def _result(path: str) -> SearchResult:
    return SearchResult("c", "n", path, "/f", "t", "", "x", 1.0, "2024-01-01T00:00:00+00:00", (1, 1))


def test_files_are_ranked_by_their_best_chunk() -> None:
    assert ranked_files([_result("a"), _result("b"), _result("a"), _result("c")]) == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("files", "relevant", "recall", "mrr", "ndcg"),
    [
        (["a", "b"], {"a"}, 1.0, 1.0, 1.0),
        (["x", "a"], {"a"}, 1.0, 0.5, 1 / math.log2(3)),
        (["x", "y", "z", "w", "v", "a"], {"a"}, 0.0, 1 / 6, 1 / math.log2(7)),
        (["x"] * 0 + ["p", "q"], {"a"}, 0.0, 0.0, 0.0),
        (["a", "x", "b"], {"a", "b"}, 1.0, 1.0, (1 + 1 / 2) / (1 + 1 / math.log2(3))),
    ],
)
def test_score_query(files, relevant, recall, mrr, ndcg) -> None:
    scores = score_query(files, frozenset(relevant))
    assert scores["recall@5"] == recall
    assert scores["mrr@10"] == pytest.approx(mrr)
    assert scores["ndcg@10"] == pytest.approx(ndcg)
