"""The desktop app built for real (index, uvicorn on a free port, files) with HashEmbedder."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import pytest

pytest.importorskip(
    "PySide6.QtWidgets",
    reason="Qt needs system libraries: apt-get install libegl1 libgl1 libfontconfig1 libxkbcommon0 "
    "libglib2.0-0 libdbus-1-3",
    exc_type=ImportError,
)

from notewell.app.gui.app import Desktop, build_desktop  # noqa: E402
from notewell.app.preferences import Preferences  # noqa: E402
from notewell.app.settings import Settings  # noqa: E402
from notewell.indexer.embedding import HashEmbedder  # noqa: E402
from tests.helpers import write_notes  # noqa: E402

NOTES = {
    "git.md": "# Git\n\n## Undo\n\nUse git revert to undo a pushed commit safely.\n",
    "bread.md": "# Sourdough\n\nFeed the starter, then mix flour and water.\n",
    "trips/hike.md": "# Hiking\n\nPack water, a map and a rain jacket for the ridge walk.\n",
    "broken.pdf": "this is not a PDF at all",
}
DesktopFactory = Callable[..., Desktop]


@pytest.fixture
def notes(tmp_path: Path) -> Path:
    return write_notes(tmp_path / "notes", NOTES)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    root.mkdir()
    return root


@pytest.fixture
def make_desktop(qtbot, data_dir: Path) -> Iterator[DesktopFactory]:
    built: list[Desktop] = []

    def make(folders: list[Path] = (), start: bool = True, **options: object) -> Desktop:
        settings = Settings.load(data_dir)
        settings.port = 0
        settings.add_folders(list(folders))
        settings.save(data_dir)
        options.setdefault("tray_available", False)
        options.setdefault("watch", False)
        options.setdefault("vectors_in_child", False)  # fast; the responsiveness test uses the child
        options.setdefault("embedder", HashEmbedder())
        desktop = build_desktop(Preferences(settings, data_dir), **options)  # type: ignore[arg-type]
        qtbot.addWidget(desktop.window)
        built.append(desktop)
        desktop.window.show()
        if start:
            desktop.start()
        return desktop

    yield make
    for desktop in built:
        desktop.shutdown()


def wait_ready(qtbot, desktop: Desktop, timeout: int = 20_000) -> None:
    """The index is up to date and the local server answers."""
    qtbot.waitUntil(
        lambda: desktop.indexing.state == "idle" and desktop.sharing.server_state.state == "running",
        timeout=timeout,
    )
