"""Search: dense (vectors), keyword (FTS5 BM25), and hybrid (both, fused per note).

Hybrid fuses the two rankings with weighted reciprocal-rank fusion at the note
level: each note's rank is that of its best chunk in each list. A note found by
both lists rises; a note found by one still counts. Each note then contributes at
most `per_note` chunks, so one long note can't crowd out the rest.

Fusion only orders the results. Their scores are absolute (see relevance.py): the
model's similarity, lifted by the query's words the passage really holds, so the
best of a bad lot reads low and "no good match" can be said.

Dense leads for questions in the model's language. An exact lookup is led by
the few chunks that match it exactly: chunks holding every query term when one
term is rare in the index (a ticket number, a code name, a word just typed into
a note), or holding a compound name as the query spells it (com.apple.quarantine).
The model knows nothing of such a word and ranks dozens of unrelated chunks above
the one that holds it.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Callable

from .catalog import Catalog, ChunkRow
from .embedding import Embedder
from .errors import StoreError
from .keywords import cjk_share, identifiers, match_expression, match_phrase, query_terms, writes_cjk
from .relevance import Calibration, combined, dense_relevance, is_telling, keyword_evidence
from .term_stats import TermStats
from .types import SearchFilters, SearchMode, SearchResult
from .vectors import VectorStore

log = logging.getLogger(__name__)

# Small k favours what each side ranks at the very top (measured on the tldr sets:
# k=10 beats the customary 60 for both languages).
RRF_K = 10
# A file-id allow-list up to this size goes into the vector query; larger filters
# over-fetch and filter afterwards.
_MAX_IN_FILTER = 5000
# A query is treated as Chinese/Japanese/Korean from this share of CJK letters on
# (one CJK character carries about as much as a whole English word).
_CJK_QUERY_SHARE = 0.2
# A passage's script (CJK or not) is judged on its first characters.
_SCRIPT_SAMPLE = 1000
# A result's keyword evidence looks at no more than this many query terms.
_MAX_SCORED_TERMS = 16


@dataclass(frozen=True)
class SearchTuning:
    # Dense retrieval is the stronger side on English notes (tldr-en R@5: dense 0.90,
    # keyword 0.63), so its ranking weighs more; keyword matches still lift exact terms.
    dense_weight: float = 3.0
    keyword_weight: float = 1.0
    # An English-only model places Chinese text almost at random (tldr-zh R@5: dense
    # 0.36, keyword 0.88), so for a Chinese query its ranking only breaks ties.
    foreign_dense_weight: float = 0.1
    rrf_k: int = RRF_K
    candidates: int = 60  # chunks fetched from each side
    per_note: int = 2
    # Keyword terms found in more than this share of all chunks are left out of the
    # keyword query (near-zero BM25 weight, most of its cost on a large index).
    common_term_share: float = 0.1
    # A term (or compound name) in at most this many chunks is rare: the chunks that
    # match such a query exactly lead the fusion. -1 turns exact lookups off.
    rare_term_chunks: int = 10
    calibration: Calibration = Calibration()


class Searcher:
    def __init__(
        self, catalog: Catalog, vectors: VectorStore, embedder: Embedder, tuning: SearchTuning = SearchTuning()
    ) -> None:
        self.catalog = catalog
        self.vectors = vectors
        self.embedder = embedder
        # A model other than the bundled one places unrelated text at another cosine: it may
        # say where (`cosine_range`: what nonsense gets, what a near-paraphrase gets).
        cosine_range = getattr(embedder, "cosine_range", None)
        if cosine_range is not None:
            floor, full = cosine_range
            tuning = replace(tuning, calibration=replace(tuning.calibration, cosine_floor=floor, cosine_full=full))
        self.tuning = tuning
        # Across scripts (an English question, a Chinese passage) a multilingual model's cosines
        # run lower: such a pair of texts is read on the scale the model declares for it.
        cross = getattr(embedder, "cross_language_range", None)
        self._cross = (replace(tuning.calibration, cosine_floor=cross[0], cosine_full=cross[1])
                       if cross is not None else None)
        self._side = ThreadPoolExecutor(max_workers=2, thread_name_prefix="notewell-keyword")
        self.term_stats = TermStats(catalog)

    def search(
        self, query: str, k: int = 10, mode: SearchMode = "hybrid", filters: SearchFilters | None = None
    ) -> list[SearchResult]:
        filters = filters or SearchFilters()
        query = query.strip()
        if not query or k <= 0:
            return []
        n = max(self.tuning.candidates, k * self.tuning.per_note * 2)
        if mode == "dense":
            if not self.catalog.has_vectors():
                return []
            hits = self.dense(query, n, filters)
            scale, ceiling, out = self._scale(query), 1.0, []
            for row, cosine in _top_per_note(hits, k, self.tuning.per_note):
                ceiling = min(ceiling, dense_relevance(cosine, scale(row)))  # never rising down the list
                out.append(to_result(row, ceiling))
            return out
        if mode == "keyword":
            return self._scored(query, _top_per_note(self.keyword(query, n, filters), k, self.tuning.per_note), {})
        if not self.dense_ready():  # keywords answer at once; the model joins when it is ready
            return self._scored(query, self._keywords_only(*self._keyword_side(query, n, filters), k), {})
        # The keyword side runs while the model embeds the query (both release the GIL).
        pending = self._side.submit(self._keyword_votes, query, n, filters)
        try:
            dense = self.dense(query, n, filters)
        except StoreError as exc:  # the vectors can't be read (a server down, a read-only disk)
            log.warning("searching by keywords only: %s", exc)
            keyword, exact, _ = pending.result()
            return self._scored(query, self._keywords_only(keyword, exact, k), {})
        finally:
            _, exact, keyword = pending.result()
        dense_weight, keyword_weight = self._weights(query)
        rankings = [(dense_weight, dense), (keyword_weight, keyword)]
        if exact:  # the exact matches lead; the model's ranking only breaks ties
            rankings = [(min(dense_weight, keyword_weight), dense), (keyword_weight, keyword),
                        (max(dense_weight, keyword_weight), exact)]
        return self._scored(query, self._fuse(rankings, k), {row.id: cosine for row, cosine in dense})

    def _scored(self, query: str, picked: list[tuple[ChunkRow, float]],
                cosines: dict[str, float]) -> list[SearchResult]:
        """Results in the order given, each scored by its absolute relevance (relevance.py).

        A passage the dense side did not return is no closer than the last one it did.
        Scores never rise down the list: a result below another never reads higher.
        """
        cal = self.tuning.calibration
        scale = self._scale(query)
        terms = query_terms(query)[:_MAX_SCORED_TERMS]
        found = self.catalog.terms_in_chunks(terms, [row.id for row, _ in picked]) if terms else {}
        total = self.term_stats.total() if terms else 0
        below = min(cosines.values()) if cosines else None
        ceiling = 1.0
        out: list[SearchResult] = []
        for row, _ in picked:
            cosine = cosines.get(row.id, below)
            dense = dense_relevance(cosine, scale(row)) if cosine is not None else 0.0
            keyword = keyword_evidence(terms, found.get(row.id, set()), self.term_stats.chunks_with, total, cal)
            ceiling = min(ceiling, combined(dense, keyword, cal))
            out.append(to_result(row, ceiling))
        return out

    def _scale(self, query: str) -> Callable[[ChunkRow], Calibration]:
        """The calibration each passage's cosine is read on for this query."""
        cal, cross = self.tuning.calibration, self._cross
        if cross is None:
            return lambda row: cal
        asked_cjk = writes_cjk(query)
        return lambda row: cross if writes_cjk(row.text[:_SCRIPT_SAMPLE]) != asked_cjk else cal

    def _keywords_only(self, keyword: list[tuple[ChunkRow, float]], exact: list[tuple[ChunkRow, float]],
                       k: int) -> list[tuple[ChunkRow, float]]:
        rankings = [(self.tuning.keyword_weight, keyword)]
        if exact:
            rankings.append((self.tuning.dense_weight, exact))
        return self._fuse(rankings, k)

    def _keyword_votes(
        self, query: str, n: int, filters: SearchFilters
    ) -> tuple[list[tuple[ChunkRow, float]], list[tuple[ChunkRow, float]], list[tuple[ChunkRow, float]]]:
        """The keyword side of hybrid search: its hits, the exact matches, and the hits that vote
        in the fusion (with a model that reads every language, those holding a telling word)."""
        keyword, exact = self._keyword_side(query, n, filters)
        votes = self._telling(query, keyword) if getattr(self.embedder, "multilingual", False) else keyword
        return keyword, exact, votes

    def _telling(self, query: str, hits: list[tuple[ChunkRow, float]]) -> list[tuple[ChunkRow, float]]:
        """The keyword hits that hold a telling word of the query (one in at most N**(1 -
        telling_idf) of N passages), for a model that reads every language.

        Such a model finds the note that answers a question in another language, which
        shares no word with it; a passage holding only the question's common words ("修改",
        "文件"; "running") would still outvote it in the fusion (review of #16: "修改文件权限"
        put the English chmod note 4th in hybrid, 1st in dense). The English model can't read
        Chinese, so for it every keyword hit still votes."""
        if not hits:
            return hits
        total, cal = self.term_stats.total(), self.tuning.calibration
        counts = {t: self.term_stats.chunks_with(t) for t in query_terms(query)[:_MAX_SCORED_TERMS]}
        telling = [t for t, count in counts.items() if count and is_telling(count, total, cal)]
        if not telling:
            return []
        found = self.catalog.terms_in_chunks(telling, [row.id for row, _ in hits])
        return [(row, score) for row, score in hits if found.get(row.id)]

    def dense_ready(self) -> bool:
        """Whether dense search can answer now: there are vectors, and the model needs no
        one-time preparation first (#14: a search never waits for it; it is started here)."""
        if not self.catalog.has_vectors():
            return False
        ready = getattr(self.embedder, "query_ready", None)
        if ready is None or ready():
            return True
        prepare = getattr(self.embedder, "prepare_onnx", None)
        if prepare is not None:
            prepare(wait=False)
        return False

    def _weights(self, query: str) -> tuple[float, float]:
        """(dense, keyword) weights for a query: dense leads unless the model can't read it."""
        t = self.tuning
        if getattr(self.embedder, "multilingual", False) or cjk_share(query) < _CJK_QUERY_SHARE:
            return t.dense_weight, t.keyword_weight
        return t.foreign_dense_weight, t.keyword_weight

    def dense(self, query: str, n: int, filters: SearchFilters) -> list[tuple[ChunkRow, float]]:
        vector = self.embedder.embed_query(query)
        allowed: list[int] | None = None
        fetch = n
        if not filters.is_empty():
            allowed = self.catalog.file_ids_matching(filters)
            if not allowed:
                return []
            if len(allowed) > _MAX_IN_FILTER:
                allowed_set = set(allowed)
                allowed, fetch = None, n * 10
        hits = self.vectors.query(vector, fetch, allowed)
        rows = self.catalog.chunks_by_ids([cid for cid, _ in hits])
        out = [(rows[cid], score) for cid, score in hits if cid in rows]
        if allowed is None and not filters.is_empty():
            out = [(row, score) for row, score in out if row.file_id in allowed_set]
        return out[:n]

    def keyword(self, query: str, n: int, filters: SearchFilters) -> list[tuple[ChunkRow, float]]:
        return self._keyword_side(query, n, filters, check_exact=False)[0]

    def _keyword_side(
        self, query: str, n: int, filters: SearchFilters, check_exact: bool = True
    ) -> tuple[list[tuple[ChunkRow, float]], list[tuple[ChunkRow, float]]]:
        """Keyword hits, and the exact matches if the query is an exact lookup.

        An exact lookup is a query whose every term sits in one chunk, one of them
        rare in the index; or one that names something as the notes write it
        (com.apple.quarantine, known_hosts) found in only a few chunks.
        """
        terms = self.term_stats.without_common(query_terms(query), self.tuning.common_term_share)
        if not terms:
            return [], []
        hits = self.catalog.keyword_search(match_expression(terms), n, filters)
        exact: list[tuple[ChunkRow, float]] = []
        if check_exact and hits and self._has_rare_term(terms):
            exact = hits if len(terms) == 1 else self._every(terms, n, filters)
        names = identifiers(query) if check_exact and hits and not exact else []
        if names:
            found = self._every(names, self.tuning.rare_term_chunks + 1, filters)
            exact = found if len(found) <= self.tuning.rare_term_chunks else []
        return _similarities(hits), _similarities(exact)

    def _every(self, phrases: list[str], n: int, filters: SearchFilters) -> list[tuple[ChunkRow, float]]:
        """Chunks holding every phrase, best first."""
        return self.catalog.keyword_search(" AND ".join(match_phrase(p) for p in phrases), n, filters)

    def _has_rare_term(self, terms: list[str]) -> bool:
        return min(self.term_stats.chunks_with(term) for term in terms) <= self.tuning.rare_term_chunks

    def _fuse(
        self, rankings: list[tuple[float, list[tuple[ChunkRow, float]]]], k: int
    ) -> list[tuple[ChunkRow, float]]:
        """Weighted reciprocal-rank fusion of (weight, ranking) pairs, per note then per chunk:
        the top `k` chunks with their fused score (it orders them; it is no relevance)."""
        t = self.tuning
        note_score: dict[str, float] = {}
        chunk_score: dict[str, float] = {}
        rows: dict[str, ChunkRow] = {}
        for weight, ranking in rankings:
            seen_notes: dict[str, int] = {}
            for chunk_rank, (row, _) in enumerate(ranking, 1):
                rows[row.id] = row
                chunk_score[row.id] = chunk_score.get(row.id, 0.0) + weight / (t.rrf_k + chunk_rank)
                if row.note_id not in seen_notes:
                    seen_notes[row.note_id] = len(seen_notes) + 1
                    note_score[row.note_id] = note_score.get(row.note_id, 0.0) + weight / (
                        t.rrf_k + seen_notes[row.note_id]
                    )
        best = sum(weight for weight, _ in rankings) / (t.rrf_k + 1)
        ordered = sorted(rows.values(), key=lambda r: (-note_score[r.note_id], -chunk_score[r.id]))
        # A note's best chunk carries the note's score; its other chunks score lower
        # in proportion to their own fused rank, so scores fall down the list.
        lead: dict[str, float] = {}
        scored = []
        for row in ordered:
            top = lead.setdefault(row.note_id, chunk_score[row.id])
            scored.append((row, note_score[row.note_id] / best * chunk_score[row.id] / top))
        return _top_per_note(scored, k, t.per_note)


