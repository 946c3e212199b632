"""How "auto" decides which model the notes need (issue 16): from the notes themselves."""

from __future__ import annotations

from pathlib import Path

from notewell.app.services import auto_model, make_embedder
from notewell.app.settings import Settings
from notewell.indexer.embedding import DEFAULT_MODEL, HashEmbedder
from notewell.indexer.language_mix import sample_notes
from notewell.indexer.multilingual import MULTILINGUAL_MODEL
from notewell.indexer.notes_index import NotesIndex
from tests.helpers import write_notes

ENGLISH = {f"en/note{i:03}.md": f"# Meeting {i}\n\nWe moved the budget review to Thursday, item {i}.\n" for i in range(60)}
CHINESE = {f"zh/笔记{i:02}.md": f"# 会议 {i}\n\n预算评审改到周四，第 {i} 项。用 git push 推送分支。\n" for i in range(12)}


def test_english_notes_keep_the_english_model(tmp_path: Path) -> None:
    notes = write_notes(tmp_path / "notes", ENGLISH)
    assert auto_model(Settings(folders=[str(notes)]), tmp_path / "data") == DEFAULT_MODEL


def test_a_folder_of_chinese_notes_gets_the_multilingual_model(tmp_path: Path) -> None:
    notes = write_notes(tmp_path / "notes", {**ENGLISH, **CHINESE})
    mix = sample_notes([notes])
    assert (mix.sampled, mix.cjk_notes) == (72, 12)
    assert auto_model(Settings(folders=[str(notes)]), tmp_path / "data") == MULTILINGUAL_MODEL


def test_a_few_chinese_notes_among_many_english_ones_do_not_slow_the_rest(tmp_path: Path) -> None:
    """Two Chinese notes in a folder of sixty English ones: still found by their words, and
    the other sixty keep the faster English model."""
    notes = write_notes(tmp_path / "notes", {**ENGLISH, **dict(list(CHINESE.items())[:2])})
    assert auto_model(Settings(folders=[str(notes)]), tmp_path / "data") == DEFAULT_MODEL


def test_notes_the_ignore_rules_skip_do_not_count(tmp_path: Path) -> None:
    notes = write_notes(tmp_path / "notes", {**ENGLISH, **CHINESE, ".notewellignore": "zh/\n"})
    assert auto_model(Settings(folders=[str(notes)]), tmp_path / "data") == DEFAULT_MODEL


def test_chinese_notes_in_gbk_html_or_pdf_count_as_chinese(tmp_path: Path) -> None:
    """Chinese notes that are not UTF-8 Markdown: GBK-encoded text (a long one, whose sampled
    head ends inside a character), web pages, and PDFs (their first pages are read)."""
    lines = "会议纪要：预算评审改到周四。\n"
    files = {**ENGLISH}
    for i in range(4):
        files[f"gbk/note{i}.txt"] = ("#" + lines * 1500).encode("gb18030")  # byte 16383 starts a character
        files[f"web/page{i}.html"] = f"<html><head><title>page {i}</title></head><body><p>{lines * 3}</p></body></html>"
        files[f"pdf/doc{i}.pdf"] = make_cjk_pdf(["会议纪要：预算评审改到周四", "用 git push 推送分支"])
    notes = write_notes(tmp_path / "notes", files)
    mix = sample_notes([notes])
    assert (mix.sampled, mix.cjk_notes) == (72, 12)
    assert auto_model(Settings(folders=[str(notes)]), tmp_path / "data") == MULTILINGUAL_MODEL


