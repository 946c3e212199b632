import base64
import random
import re

import pytest

from notewell.indexer.chunking import chunk_document, embedding_text
from notewell.indexer.embedding import HashEmbedder, SentenceTransformerEmbedder
from notewell.indexer.types import ChunkDraft, NoteDocument

HASH = HashEmbedder(max_tokens=128)


def chunk(text: str, *, title: str = "Note", kind: str = "markdown", first_line: int = 1,
          max_tokens: int = 128, target: int = 160, count=HASH.count_tokens) -> list[ChunkDraft]:
    doc = NoteDocument(title=title, text=text, kind=kind, first_line=first_line)  # type: ignore[arg-type]
    return chunk_document(doc, count_tokens=count, max_tokens=max_tokens, target_tokens=target)


def check_invariants(doc_text: str, chunks: list[ChunkDraft], *, title: str, count, max_tokens: int,
                     first_line: int = 1) -> None:
    """Every chunk fits, is non-empty, and its line span holds its text."""
    lines = doc_text.split("\n")
    for c in chunks:
        assert c.text.strip()
        assert count(embedding_text(title, c.heading, c.text)) <= max_tokens
        span = "\n".join(line.rstrip() for line in lines[c.start_line - first_line : c.end_line - first_line + 1])
        assert c.text in span
        assert c.text.split("\n")[0].strip() in lines[c.start_line - first_line]
        assert c.text.split("\n")[-1].strip() in lines[c.end_line - first_line]


@pytest.fixture(scope="module")
def real() -> SentenceTransformerEmbedder:
    embedder = SentenceTransformerEmbedder()
    embedder.max_tokens  # loads the tokenizer only
    return embedder


@pytest.mark.parametrize(
    ("title", "heading", "text", "expected"),
    [
        ("Tar", "Usage > Extract", "tar xf a.tar", "Tar\nUsage > Extract\ntar xf a.tar"),
        ("Tar", "", "tar xf a.tar", "Tar\ntar xf a.tar"),
        ("", "", "just text", "just text"),
        ("Tar", "Tar", "x", "Tar\nx"),
        ("Tar", "Tar > Extract", "x", "Tar\nExtract\nx"),
        ("  Tar ", "  ", "x", "Tar\nx"),
    ],
)
def test_embedding_text(title: str, heading: str, text: str, expected: str) -> None:
    assert embedding_text(title, heading, text) == expected


HEADINGS = """\
Intro before any heading.

# Setup

Install it.

## Windows

Run the installer.

```bash
# not a heading, a shell comment
echo hi
```

### Proxy

Set HTTPS_PROXY.

## Linux
### Debian

Use apt.

# Usage
#hashtag is not a heading either.
"""


def test_heading_paths() -> None:
    assert [(c.heading, c.text.split("\n")[0]) for c in chunk(HEADINGS)] == [
        ("", "Intro before any heading."),
        ("Setup", "Install it."),
        ("Setup > Windows", "Run the installer."),
        ("Setup > Windows > Proxy", "Set HTTPS_PROXY."),
        # "Linux" has no body of its own: no chunk for it.
        ("Setup > Linux > Debian", "Use apt."),
        ("Usage", "#hashtag is not a heading either."),
    ]


def test_code_fence_comment_stays_in_its_section() -> None:
    windows = [c for c in chunk(HEADINGS) if c.heading == "Setup > Windows"]
    assert windows[0].text == (
        "Run the installer.\n\n```bash\n# not a heading, a shell comment\necho hi\n```"
    )


@pytest.mark.parametrize(
    ("text", "headings"),
    [
        ("# A\n## B\n### C\nbody", ["A > B > C"]),
        ("## B\nx\n# A\ny\n### C\nz", ["B", "A", "A > C"]),
        ("# A ##\nx", ["A"]),  # closing hashes are not part of the heading
        ("# C#\nx", ["C#"]),
        ("   # Indented\nx", ["Indented"]),
        ("~~~\n# in tilde fence\n~~~\n# Real\nx", ["", "Real"]),
        ("```\n# unclosed fence runs to the end\n# still code", [""]),
        ("- item\n  ```\n  # in a fenced block inside a list\n  ```\n- next", [""]),
    ],
)
def test_heading_table(text: str, headings: list[str]) -> None:
    assert [c.heading for c in chunk(text)] == headings


FRONTMATTER = "---\ntitle: Trip\ntags: [travel]\n---\n"
BODY = """\
# Packing

- passport
- charger

  still the charger item

- socks

## Tickets

Train at 9:40.
Seat 42.
"""


