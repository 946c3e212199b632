"""How common each keyword term is, so a search can leave out the near-universal ones.

A question like "send an HTTP request to example.com" makes FTS5 walk the posting
lists of every term, and "http" or "com" sit in a third of a large notes index:
those terms cost most of the time and add almost nothing to BM25 (their inverse
document frequency is near zero). Counts come from the index itself (so stemming
matches) and are cached for a few minutes; a little staleness only shifts which
terms count as common.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Callable

from .catalog import Catalog

_MAX_TERMS = 20_000


class TermStats:
    def __init__(self, catalog: Catalog, ttl: float = 300.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._catalog = catalog
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._counts: OrderedDict[str, tuple[float, int]] = OrderedDict()
        self._total: tuple[float, int] | None = None

    def total(self) -> int:
        """Chunks in the index."""
        now = self._clock()
        with self._lock:
            if self._total is not None and now - self._total[0] < self._ttl:
                return self._total[1]
        total = self._catalog.chunk_count()
        with self._lock:
            self._total = (now, total)
        return total

    def chunks_with(self, term: str) -> int:
        """Chunks holding `term` (as the keyword index tokenizes and stems it)."""
        now = self._clock()
        with self._lock:
            cached = self._counts.get(term)
            if cached is not None and now - cached[0] < self._ttl:
                self._counts.move_to_end(term)
                return cached[1]
        count = self._catalog.chunks_matching(term)
        with self._lock:
            self._counts[term] = (now, count)
            self._counts.move_to_end(term)
            while len(self._counts) > _MAX_TERMS:
                self._counts.popitem(last=False)
        return count

    def without_common(self, terms: list[str], share: float, min_total: int = 2000) -> list[str]:
        """`terms` less those in more than `share` of all chunks; the rarest term always stays."""
        if len(terms) < 2 or share >= 1.0:
            return terms
        total = self.total()
        if total < min_total:  # a small index answers fast with every term
            return terms
        counts = {term: self.chunks_with(term) for term in terms}
        kept = [term for term in terms if counts[term] <= share * total]
        return kept or [min(terms, key=counts.__getitem__)]