def make_cjk_pdf(lines: list[str]) -> bytes:
    """A real PDF whose text is Chinese (a CID font with a ToUnicode map, as CJK PDFs have)."""
    cmap = (b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap "
            b"/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def "
            b"/CMapName /Adobe-Identity-UCS def /CMapType 2 def "
            b"1 begincodespacerange <0000> <FFFF> endcodespacerange "
            b"1 beginbfrange <0000> <FFFF> <0000> endbfrange "
            b"endcmap CMapName currentdict /CMap defineresource pop end end")
    text = " ".join(f"<{line.encode('utf-16-be').hex()}> Tj T*" for line in lines)
    stream = f"BT /F1 12 Tf 72 720 Td 14 TL {text} ET".encode()
    objects = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
        3: b"<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /Identity-H /DescendantFonts [6 0 R] /ToUnicode 7 0 R >>",
        4: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents 5 0 R >>",
        5: b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        6: b"<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> >>",
        7: b"<< /Length %d >>\nstream\n%s\nendstream" % (len(cmap), cmap),
    }
    out = bytearray(b"%PDF-1.4\n"); offsets = {}
    for n in sorted(objects):
        offsets[n] = len(out); out += b"%d 0 obj\n%s\nendobj\n" % (n, objects[n])
    xref = len(out); size = len(objects) + 1
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    out += b"".join(b"%010d 00000 n \n" % offsets[n] for n in range(1, size))
    out += f"trailer\n<< /Size {size} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def _index_with(data: Path, notes: Path, name: str) -> None:
    class Named(HashEmbedder):
        @property
        def name(self) -> str:
            return name

    index = NotesIndex.open(data, Named())
    index.sync([notes])
    index.close()


def test_an_index_on_the_multilingual_model_keeps_it(tmp_path: Path) -> None:
    """Once Chinese notes were embedded by meaning, removing them does not flip the model back
    (and re-embed everything) only to flip again when the next Chinese note comes."""
    english = write_notes(tmp_path / "en", ENGLISH)
    _index_with(tmp_path / "data", english, f"{MULTILINGUAL_MODEL}: multilingual-e5-small (int8) + use-multilingual-v3 (0.70)")
    assert auto_model(Settings(folders=[str(english)]), tmp_path / "data") == MULTILINGUAL_MODEL


def test_a_search_uses_the_model_the_index_was_embedded_with(tmp_path: Path) -> None:
    """`notewell search` beside an index not yet re-embedded for new Chinese notes asks with the
    index's own model, so its question's vector matches the index's (the writer switches)."""
    notes = write_notes(tmp_path / "notes", ENGLISH)
    _index_with(tmp_path / "data", notes, f"{DEFAULT_MODEL} (int8)")
    write_notes(notes, CHINESE)
    settings = Settings(folders=[str(notes)])
    assert auto_model(settings, tmp_path / "data", writing=False) == DEFAULT_MODEL
    assert auto_model(settings, tmp_path / "data", writing=True) == MULTILINGUAL_MODEL
    assert make_embedder(settings, tmp_path / "data", writing=False).name == f"{DEFAULT_MODEL} (int8)"


def test_adding_a_folder_of_chinese_notes_switches_to_the_multilingual_model(
    tmp_path: Path, e5_embedder  # type: ignore[no-untyped-def]
) -> None:
    """A person with English notes adds a folder of Chinese ones: with "auto", every note is
    embedded again by the multilingual model (keywords answering meanwhile), and then an
    English question finds the Chinese note by meaning. (`e5_embedder`: the session's export.)"""
    from notewell.app.preferences import Preferences
    from notewell.app.runtime import Runtime, RuntimeOptions
    from tests.app.test_runtime import Heard
    from tests.helpers import finishes, wait_until

    english = write_notes(tmp_path / "en", dict(list(ENGLISH.items())[:10]))
    chinese = write_notes(tmp_path / "zh", {
        "解压.md": "# 解压文件\n\n解压 tar.gz 压缩包：tar -xzf 文件名.tar.gz。",
        "面包.md": "# 做面包\n\n面粉、水和盐揉成面团，发酵一夜，第二天放进烤箱烤四十分钟。",
        "登录.md": "# 免密码登录\n\n用 ssh-keygen 生成密钥，再用 ssh-copy-id 复制到服务器。",
    })
    data = tmp_path / "data"
    Settings(folders=[str(english)], port=0).save(data)
    prefs = Preferences(Settings.load(data), data)
    runtime = Runtime(prefs, RuntimeOptions(share=False, watch=False), Heard())
    prefs.subscribe(runtime.settings_changed)
    runtime.start()
    try:
        worker = runtime.indexing.worker
        assert wait_until(lambda: worker.index is not None and worker.wait_idle(0), 120)
        assert worker.index.embedder.name == f"{DEFAULT_MODEL} (int8)"
        prefs.add_folder(chinese)
        assert wait_until(lambda: worker.index.embedder.name.startswith(f"{MULTILINGUAL_MODEL}:"), 120)
        assert worker.wait_idle(180)
        assert worker.index.catalog.count_pending() == 0
        top = worker.index.search("how do I bake bread", k=3, mode="dense")[0]
        assert top.path == "面包.md"
    finally:
        assert finishes(runtime.close, 20)