def _similarities(hits: list[tuple[ChunkRow, float]]) -> list[tuple[ChunkRow, float]]:
    """bm25() is lower-is-better and unbounded; map it to (0, 1), higher is better."""
    return [(row, -bm25 / (1.0 - bm25)) for row, bm25 in hits]


def _top_per_note(hits: list[tuple[ChunkRow, float]], k: int, per_note: int) -> list[tuple[ChunkRow, float]]:
    hits = sorted(hits, key=lambda h: -h[1])  # stable: equal scores keep their order
    taken: dict[str, int] = {}
    out: list[tuple[ChunkRow, float]] = []
    for row, score in hits:
        if taken.get(row.note_id, 0) >= per_note:
            continue
        taken[row.note_id] = taken.get(row.note_id, 0) + 1
        out.append((row, score))
        if len(out) == k:
            break
    return out


def to_result(row: ChunkRow, score: float) -> SearchResult:
    return SearchResult(
        id=row.id,
        note_id=row.note_id,
        path=row.rel,
        folder=row.folder,
        title=row.title,
        heading=row.heading,
        text=row.text,
        score=float(score),
        modified_at=iso_time(row.modified_at),
        lines=(row.start_line, row.end_line),
        tags=row.tags,
    )


def iso_time(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).isoformat(timespec="seconds")

