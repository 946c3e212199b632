"""settings.json: what is saved, and how a file from an older Notewell is read."""

from __future__ import annotations

import json
import stat
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pytest

from notewell.app import cli, services
from notewell.app.preferences import Preferences
from notewell.app.settings import SETTINGS_FILE, Settings
from notewell.indexer.embedding import HashEmbedder
from tests.helpers import write_notes

OLD_DEFAULT = "bundled:all-MiniLM-L6-v2"


def write_version_1(data: Path, **values: object) -> Path:
    """What Notewell wrote before settings_version: every field (asdict), the model's old default included."""
    raw = {**asdict(Settings()), "model": OLD_DEFAULT, **values}
    data.mkdir(parents=True, exist_ok=True)
    path = data / SETTINGS_FILE
    path.write_text(json.dumps(raw, indent=2) + "\n")
    return path


def saved(data: Path) -> dict[str, object]:
    return json.loads((data / SETTINGS_FILE).read_text())


def test_an_old_file_with_the_old_default_model_follows_auto(tmp_path: Path) -> None:
    """Users who never chose a model had the old default written down: they get auto too."""
    write_version_1(tmp_path, folders=["/home/me/notes"], port=4444)
    settings = Settings.load(tmp_path)
    assert settings.model == "auto"
    assert settings.folders == ["/home/me/notes"] and settings.port == 4444


def test_an_old_file_naming_another_model_keeps_it(tmp_path: Path) -> None:
    write_version_1(tmp_path, model="use-multilingual-v3")
    assert Settings.load(tmp_path).model == "use-multilingual-v3"


def test_after_load_and_save_the_model_still_follows_the_default(tmp_path: Path) -> None:
    write_version_1(tmp_path, folders=["/home/me/notes"], port=4444)
    Settings.load(tmp_path).save(tmp_path)
    assert saved(tmp_path) == {"settings_version": 2, "folders": ["/home/me/notes"], "port": 4444}
    assert Settings.load(tmp_path).model == "auto"

    @dataclass
    class Later(Settings):  # a later Notewell whose default model is another
        model: str = field(default="some-better-model")

    assert Later.load(tmp_path).model == "some-better-model"
    assert Later.load(tmp_path).port == 4444


def test_only_what_differs_from_the_defaults_is_saved_privately(tmp_path: Path) -> None:
    Settings().save(tmp_path)
    assert saved(tmp_path) == {"settings_version": 2}
    assert stat.S_IMODE((tmp_path / SETTINGS_FILE).stat().st_mode) == 0o600


def test_choosing_the_english_model_after_the_upgrade_sticks(tmp_path: Path) -> None:
    """The way back for someone who had picked it on purpose: a saved file has a version, so its
    model is a choice."""
    write_version_1(tmp_path)
    prefs = Preferences(Settings.load(tmp_path), tmp_path)
    assert prefs.update({"model": OLD_DEFAULT}) == {"model"}
    assert saved(tmp_path)["model"] == OLD_DEFAULT
    assert Settings.load(tmp_path).model == OLD_DEFAULT


def test_an_unchanged_form_saves_nothing_and_a_change_pins_only_itself(tmp_path: Path) -> None:
    write_version_1(tmp_path)
    prefs = Preferences(Settings.load(tmp_path), tmp_path)
    form = asdict(prefs.settings)
    assert prefs.update(form) == frozenset()
    assert prefs.update({**form, "port": 4555}) == {"port"}
    assert saved(tmp_path) == {"settings_version": 2, "port": 4555}


def test_notewell_index_adding_a_folder_does_not_pin_the_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(services, "make_embedder", lambda *args, **kwargs: HashEmbedder())
    notes = write_notes(tmp_path / "notes", {"a.md": "# A\n\nSome words.\n"})
    data = tmp_path / "data"
    write_version_1(data)
    assert cli.main(["index", str(notes), "--data-dir", str(data)]) == 0
    assert saved(data) == {"settings_version": 2, "folders": [str(notes.resolve())]}
    assert Settings.load(data).model == "auto"


@pytest.mark.parametrize("text", ["[]", '"auto"'])
def test_a_file_that_is_not_an_object_says_what_to_do(tmp_path: Path, text: str) -> None:
    from notewell.app.settings import SettingsError

    (tmp_path / SETTINGS_FILE).write_text(text)
    with pytest.raises(SettingsError, match="Fix or delete that file"):
        Settings.load(tmp_path)