def test_chinese_notes_arriving_in_a_watched_folder_switch_the_model_at_the_next_catch_up(
    tmp_path: Path, e5_embedder  # type: ignore[no-untyped-def]
) -> None:
    """Chinese notes saved into a folder of English ones while the app runs: the next catch-up
    with the disk sees them and the index turns multilingual, without a restart."""
    from notewell.app.preferences import Preferences
    from notewell.app.runtime import Runtime, RuntimeOptions
    from tests.app.test_runtime import Heard
    from tests.helpers import finishes, wait_until

    notes = write_notes(tmp_path / "notes", dict(list(ENGLISH.items())[:10]))
    data = tmp_path / "data"
    Settings(folders=[str(notes)], port=0, catch_up_minutes=0.02).save(data)
    prefs = Preferences(Settings.load(data), data)
    runtime = Runtime(prefs, RuntimeOptions(share=False, watch=False), Heard())
    runtime.start()
    try:
        worker = runtime.indexing.worker
        assert wait_until(lambda: worker.index is not None and worker.wait_idle(0), 120)
        assert worker.index.embedder.name == f"{DEFAULT_MODEL} (int8)"
        write_notes(notes, {"面包.md": "# 做面包\n\n面粉、水和盐揉成面团，发酵一夜，第二天烤四十分钟。",
                            "解压.md": "# 解压文件\n\n解压 tar.gz 压缩包：tar -xzf 文件名.tar.gz。",
                            "登录.md": "# 免密码登录\n\n用 ssh-keygen 生成密钥，再复制到服务器。"})
        assert wait_until(lambda: worker.index.embedder.name.startswith(f"{MULTILINGUAL_MODEL}:"), 120)
        assert worker.wait_idle(180)
        assert worker.index.search("how do I bake bread", k=3, mode="dense")[0].path == "面包.md"
    finally:
        assert finishes(runtime.close, 20)


def test_the_model_names_notewell_knows_are_read_whatever_their_case(tmp_path: Path) -> None:
    """"Auto" in settings.json was taken for a Hugging Face model name: the vectors were dropped
    and the download failed (review of #16)."""
    notes = write_notes(tmp_path / "notes", ENGLISH)
    embedder = make_embedder(Settings(model=" Auto ", folders=[str(notes)]), tmp_path / "data")
    assert embedder.name == f"{DEFAULT_MODEL} (int8)"


def test_auto_after_a_single_multilingual_model_chosen_by_name_decides_afresh(tmp_path: Path) -> None:
    """Someone tried USE alone, then went back to auto: auto picks the better pair for their
    Chinese notes instead of keeping USE for good (review of #16)."""
    notes = write_notes(tmp_path / "notes", {**ENGLISH, **CHINESE})
    _index_with(tmp_path / "data", notes, "use-multilingual-v3")
    assert auto_model(Settings(folders=[str(notes)]), tmp_path / "data") == MULTILINGUAL_MODEL
    assert auto_model(Settings(folders=[str(notes)]), tmp_path / "data", writing=False) == "use-multilingual-v3"


