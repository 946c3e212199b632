"""Review of dfe21f9 (Model precision as a combo box): a precision the app accepts and runs
("FP32", " fp32": make_embedder reads it with strip().lower()) but that is not spelled like
one of the combo's values. The old text field saved whatever case the user typed."""

from __future__ import annotations

import json

from notewell.app.services import make_embedder
from notewell.app.settings import SETTINGS_FILE, Settings


def test_a_precision_written_in_capitals_survives_saving_another_setting(qtbot, make_desktop, data_dir):
    (data_dir / SETTINGS_FILE).write_text(json.dumps({"settings_version": 2, "model_precision": "FP32"}))
    # The app runs this setting as fp32 (no error): it is a valid choice today.
    make_embedder(Settings(model="bundled:all-MiniLM-L6-v2", model_precision="FP32"))  # (raises on "fp16")
    desktop = make_desktop(start=False)
    tab = desktop.settings_tab
    precision = tab.findChild(object, "model_precision")
    assert precision.currentData() == "fp32", precision.currentData()  # observed: "int8" (the first item)
    assert not tab.model_warning.isVisibleTo(tab)  # nothing was changed yet

    tab.findChild(object, "port").setValue(4556)  # the user changes only the port
    changed = tab.save()
    assert "model_precision" not in changed, changed  # observed: saved as int8, every note re-embedded
    assert Settings.load(data_dir).model_precision.strip().lower() == "fp32"


def test_a_precision_the_form_cannot_show_is_said_to_change_on_saving(qtbot, make_desktop, data_dir):
    """"fp16" (the app refuses it: the index can't open) shows as int8, the default: saving
    would change it, and re-embed every note, so the model warning says so before anything is saved."""
    (data_dir / SETTINGS_FILE).write_text(json.dumps({"settings_version": 2, "model_precision": "fp16"}))
    tab = make_desktop(start=False).settings_tab
    assert tab.findChild(object, "model_precision").currentData() == "int8"
    assert tab.model_warning.isVisibleTo(tab)
