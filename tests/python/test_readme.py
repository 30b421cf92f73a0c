"""The README's Python tour runs as written."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_python_blocks_run(capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "README has no python example"
    plots = importlib.util.find_spec("matplotlib") is not None
    for block in blocks:
        if "plotting" in block and not plots:
            continue  # the plotting extra is optional; its tour needs it
        exec(compile(block, str(README), "exec"), {})
    assert "estimate" in capsys.readouterr().out
    if "matplotlib.pyplot" in sys.modules:  # the plotting tour opened figures
        sys.modules["matplotlib.pyplot"].close("all")