def test_the_recorded_model_is_read_from_a_relative_data_dir(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Review of #16: a relative data dir raised ValueError (a relative path has no file URI)."""
    from notewell.indexer.notes_index import recorded_model

    _index_with(tmp_path / "data", write_notes(tmp_path / "notes", ENGLISH), f"{DEFAULT_MODEL} (int8)")
    monkeypatch.chdir(tmp_path)
    assert recorded_model(Path("data")) == f"{DEFAULT_MODEL} (int8)"


def _version_1_settings(data: Path, notes: Path) -> None:
    """A settings.json from before settings_version: every field, the old default model pinned."""
    import json
    from dataclasses import asdict

    data.mkdir(parents=True, exist_ok=True)
    raw = {**asdict(Settings()), "model": DEFAULT_MODEL, "folders": [str(notes)], "port": 0}
    (data / "settings.json").write_text(json.dumps(raw, indent=2))


def test_an_upgraded_index_of_english_notes_keeps_the_english_model(tmp_path: Path) -> None:
    """The settings now read "auto"; the notes are English, so nothing is embedded again."""
    notes = write_notes(tmp_path / "notes", ENGLISH)
    data = tmp_path / "data"
    _index_with(data, notes, f"{DEFAULT_MODEL} (int8)")
    _version_1_settings(data, notes)
    assert make_embedder(Settings.load(data), data).name == f"{DEFAULT_MODEL} (int8)"


def test_an_upgraded_index_of_chinese_notes_is_embedded_again_at_the_next_start(
    tmp_path: Path, e5_embedder  # type: ignore[no-untyped-def]
) -> None:
    """Chinese notes embedded by the English model (the old pinned default): the first start after
    the upgrade embeds them again with the multilingual model, saying so, and a search answers
    from keywords while it does."""
    import threading

    from notewell.app.preferences import Preferences
    from notewell.app.runtime import Runtime, RuntimeOptions
    from tests.helpers import finishes, wait_until

    notes = write_notes(tmp_path / "notes", {
        **dict(list(ENGLISH.items())[:20]), **CHINESE,
        "zh/时区.md": "# 修改时区\n\n在 Windows 上用 tzutil /s 设置时区。",
    })
    data = tmp_path / "data"
    _index_with(data, notes, f"{DEFAULT_MODEL} (int8)")
    _version_1_settings(data, notes)

    class Events:
        def __init__(self) -> None:
            self.messages: list[str] = []
            self.answered: list[str] = []

        def index_state(self, state: str, message: str) -> None:
            self.messages.append(f"{state}: {message}")
            if state == "embedding" and not self.answered:  # the writer waits while another thread asks
                asking = threading.Thread(target=lambda: self.answered.extend(
                    r.path for r in runtime.indexing.search("tzutil", k=1)))
                asking.start()
                asking.join(10)

        def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
            return lambda *args, **kwargs: None

    events = Events()
    runtime = Runtime(Preferences(Settings.load(data), data), RuntimeOptions(share=False, watch=False), events)
    runtime.start()
    try:
        worker = runtime.indexing.worker
        assert wait_until(lambda: worker.index is not None, 120)
        assert worker.index.embedder.name.startswith(f"{MULTILINGUAL_MODEL}:")
        assert worker.wait_idle(180)
        assert worker.index.catalog.count_pending() == 0
        assert any(m.startswith("embedding: ") for m in events.messages)
        assert events.answered == ["zh/时区.md"]
    finally:
        assert finishes(runtime.close, 20)


def test_model_choice_reads_the_notes_only_for_auto(tmp_path: Path) -> None:
    """What doctor prints and Settings shows: with auto, the sample that decided; a model chosen
    by name needs no reason (and no notes read)."""
    from notewell.app.services import model_choice

    notes = write_notes(tmp_path / "notes", {**ENGLISH, **CHINESE})
    pair = f"{MULTILINGUAL_MODEL}: multilingual-e5-small (int8) + use-multilingual-v3 (0.70)"
    auto = model_choice(Settings(), pair, [notes])
    assert (auto.model, auto.label) == (MULTILINGUAL_MODEL, "multilingual-e5-small + USE")
    assert auto.why == "12 of 72 sampled notes are Chinese, Japanese or Korean"
    chosen = model_choice(Settings(model="Multilingual"), pair, [notes])
    assert chosen.mix is None and chosen.why == ""
