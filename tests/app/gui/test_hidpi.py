"""HiDPI: on a 1920×1080 screen at 200 % (QT_SCALE_FACTOR=2, 960×540 logical) the window fits
and no button or label on any tab is cut."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

CHILD = Path(__file__).with_name("hidpi_child.py")


def test_every_tab_fits_at_200_percent(tmp_path: Path, notes: Path, data_dir: Path) -> None:
    config = tmp_path / "screen.json"
    config.write_text(json.dumps({"screens": [{"name": "hd", "x": 0, "y": 0, "width": 1920, "height": 1080,
                                               "logicalDpi": 96, "logicalBaseDpi": 96, "dpr": 1}]}))
    env = dict(os.environ, QT_SCALE_FACTOR="2", QT_QPA_PLATFORM="offscreen")
    done = subprocess.run([sys.executable, str(CHILD), str(config), str(data_dir), str(notes)], env=env,
                          capture_output=True, text=True, timeout=120, cwd=Path(__file__).parents[3])
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["ratio"] == 2.0 and report["screen"][0] <= 960
    assert report["checked"] > 30 and report["cut"] == []
