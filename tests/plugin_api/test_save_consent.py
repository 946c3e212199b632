"""Who may save, and how often they may ask (issue 18; review of #18, findings 4 and 7)."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from notewell.plugin_api.auth import Caller
from notewell.plugin_api.errors import Forbidden
from notewell.plugin_api.save_consent import SaveApprovals, SaveRequest, TrustedSavers


def caller(name: str) -> Caller:
    return Caller("oauth", f"grant-{name}", name, frozenset({"notes:write"}))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def approvals(clock: Clock) -> tuple[SaveApprovals, list[SaveRequest]]:
    asked: list[SaveRequest] = []
    made = SaveApprovals(TrustedSavers(None), ask=lambda: True, clock=clock)
    made.subscribe(lambda request: asked.append(request) if request.decision == "pending" else None)
    return made, asked


async def outcome(made: SaveApprovals, who: Caller, title: str = "T") -> str:
    try:
        await made.decide(who, title, "text")
    except Forbidden as exc:
        return str(exc)
    return "allowed"


def test_one_client_cannot_fill_every_question_and_block_the_others() -> None:
    made, asked = approvals(Clock())
    results: dict[str, str] = {}

    async def main() -> None:
        async with anyio.create_task_group() as group:
            async def run(key: str, who: Caller) -> None:
                results[key] = await outcome(made, who)

            for n in range(6):
                group.start_soon(run, f"flood{n}", caller("Flood"))
                await anyio.sleep(0.01)
            group.start_soon(run, "other", caller("Other"))
            await anyio.sleep(0.1)
            assert [r.client_name for r in made.pending()].count("Flood") == 2
            other = next(r for r in made.pending() if r.client_name == "Other")
            made.allow_once(other.id)
            await anyio.sleep(0.1)
            made.close()

    anyio.run(main)
    assert results["other"] == "allowed"
    assert sum("already waiting" in results[f"flood{n}"] for n in range(6)) == 4


def test_after_a_deny_the_clients_next_saves_within_a_minute_are_refused_without_asking() -> None:
    clock = Clock()
    made, asked = approvals(clock)
    results: list[str] = []

    async def deny_next() -> None:
        while not made.pending():
            await anyio.sleep(0.01)
        made.deny(made.pending()[0].id)

    async def main() -> None:
        async with anyio.create_task_group() as group:
            group.start_soon(deny_next)
            results.append(await outcome(made, caller("Pushy")))
        clock.now += 30
        results.append(await outcome(made, caller("Pushy")))
        async with anyio.create_task_group() as group:  # another client is still asked
            group.start_soon(deny_next)
            results.append(await outcome(made, caller("Other")))
        clock.now += 31
        async with anyio.create_task_group() as group:  # a minute later: asked again
            group.start_soon(deny_next)
            results.append(await outcome(made, caller("Pushy")))

    anyio.run(main)
    assert "declined" in results[0]
    assert "minute" in results[1] and "without asking" in results[1]
    assert [r.client_name for r in asked] == ["Pushy", "Other", "Pushy"]
    assert "declined" in results[2] and "declined" in results[3]


@pytest.mark.parametrize("text", [
    "\n" * 7 + "PAYLOAD sent",
    "Groceries: milk" + "\u2028" * 6 + "PAYLOAD sent",
    "Groceries: milk" + "\u2029" * 6 + "PAYLOAD sent",
    *("Groceries: milk" + sep * 8 + "PAYLOAD sent" for sep in "\x1c\x1d\x1e\x0b\x0c\x85\r"),
    " \u200b \n" * 8 + "PAYLOAD sent",
])
def test_the_question_shows_the_first_lines_that_have_text(text: str) -> None:
    """Review of #18, finding 7: blank lines and odd separators cannot hide what is saved."""
    from notewell.plugin_api.save_consent import preview

    shown = preview(text)
    assert "PAYLOAD sent" in shown
    assert shown.count("\n") <= 1


def test_control_characters_in_the_preview_become_spaces() -> None:
    from notewell.plugin_api.save_consent import preview

    assert preview("one\x1ftwo\x1b[31mthree") == "one two [31mthree"
