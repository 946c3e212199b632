"""The terminal progress bar's words."""

from __future__ import annotations

from notewell.app.progress import PREPARING, progress_label
from notewell.indexer.types import Progress


def test_the_bar_names_the_folder_being_read() -> None:
    assert progress_label(Progress("reading", "/home/me/notes", 10, 200)) == "Reading /home/me/notes"


def test_embedding_that_waits_for_the_first_run_model_preparation_says_why() -> None:
    # The model's one-time preparation takes ~15 s during which "Embedding 0/1,200" would look stuck.
    assert progress_label(Progress("embedding", None, 0, 1200), preparing=True) == PREPARING
    assert "first run only" in PREPARING
    assert progress_label(Progress("embedding", None, 64, 1200), preparing=False) == "Embedding"
    assert progress_label(Progress("embedding", None, 0, 1200), preparing=False) == "Embedding"


def test_tidying_the_vector_store_is_explained() -> None:
    message = "Tidying the vector store after many edits (about 6 s)…"
    assert progress_label(Progress("tidying", None, 0, 0, message)) == message