def test_line_spans_point_into_the_file() -> None:
    chunks = chunk(BODY, first_line=5)
    file_lines = (FRONTMATTER + BODY).split("\n")
    assert [(c.heading, c.start_line, c.end_line) for c in chunks] == [
        ("Packing", 7, 12),
        ("Packing > Tickets", 16, 17),
    ]
    for c in chunks:
        assert c.text == "\n".join(file_lines[c.start_line - 1 : c.end_line])


def test_crlf_line_endings_keep_line_numbers() -> None:
    chunks = chunk(BODY.replace("\n", "\r\n"), first_line=5)
    assert [(c.start_line, c.end_line) for c in chunks] == [(7, 12), (16, 17)]
    assert "\r" not in chunks[0].text


def words(n: int, seed: str) -> str:
    return " ".join(f"{seed}{i}" for i in range(n))


def test_small_blocks_pack_into_one_chunk() -> None:
    text = f"{words(10, 'a')}.\n\n- {words(5, 'b')}\n- {words(5, 'c')}\n\n> {words(10, 'd')}"
    chunks = chunk(text)
    assert len(chunks) == 1
    assert chunks[0].text == text
    assert (chunks[0].start_line, chunks[0].end_line) == (1, 6)


def test_paragraphs_pack_up_to_target_and_never_split_inside() -> None:
    paragraphs = [words(12, f"p{i}x") + "." for i in range(20)]
    text = "\n\n".join(paragraphs)
    chunks = chunk(text, target=40)
    assert 5 <= len(chunks) <= 10
    for c in chunks:
        assert HASH.count_tokens(embedding_text("Note", "", c.text)) <= 50  # soft target
        assert all(p in paragraphs for p in c.text.split("\n\n"))
    assert "\n\n".join(c.text for c in chunks) == text


def test_list_stays_whole_when_it_fits() -> None:
    items = "\n\n".join(f"- {words(6, f'i{i}x')}" for i in range(6))
    text = f"{words(40, 'intro')}.\n\n{items}"
    chunks = chunk(text, target=50)
    assert [c.text for c in chunks] == [f"{words(40, 'intro')}.", items]


def test_sections_are_never_merged() -> None:
    chunks = chunk("# A\none\n# B\ntwo\n## C\nthree")
    assert [(c.heading, c.text) for c in chunks] == [("A", "one"), ("B", "two"), ("B > C", "three")]


def test_intro_line_stays_with_what_follows() -> None:
    pairs = [f"- {words(8, f'd{i}x')}:\n\n`cmd{i} {words(8, f'o{i}x')}`" for i in range(8)]
    chunks = chunk("\n\n".join(pairs), target=60)
    assert len(chunks) > 1
    for c in chunks:
        assert not c.text.endswith(":")


def test_code_block_kept_whole_when_it_fits() -> None:
    code = "```python\n" + "\n".join(f"x{i} = compute({i})" for i in range(30)) + "\n```"
    text = f"Before.\n\n{code}\n\nAfter."
    chunks = chunk(text, target=40)
    assert code in [c.text for c in chunks]


def test_code_block_too_big_splits_on_lines() -> None:
    body = [f"value_{i} = other_{i} + {i}  # note {i}" for i in range(200)]
    text = "```python\n" + "\n".join(body) + "\n```"
    chunks = chunk(text)
    assert len(chunks) > 3
    assert all(c.heading == "" for c in chunks)  # "# note" comments are not headings
    for c in chunks:
        assert all(line in body or line.startswith("```") for line in c.text.split("\n"))
    check_invariants(text, chunks, title="Note", count=HASH.count_tokens, max_tokens=128)
    assert [line for c in chunks for line in c.text.split("\n")] == text.split("\n")


def test_long_paragraph_splits_by_sentences() -> None:
    sentences = [f"Sentence {i} says {words(9, f's{i}x')}." for i in range(60)]
    text = " ".join(sentences)
    chunks = chunk(text, target=60)
    assert len(chunks) > 5
    for c in chunks:
        assert c.text.endswith(".")
        assert c.start_line == c.end_line == 1
    assert " ".join(c.text for c in chunks) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", []),
        ("   \n\n\t\n", []),
        ("---", []),
        ("***\n\n___", []),
        ("<!-- generated TOC -->", []),
        ("Hello.", [("", "Hello.", 1, 1)]),
        ("\n\n  Hello.  \n\n", [("", "  Hello.", 3, 3)]),
        ("Hello.\n\n---\n\nWorld.", [("", "Hello.\n\n---\n\nWorld.", 1, 5)]),
        ("# Only a heading", [("", "# Only a heading", 1, 1)]),
        ("# Empty\n---\n## Sections", [("", "# Empty\n---\n## Sections", 1, 3)]),
    ],
)
def test_tiny_and_markup_only_documents(text: str, expected: list[tuple[str, str, int, int]]) -> None:
    assert [(c.heading, c.text, c.start_line, c.end_line) for c in chunk(text)] == expected


