"""Saving a note asks in the desktop app: Allow once / Always for this client / Deny (issue 18)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import httpx

from notewell.app.settings import Settings
from tests.app.gui.conftest import wait_ready

SAVE = {"title": "Lisbon trip", "text": "Trams, tiles and custard tarts.\nBook the 28 tram early.\nLine three."}


def with_inbox(data_dir: Path, inbox: Path) -> None:
    settings = Settings.load(data_dir)
    settings.inbox_folder = str(inbox)
    settings.save(data_dir)


def save_in_background(url: str, key: str, body: dict[str, Any]) -> tuple[threading.Thread, list[httpx.Response]]:
    answers: list[httpx.Response] = []
    thread = threading.Thread(target=lambda: answers.append(httpx.post(
        f"{url}/notes", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=60)))
    thread.start()
    return thread, answers


def test_each_save_asks_and_the_answer_decides(qtbot, make_desktop, notes, data_dir):
    inbox = notes / "Inbox"
    inbox.mkdir()
    with_inbox(data_dir, inbox)
    opened: list[Path] = []
    desktop = make_desktop([notes], open_note=opened.append)
    wait_ready(qtbot, desktop)
    url, key = desktop.sharing.server_state.url, desktop.tokens.get()
    prompt = desktop.save_prompt

    # Allow once
    thread, answers = save_in_background(url, key, SAVE)
    qtbot.waitUntil(lambda: len(prompt.open) == 1, timeout=10_000)
    [question] = prompt.open.values()
    assert question.box.text() == "“API key” wants to save a new note “Lisbon trip” in your inbox folder."
    assert question.box.informativeText().startswith("From: This computer\n")  # review of #18, finding 6
    assert question.box.informativeText().removeprefix("From: This computer\n\n").startswith(
        "Trams, tiles and custard tarts.\nBook the 28 tram early.")
    assert {b.text() for b in question.box.buttons()} == {"Allow once", "Always for this client", "Deny"}
    question.once.click()
    thread.join(30)
    assert answers[0].status_code == 200 and (inbox / "Lisbon trip.md").exists()

    # The activity record shows the save, and opens the file.
    tab = desktop.activity_tab
    qtbot.waitUntil(lambda: tab.table.topLevelItemCount() > 0
                    and "saved “Lisbon trip”" in tab.table.topLevelItem(0).text(3), timeout=10_000)
    tab.table.setCurrentItem(tab.table.topLevelItem(0))
    assert tab.open_button.isEnabled()
    tab.open_button.click()
    assert opened == [inbox / "Lisbon trip.md"]

    # Deny
    thread, answers = save_in_background(url, key, {**SAVE, "title": "Unwanted"})
    qtbot.waitUntil(lambda: len(prompt.open) == 1, timeout=10_000)
    [question] = prompt.open.values()
    question.deny.click()
    thread.join(30)
    assert answers[0].status_code == 403 and "declined" in answers[0].json()["error"]["message"]
    assert not (inbox / "Unwanted.md").exists()
    # Within a minute of a Deny, that client's saves are refused without asking (review of #18, finding 4).
    thread, answers = save_in_background(url, key, {**SAVE, "title": "Unwanted again"})
    thread.join(30)
    assert answers[0].status_code == 403 and "without asking" in answers[0].json()["error"]["message"]
    assert prompt.open == {} and not (inbox / "Unwanted again.md").exists()
    desktop.runtime.save_approvals._denied_at.clear()  # a minute later

    # Always for this client: this save and the next without a question.
    thread, answers = save_in_background(url, key, {**SAVE, "title": "Trusted"})
    qtbot.waitUntil(lambda: len(prompt.open) == 1, timeout=10_000)
    [question] = prompt.open.values()
    question.always.click()
    thread.join(30)
    assert answers[0].status_code == 200
    thread, answers = save_in_background(url, key, {**SAVE, "title": "Trusted again"})
    thread.join(30)
    assert answers[0].status_code == 200 and prompt.open == {}
    assert (inbox / "Trusted again.md").exists()


def test_a_question_nobody_answers_closes_when_the_save_gives_up(qtbot, make_desktop, notes, data_dir):
    inbox = notes / "Inbox"
    inbox.mkdir()
    with_inbox(data_dir, inbox)
    desktop = make_desktop([notes])
    wait_ready(qtbot, desktop)
    desktop.runtime.save_approvals._timeout = 0.5  # the 40 s an Action allows, shortened
    thread, answers = save_in_background(desktop.sharing.server_state.url, desktop.tokens.get(), SAVE)
    qtbot.waitUntil(lambda: len(desktop.save_prompt.open) == 1, timeout=10_000)
    [question] = desktop.save_prompt.open.values()
    qtbot.waitUntil(lambda: desktop.save_prompt.open == {} and not question.box.isVisible(), timeout=10_000)
    thread.join(30)
    assert answers[0].status_code == 403 and "in time" in answers[0].json()["error"]["message"]
    assert not (inbox / "Lisbon trip.md").exists()


def test_the_inbox_is_chosen_in_settings(qtbot, make_desktop, notes, tmp_path):
    chosen = tmp_path / "Saved by assistants"
    chosen.mkdir()
    desktop = make_desktop([notes])
    wait_ready(qtbot, desktop)
    tab = desktop.settings_tab
    assert tab.editors["inbox_folder"].get() == "" and tab.editors["ask_before_saving"].get() is True
    tab._choose_folder = lambda parent: str(chosen)
    tab.choose_inbox.click()
    tab.save()
    assert desktop.prefs.settings.inbox_folder == str(chosen)

    def described() -> set[str]:
        state = desktop.sharing.server_state
        try:
            return set(httpx.get(f"{state.url}/openapi.json").json()["paths"]) if state.state == "running" else set()
        except httpx.TransportError:  # restarting with the new setting
            return set()

    qtbot.waitUntil(lambda: "/notes" in described(), timeout=10_000)
    tab.clear_inbox.click()
    tab.save()
    qtbot.waitUntil(lambda: "/query" in described() and "/notes" not in described(), timeout=10_000)


def test_clients_trusted_to_save_are_listed_and_can_be_asked_again(qtbot, make_desktop, notes, data_dir):
    inbox = notes / "Inbox"
    inbox.mkdir()
    with_inbox(data_dir, inbox)
    desktop = make_desktop([notes])
    wait_ready(qtbot, desktop)
    box = desktop.trusted_box
    assert box.list.count() == 0 and not box.empty.isHidden()
    url, key = desktop.sharing.server_state.url, desktop.tokens.get()
    thread, answers = save_in_background(url, key, SAVE)
    qtbot.waitUntil(lambda: len(desktop.save_prompt.open) == 1, timeout=10_000)
    [question] = desktop.save_prompt.open.values()
    question.always.click()
    thread.join(30)
    qtbot.waitUntil(lambda: box.list.count() == 1, timeout=10_000)
    assert box.list.item(0).text() == "API key"
    box.list.setCurrentRow(0)
    box.remove_button.click()
    assert box.list.count() == 0
    thread, answers = save_in_background(url, key, {**SAVE, "title": "Asks again"})
    qtbot.waitUntil(lambda: len(desktop.save_prompt.open) == 1, timeout=10_000)  # asked again
    [question] = desktop.save_prompt.open.values()
    question.deny.click()
    thread.join(30)
    assert answers[0].status_code == 403
