from __future__ import annotations

import httpx

from notewell.app.gui.activity_tab import REFUSED_BACKGROUND
from tests.app.gui.conftest import wait_ready


def test_requests_appear_and_refused_ones_stand_out(qtbot, make_desktop, notes):
    desktop = make_desktop([notes])
    tab = desktop.activity_tab
    wait_ready(qtbot, desktop)
    assert tab.table.topLevelItemCount() == 0 and "No assistant" in tab.summary.text()
    url = desktop.sharing.server_state.url
    good = {"Authorization": f"Bearer {desktop.tokens.get()}"}
    body = {"queries": [{"query": "sourdough starter", "top_k": 2}]}
    assert httpx.post(f"{url}/query", json=body, headers=good).status_code == 200
    assert httpx.post(f"{url}/query", json=body, headers={"Authorization": "Bearer wrong"}).status_code == 401
    qtbot.waitUntil(lambda: tab.table.topLevelItemCount() == 2)

    refused, ok = tab.table.topLevelItem(0), tab.table.topLevelItem(1)  # newest first
    # The second title is whichever note ties at zero similarity: only the first is certain.
    assert ok.text(2).startswith("sourdough starter → Sourdough, ") and ok.text(3) == "2" and ok.text(4) == "200"
    assert ok.text(1) == "API key"
    assert refused.text(4).startswith("401")
    assert refused.background(0).color() == REFUSED_BACKGROUND
    assert ok.background(0).color() != REFUSED_BACKGROUND
    assert "1 refused" in tab.summary.text()