@pytest.mark.parametrize("kind", ["text", "html", "pdf"])
def test_other_kinds_have_no_headings(kind: str) -> None:
    text = "# not a heading here\n\nsecond paragraph\n\n```\nnot code either\n```"
    chunks = chunk(text, kind=kind)
    assert [(c.heading, c.text) for c in chunks] == [("", text)]


def test_same_input_same_output() -> None:
    text = HEADINGS * 20 + " ".join(f"Sentence {i} is here." for i in range(400))
    assert chunk(text, target=50) == chunk(text, target=50)


def test_hash_budget_with_tiny_max() -> None:
    text = "\n\n".join(words(30, f"w{i}x") + "." for i in range(10))
    chunks = chunk(text, title="Long title " * 5, max_tokens=20, target=20)
    check_invariants(text, chunks, title="Long title " * 5, count=HASH.count_tokens, max_tokens=20)
    assert " ".join(w for c in chunks for w in c.text.split()) == " ".join(text.split())


# --- the real tokenizer: the hard limit is in the model's own tokens ---------------------


@pytest.mark.slow
def test_long_english_paragraph_within_real_budget(real: SentenceTransformerEmbedder) -> None:
    sentence = "The quick brown fox jumps over the lazy dog near the riverbank at dawn! "
    text = "# Animals\n\n" + (sentence * 120).strip()
    chunks = chunk(text, title="Fox notes", max_tokens=real.max_tokens, count=real.count_tokens)
    assert len(chunks) > 5
    check_invariants(text, chunks, title="Fox notes", count=real.count_tokens, max_tokens=real.max_tokens)
    assert all(c.text.endswith("!") for c in chunks)
    assert all(c.heading == "Animals" for c in chunks)


@pytest.mark.slow
def test_long_chinese_paragraph_splits_on_its_punctuation(real: SentenceTransformerEmbedder) -> None:
    sentences = ["操作系统通过引入进程和线程使得程序能够并发运行。", "这是为什么呢？", "因为资源需要共享！",
                 "互斥共享的资源称为临界资源；", "例如打印机等……"]
    text = "".join(sentences[i % len(sentences)] for i in range(300))
    chunks = chunk(text, title="进程管理", max_tokens=real.max_tokens, count=real.count_tokens)
    assert len(chunks) > 5
    check_invariants(text, chunks, title="进程管理", count=real.count_tokens, max_tokens=real.max_tokens)
    assert all(c.text[-1] in "。！？；…" for c in chunks)
    assert "".join(c.text for c in chunks) == text


@pytest.mark.slow
@pytest.mark.parametrize("alphabet", ["letters", "base64"])
def test_single_line_without_spaces_is_cut_into_windows(real: SentenceTransformerEmbedder, alphabet: str) -> None:
    rng = random.Random(7)
    if alphabet == "letters":  # one WordPiece "word": counts as a single [UNK] token
        line = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(2_000_000))
    else:  # a minified blob: many tokens per character
        line = base64.b64encode(rng.randbytes(240_000)).decode()  # smaller: ~1.5 chars a token
    text = f"Before.\n\n{line}\n\nAfter."
    chunks = chunk(text, title="Blob", max_tokens=real.max_tokens, count=real.count_tokens)
    assert len(chunks) > 100
    assert re.sub(r"\s", "", "".join(c.text for c in chunks)) == f"Before.{line}After."
    assert all(c.start_line == c.end_line == 3 for c in chunks[1:-1])
    for c in chunks:
        assert real.count_tokens(embedding_text("Blob", c.heading, c.text)) <= real.max_tokens


@pytest.mark.slow
def test_title_and_heading_count_against_budget(real: SentenceTransformerEmbedder) -> None:
    text = "# " + "Configuring the reverse proxy " * 10 + "\n\n" + ("Set the header and restart it. " * 200)
    short = chunk(text, title="Proxy", max_tokens=real.max_tokens, target=real.max_tokens, count=real.count_tokens)
    long_title = "A very long note title about reverse proxies " * 8
    long = chunk(text, title=long_title, max_tokens=real.max_tokens, target=real.max_tokens, count=real.count_tokens)
    assert len(long) > len(short)
    check_invariants(text, long, title=long_title, count=real.count_tokens, max_tokens=real.max_tokens)
    check_invariants(text, short, title="Proxy", count=real.count_tokens, max_tokens=real.max_tokens)
    assert max(real.count_tokens(c.text) for c in long) < real.max_tokens - 60


