"""Issue 15, the notes on disk:

* a file swapped for a symlink to a file outside the folder (/etc/passwd in the
  review) between listing and reading was indexed: `open()` follows links;
* `private: 1`, a frontmatter block without its closing `---`, and frontmatter in a
  `.txt` note were indexed (and then served).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import httpx
import pytest

from notewell.indexer.embedding import HashEmbedder
from notewell.indexer.errors import SkipFile
from notewell.indexer.notes_index import NotesIndex
from notewell.indexer.sources import read_bytes, walk_folder
from notewell.indexer.types import NoteFile
from notewell.plugin_api.app import ApiConfig, create_app
from notewell.plugin_api.server import ApiServer
from tests.helpers import write_notes
from tests.security.conftest import TOKEN

SECRET = "OUTSIDE-SECRET-5b1e"


def listed(folder: Path) -> dict[str, NoteFile]:
    return {f.rel: f for f in walk_folder(folder) if isinstance(f, NoteFile)}


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    return write_notes(tmp_path / "outside", {"secret.md": f"# Secret\n\n{SECRET}\n"}) / "secret.md"


def test_a_note_swapped_for_a_link_after_listing_is_not_read(tmp_path: Path, outside: Path) -> None:
    notes = write_notes(tmp_path / "notes", {"a.md": "# A\n\nharmless\n", "sub/b.md": "# B\n\nharmless\n"})
    files = listed(notes)
    (notes / "a.md").unlink()
    (notes / "a.md").symlink_to(outside)
    with pytest.raises(SkipFile) as swapped:
        read_bytes(files["a.md"])
    assert "link" in swapped.value.reason
    os.rename(notes / "sub", notes / "sub-old")  # a folder on the way swapped for a link
    (notes / "sub").symlink_to(outside.parent, target_is_directory=True)
    (outside.parent / "b.md").write_text(f"# B\n\n{SECRET}\n")
    with pytest.raises(SkipFile):
        read_bytes(files["sub/b.md"])


def test_a_note_replaced_by_another_file_after_listing_is_not_read_as_the_listed_one(tmp_path: Path) -> None:
    notes = write_notes(tmp_path / "notes", {"a.md": "# A\n\nfirst\n", "b.md": f"# B\n\n{SECRET}\n"})
    files = listed(notes)
    os.replace(notes / "b.md", notes / "a.md")
    with pytest.raises(SkipFile) as replaced:
        read_bytes(files["a.md"])
    assert "read again" in replaced.value.reason
    assert read_bytes(listed(notes)["a.md"]).endswith(f"{SECRET}\n".encode())  # listed anew, it is read


def test_a_fifo_in_place_of_a_note_does_not_hang_the_indexer(tmp_path: Path) -> None:
    notes = write_notes(tmp_path / "notes", {"a.md": "# A\n\nfirst\n"})
    files = listed(notes)
    (notes / "a.md").unlink()
    os.mkfifo(notes / "a.md")
    outcome: list[BaseException | bytes] = []

    def read() -> None:
        try:
            outcome.append(read_bytes(files["a.md"]))
        except BaseException as exc:
            outcome.append(exc)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(10)
    if reader.is_alive():  # it hangs in open(): let it go before failing
        os.close(os.open(notes / "a.md", os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("reading a FIFO in place of a note hung")
    assert isinstance(outcome[0], SkipFile)


PRIVATE = {
    "one.md": "---\nprivate: 1\n---\n# One\n\nSECRET-ONE\n",
    "on.md": "---\nPrivate: on\n---\n# On\n\nSECRET-ON\n",
    "quoted.md": "---\nprivate: 'True'\n---\n# Quoted\n\nSECRET-QUOTED\n",
    "list.md": "---\nprivate: [yes]\n---\n# List\n\nSECRET-LIST\n",
    "unclosed.md": "---\ntitle: Diary\nprivate: true\n\n# Diary\n\nSECRET-UNCLOSED\n",
    "broken.md": "---\ntitle: [unclosed\nprivate: 1\n---\n# Broken\n\nSECRET-BROKEN\n",
    "plain.txt": "---\nprivate: true\n---\nSECRET-TXT\n",
    "org.org": "---\nprivate: yes\n---\n* SECRET-ORG\n",
    "public.md": "---\nprivate: false\n---\n# Public\n\nPUBLIC-NOTE\n",
    "no.md": "---\nprivate: no\n---\n# No\n\nPUBLIC-NO\n",
    "rule.md": "---\n\nJust a horizontal rule above, PUBLIC-RULE\n",
}


def test_notes_marked_private_in_any_form_are_never_served(tmp_path: Path) -> None:
    notes = write_notes(tmp_path / "notes", PRIVATE)
    index = NotesIndex.open(tmp_path / "data", HashEmbedder())
    server = ApiServer(create_app(index, ApiConfig(), token=lambda: TOKEN), port=0)
    try:
        index.sync([notes])
        server.start()
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"}) as http:
            def found(word: str) -> bool:
                answer = http.post("/query", json={"queries": [{"query": word, "mode": "keyword", "top_k": 20}]})
                return any(word in r["text"] for r in answer.json()["results"][0]["results"])

            leaked = [word for word in ("SECRET-ONE", "SECRET-ON", "SECRET-QUOTED", "SECRET-LIST", "SECRET-UNCLOSED",
                                        "SECRET-BROKEN", "SECRET-TXT", "SECRET-ORG") if found(word)]
            assert leaked == []
            assert found("PUBLIC-NOTE") and found("PUBLIC-NO") and found("PUBLIC-RULE")
    finally:
        server.stop()
        index.close()
