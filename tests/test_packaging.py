"""The wheel ships the built JavaScript bundles, so `pip install attnwidget` needs no Node.js."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_wheel_contains_the_views(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (wheel,) = tmp_path.glob("attnwidget-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for asset in ("widget.js", "widget.css", "compare.js", "compare.css"):
        assert f"attnwidget/static/{asset}" in names, f"{asset} is not in the wheel"
    assert not any(name.startswith(("tests/", "js/", "node_modules/")) for name in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "attnwidget = attnwidget.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