@pytest.mark.slow
def test_overlong_heading_path_is_shortened(real: SentenceTransformerEmbedder) -> None:
    text = "# " + "word " * 300 + "\n## Details\n\n" + "Some details here. " * 50
    chunks = chunk(text, title="T", max_tokens=real.max_tokens, count=real.count_tokens)
    assert chunks and all(c.heading == "Details" for c in chunks)
    check_invariants(text, chunks, title="T", count=real.count_tokens, max_tokens=real.max_tokens)


SAMPLE_NOTES = {
    "rsync": """\
# rsync

> Transfer files either to or from a remote host (but not between two remote hosts).
> More information: <https://download.samba.org/pub/rsync/rsync.1>.

- Transfer a file:

`rsync {{path/to/source}} {{path/to/destination}}`

- Use archive mode (recursively copy directories, copy symlinks without resolving, and preserve permissions, ownership and modification times):

`rsync {{[-a|--archive]}} {{path/to/source}} {{path/to/destination}}`

- Compress the data as it is sent to the destination, display verbose and human-readable progress, and keep partially transferred files if interrupted:

`rsync {{[-zvhP|--compress --verbose --human-readable --partial --progress]}} {{path/to/source}} {{path/to/destination}}`

- Recursively copy directories:

`rsync {{[-r|--recursive]}} {{path/to/source}} {{path/to/destination}}`

- Transfer directory contents, but not the directory itself:

`rsync {{[-r|--recursive]}} {{path/to/source}}/ {{path/to/destination}}`

- Use archive mode, resolve symlinks, and skip files that are newer on the destination:

`rsync {{[-auL|--archive --update --copy-links]}} {{path/to/source}} {{path/to/destination}}`
""",
    "进程调度": """\
# 进程调度
<!-- GFM-TOC -->
* [进程调度](#进程调度)
    * [批处理系统](#批处理系统)
<!-- GFM-TOC -->

## 批处理系统

批处理系统没有太多的用户操作，在该系统中，调度算法目标是保证吞吐量和周转时间（从提交到终止的时间）。

**1.1 先来先服务 first-come first-serverd（FCFS）**

非抢占式的调度算法，按照请求的顺序进行调度。有利于长作业，但不利于短作业，因为短作业必须一直等待前面的长作业执行完毕才能执行，而长作业又需要执行很长时间，造成了短作业等待时间过长。

**1.2 短作业优先 shortest job first（SJF）**

非抢占式的调度算法，按估计运行时间最短的顺序进行调度。长作业有可能会饿死，处于一直等待短作业执行完毕的状态。因为如果一直有短作业到来，那么长作业永远得不到调度。

```c
void schedule(struct task *tasks, int n) {
    // 按到达时间排序
    qsort(tasks, n, sizeof(struct task), by_arrival);
    for (int i = 0; i < n; i++) {
        run(&tasks[i]);
    }
}
```

---

## 交互式系统

交互式系统有大量的用户交互操作，在该系统中调度算法的目标是快速地进行响应。

| 算法 | 抢占 |
| --- | --- |
| 时间片轮转 | 是 |
| 优先级调度 | 是 |
""",
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SAMPLE_NOTES))
def test_real_notes_sample(real: SentenceTransformerEmbedder, name: str) -> None:
    text = SAMPLE_NOTES[name]
    chunks = chunk(text, title=name, max_tokens=real.max_tokens, count=real.count_tokens, first_line=3)
    assert chunks
    check_invariants(text, chunks, title=name, count=real.count_tokens, max_tokens=real.max_tokens,
                     first_line=3)
    indexed = "\n".join(c.text for c in chunks)
    body = re.sub(r"(?m)^#+ .*$|<!--.*?-->|^---$", "", text)
    assert set(re.findall(r"\w+", body)) <= set(re.findall(r"\w+", indexed))
    assert all(c.heading.startswith(name) for c in chunks)


def test_title_over_the_limit_still_indexes_everything() -> None:
    # No cut can make room for text; chunking must still end and lose nothing.
    text = "x" * 500 + " hello." * 30
    chunks = chunk(text, title="word " * 40, kind="text", max_tokens=20)
    assert "".join(c.text for c in chunks).replace(" ", "") == text.replace(" ", "")
