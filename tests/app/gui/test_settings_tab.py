from __future__ import annotations

import stat

import pytest

from PySide6.QtWidgets import QCheckBox, QDoubleSpinBox, QLineEdit, QSpinBox

from notewell.app.autostart import autostart_path
from notewell.app.gui.settings_tab import SettingsTab
from notewell.app.preferences import Preferences
from notewell.app.secrets import NGROK_AUTHTOKEN, UserSecret
from notewell.app.settings import SETTINGS_FIELDS, Settings


def widget(tab: SettingsTab, name: str):
    return tab.findChild(object, name)


def test_every_setting_has_a_widget(qtbot, make_desktop):
    tab = make_desktop(start=False).settings_tab
    for field in SETTINGS_FIELDS:
        assert widget(tab, field.name) is not None, field.name
    assert isinstance(widget(tab, "ngrok_authtoken"), QLineEdit)


def test_settings_survive_a_restart(qtbot, make_desktop, data_dir):
    desktop = make_desktop(start=False)
    tab = desktop.settings_tab
    port = widget(tab, "port")
    assert isinstance(port, QSpinBox)
    port.setValue(4555)
    widget(tab, "extensions").setText(".md, .txt")
    widget(tab, "ignore_patterns").setText("drafts/, *.tmp")
    size = widget(tab, "max_file_mb")
    assert isinstance(size, QDoubleSpinBox)
    size.setValue(3.5)
    widget(tab, "ngrok_domain").setText("quiet-notes.ngrok-free.app")
    widget(tab, "ngrok_authtoken").setText("2abcSECRET")
    share = widget(tab, "start_sharing_on_launch")
    assert isinstance(share, QCheckBox)
    share.setChecked(True)
    widget(tab, "start_at_login").setChecked(True)
    model = widget(tab, "model")
    model.setText("sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2")
    assert tab.model_warning.isVisibleTo(tab)
    model.setText(desktop.prefs.settings.model)
    assert not tab.model_warning.isVisibleTo(tab)
    precision = widget(tab, "model_precision")
    assert [precision.itemData(i) for i in range(precision.count())] == ["int8", "fp32"]
    precision.setCurrentIndex(precision.findData("fp32"))  # another precision is another model: it re-embeds too
    assert tab.model_warning.isVisibleTo(tab)
    precision.setCurrentIndex(precision.findData(desktop.prefs.settings.model_precision))
    changed = tab.save()
    assert {"port", "extensions", "ignore_patterns", "max_file_mb", "ngrok_domain",
            "start_sharing_on_launch", "start_at_login", "ngrok_authtoken"} <= changed
    assert "model" not in changed

    reloaded = Settings.load(data_dir)
    assert reloaded.port == 4555
    assert reloaded.extensions == [".md", ".txt"]
    assert reloaded.ignore_patterns == ["drafts/", "*.tmp"]
    assert reloaded.max_file_mb == 3.5
    assert reloaded.ngrok_domain == "quiet-notes.ngrok-free.app"
    assert reloaded.start_sharing_on_launch and reloaded.start_at_login
    secret = data_dir / NGROK_AUTHTOKEN
    assert secret.read_text().strip() == "2abcSECRET"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert "2abcSECRET" not in (data_dir / "settings.json").read_text()
    entry = autostart_path().read_text()
    assert "Exec=" in entry and "gui" in entry

    again = SettingsTab(Preferences(reloaded, data_dir), UserSecret(data_dir, NGROK_AUTHTOKEN))
    qtbot.addWidget(again)
    assert widget(again, "port").value() == 4555
    assert widget(again, "extensions").text() == ".md, .txt"
    assert widget(again, "ngrok_authtoken").text() == "2abcSECRET"
    assert widget(again, "start_at_login").isChecked()

    widget(tab, "start_at_login").setChecked(False)
    widget(tab, "ngrok_authtoken").setText("")
    tab.save()
    assert not autostart_path().exists() and not secret.exists()


def test_revert_drops_unsaved_edits(qtbot, make_desktop):
    tab = make_desktop(start=False).settings_tab
    widget(tab, "port").setValue(1234)
    tab.revert_button.click()
    assert widget(tab, "port").value() == 0


def test_sharing_leads_with_the_authtoken_then_the_free_domain_with_links(qtbot, make_desktop):
    from PySide6.QtWidgets import QFormLayout, QGroupBox

    tab = make_desktop(start=False).settings_tab
    sharing = next(box for box in tab.findChildren(QGroupBox) if box.title() == "Sharing")
    form = sharing.layout()
    assert isinstance(form, QFormLayout)
    labels = [form.itemAt(row, QFormLayout.ItemRole.LabelRole).widget().text()
              for row in range(form.rowCount()) if form.itemAt(row, QFormLayout.ItemRole.LabelRole)]
    assert labels[:3] == ["ngrok authtoken", "ngrok domain", "ngrok agent"]
    assert "dashboard.ngrok.com/get-started/your-authtoken" in tab.hints["ngrok_authtoken"].text()
    assert "dashboard.ngrok.com/domains" in tab.hints["ngrok_domain"].text()
    assert tab.hints["ngrok_authtoken"].openExternalLinks()


