"""Relevance: what a result's score says, in [0, 1], the same scale for every query.

Fusion decides the order of results (ranks are what it is good at); the score says
how close the best evidence is, so a query that matches nothing reads low:

- the model's cosine similarity, mapped from "unrelated" (`cosine_floor`, where
  nonsense queries land) to "as close as a passage gets" (`cosine_full`);
- keyword evidence, which can only lift that: the share of the query's words the
  passage holds, each weighted by how rare it is in the index, times how telling
  the rarest word found is (holding "the" and "use" proves nothing).

Measured with the bundled all-MiniLM-L6-v2 on the Obsidian Help vault: nonsense
queries ("xyzzyqq plugh", random letters, pizza recipes) have a best cosine of
0.19-0.34; real questions 0.29-0.82 (median 0.62); on tldr-en nonsense stays
below 0.36 and real questions have a median of 0.66.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterable

# Below this a result is not a good match: the GUI says "No good match" and greys it.
GOOD_MATCH = 0.25


@dataclass(frozen=True)
class Calibration:
    cosine_floor: float = 0.27  # a best cosine at or below this is what nonsense gets
    cosine_full: float = 0.8  # at or above this a passage says the same as the query
    # How far a passage holding every (telling) query word is lifted toward 1.
    keyword_lift: float = 0.5
    # A word in at most N**(1 - telling_idf) of N passages is fully telling
    # (about 1 in 100 on a 10,000-passage index).
    telling_idf: float = 0.5


def dense_relevance(cosine: float, calibration: Calibration) -> float:
    span = calibration.cosine_full - calibration.cosine_floor
    return min(1.0, max(0.0, (cosine - calibration.cosine_floor) / span))


def keyword_evidence(
    terms: Iterable[str], found: set[str], chunks_with: Callable[[str], int], total: int,
    calibration: Calibration,
) -> float:
    """How strongly the words a passage holds (`found`, a subset of `terms`) back it, in [0, 1]."""
    weights = {term: rarity(chunks_with(term), total) for term in terms}
    whole = sum(weights.values())
    if whole <= 0 or not found:
        return 0.0
    coverage = sum(weights[t] for t in found if t in weights) / whole
    telling = min(1.0, max((weights[t] for t in found if t in weights), default=0.0) / calibration.telling_idf)
    return coverage * telling


def combined(dense: float, keyword: float, calibration: Calibration) -> float:
    """Keyword evidence lifts the dense relevance toward 1; it never lowers it."""
    return dense + (1.0 - dense) * calibration.keyword_lift * keyword


def is_telling(count: int, total: int, calibration: Calibration) -> bool:
    """Whether a word in `count` of `total` passages is rare enough to tell passages apart."""
    return rarity(count, total) >= calibration.telling_idf


def rarity(count: int, total: int) -> float:
    """Rarity in [0, 1]: 1 for a word in one passage (or none: a word the notes don't have
    weighs fully against coverage), 0 for a word in every passage."""
    if total <= 1:
        return 1.0 if count <= 1 else 0.0
    return max(0.0, math.log(total / max(count, 1)) / math.log(total))
