"""A real Notewell API in its own process with 1,024 file descriptors, as on the reviewer's
machine, for the slow-connection replay: `python -m tests.security.slow_server DATA NOTES`.

Prints the server's URL, then serves until stdin closes.
"""

from __future__ import annotations

import resource
import sys
from pathlib import Path

from notewell.indexer.embedding import HashEmbedder
from notewell.indexer.notes_index import NotesIndex
from notewell.plugin_api.app import ApiConfig, create_app
from notewell.plugin_api.connections import ConnectionPolicy
from notewell.plugin_api.server import ApiServer
from tests.security.conftest import PUBLIC, TOKEN

DESCRIPTORS = 1024
POLICY = ConnectionPolicy(header_seconds=3.0, body_seconds=3.0)


def main(data: Path, notes: Path) -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (DESCRIPTORS, DESCRIPTORS))
    index = NotesIndex.open(data, HashEmbedder())
    index.sync([notes])
    server = ApiServer(create_app(index, ApiConfig(), token=lambda: TOKEN, public_url=lambda: PUBLIC),
                       port=0, connections=POLICY)
    server.start()
    print(server.url, flush=True)
    sys.stdin.read()
    server.stop()
    index.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
