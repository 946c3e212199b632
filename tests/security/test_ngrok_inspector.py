"""Issue 15: ngrok's local inspector (127.0.0.1:4040) was left on, so the agent kept every
request and response, keys and note text included, for anyone on the machine to read.

The real pyngrok path against the fake agent (tests/plugin_api/fake_ngrok), which keeps
requests for its inspector as the real one does unless told not to.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import yaml

from notewell.plugin_api.app import ApiConfig, create_app
from notewell.plugin_api.server import ApiServer
from notewell.plugin_api.tunnel_ngrok import CONFIG_FILE, Backoff, NgrokTunnel
from tests.plugin_api.tunnel_helpers import FAKE_NGROK, StatusRecorder, edge_client, fake_state
from tests.security.conftest import TOKEN


def test_the_agent_keeps_no_copy_of_the_traffic(security_index, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config_dir = tmp_path / "ngrok"
    tunnel = NgrokTunnel(config_dir=config_dir, authtoken="good-token", ngrok_path=str(FAKE_NGROK), startup_timeout=5,
                         check_interval=0.05, backoff=Backoff(initial=0.1, factor=2, maximum=0.4))
    server = ApiServer(create_app(security_index, ApiConfig(), token=lambda: TOKEN,
                                  public_url=lambda: tunnel.status.public_url), port=0)
    server.start()
    try:
        tunnel.start(server.port)
        url = StatusRecorder(tunnel).wait_state("online").public_url
        with edge_client(config_dir) as visitor:
            answer = visitor.post(f"{url}/query", headers={"Authorization": f"Bearer {TOKEN}"},
                                  json={"queries": [{"query": "sourdough starter"}]})
            assert answer.status_code == 200 and "Sourdough" in answer.text
        kept = httpx.get(f"http://{fake_state(config_dir)['api_addr']}/api/requests/http").json()["requests"]
        assert kept == [], "the agent's inspector holds the key and the notes"
        agent = yaml.safe_load((config_dir / CONFIG_FILE).read_text())["agent"]
        assert agent["inspect_db_size"] == -1
    finally:
        tunnel.stop()
        server.stop()