def test_an_inbox_in_a_hidden_folder_is_refused_with_a_message(qtbot, make_desktop, data_dir, tmp_path):
    """Review of #18, finding 9: its saved notes would never be searchable."""
    desktop = make_desktop(start=False)
    notes = tmp_path / "my notes"
    (notes / ".inbox").mkdir(parents=True)
    desktop.prefs.update({"folders": [str(notes)]})
    tab = desktop.settings_tab
    tab.load()
    widget(tab, "inbox_folder").setText(str(notes / ".inbox"))
    tab.save()
    assert "would not be searchable" in tab.status.text()
    assert Settings.load(data_dir).inbox_folder == ""
    assert widget(tab, "inbox_folder").text() == ""


def test_the_model_field_offers_the_models_that_need_no_download(qtbot, make_desktop):  # type: ignore[no-untyped-def]
    """Typing "multi" offers multilingual, multilingual-e5-small…: a person need not know the names."""
    tab = make_desktop(start=False).settings_tab
    model = widget(tab, "model")
    assert model.text() == "auto"  # the default: the notes decide
    choices = tab.model_choices
    choices.setCompletionPrefix("multi")
    offered = [choices.completionModel().index(row, 0).data() for row in range(choices.completionCount())]
    assert offered == ["multilingual", "multilingual-e5-small"]


def test_the_model_line_says_what_auto_chose_and_why_from_a_worker_thread(qtbot, make_desktop, tmp_path,
                                                                        monkeypatch):
    """Finding out reads up to 400 notes: never on the GUI thread."""
    import threading

    from notewell.app import services
    from tests.helpers import write_notes

    notes = write_notes(tmp_path / "mixed", {
        **{f"en{i}.md": f"# Plan {i}\n\nThe budget review moved to Thursday.\n" for i in range(7)},
        **{f"笔记{i}.md": f"# 会议 {i}\n\n预算评审改到周四。\n" for i in range(3)},
    })
    sampled_on: list[threading.Thread] = []
    sample = services.sample_notes

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        sampled_on.append(threading.current_thread())
        return sample(*args, **kwargs)

    monkeypatch.setattr(services, "sample_notes", spy)
    tab = make_desktop([notes]).settings_tab
    line = tab.model_in_use
    qtbot.waitUntil(lambda: line.isVisibleTo(tab))
    assert line.text() == "Auto chose hash-256: 3 of 10 sampled notes are Chinese, Japanese or Korean."
    assert sampled_on and threading.main_thread() not in sampled_on


@pytest.mark.parametrize(("embedder", "mix", "line"), [
    ("multilingual: multilingual-e5-small (int8) + use-multilingual-v3 (0.70)", (80, 12),
     "Auto chose multilingual-e5-small + USE: 12 of 80 sampled notes are Chinese, Japanese or Korean."),
    ("bundled:all-MiniLM-L6-v2 (int8)", (80, 2),
     "Auto chose all-MiniLM-L6-v2: the notes are mostly English "
     "(2 of 80 sampled notes are Chinese, Japanese or Korean)."),
    ("multilingual: multilingual-e5-small (int8) + use-multilingual-v3 (0.70)", (80, 1),
     "Auto chose multilingual-e5-small + USE: kept since the index holds its vectors; "
     "1 of 80 sampled notes are Chinese, Japanese or Korean."),
    ("bundled:all-MiniLM-L6-v2 (int8)", (80, 12),
     "Auto chose all-MiniLM-L6-v2: 12 of 80 sampled notes are Chinese, Japanese or Korean, "
     "so the multilingual model takes over at the next check of the folders (within minutes)."),
    ("bundled:all-MiniLM-L6-v2 (int8)", None, "In use: all-MiniLM-L6-v2."),
    ("use-multilingual-v3", None, "In use: use-multilingual-v3."),
])
def test_the_model_line_reads_as_a_sentence(embedder, mix, line):
    from notewell.app.gui.settings_tab import model_in_use
    from notewell.app.services import ModelChoice
    from notewell.indexer.language_mix import LanguageMix

    assert model_in_use(ModelChoice(embedder, LanguageMix(*mix) if mix else None)) == line


def test_saving_an_untouched_form_after_the_upgrade_keeps_auto(qtbot, make_desktop, data_dir):
    """A settings.json from before settings_version names the old default model: the form shows
    auto, and saving it (with another change) does not write the model down."""
    import json
    from dataclasses import asdict

    old = {**asdict(Settings()), "model": "bundled:all-MiniLM-L6-v2"}
    (data_dir / "settings.json").write_text(json.dumps(old))
    tab = make_desktop(start=False).settings_tab
    assert widget(tab, "model").text() == "auto"
    assert "model" not in tab.save()
    widget(tab, "port").setValue(4556)
    tab.save()
    saved = json.loads((data_dir / "settings.json").read_text())
    assert "model" not in saved and saved["port"] == 4556
    assert Settings.load(data_dir).model == "auto"
