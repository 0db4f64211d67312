"""The README's Python snippets run, so the front page cannot rot."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
# Blocks that are pytest test functions (they need fixtures) are exercised by
# examples/test_privacy_example.py instead.
RUNNABLE = [b for b in BLOCKS if not b.lstrip().startswith("def test_")]


def test_readme_has_runnable_snippets() -> None:
    assert len(RUNNABLE) >= 4


@pytest.mark.parametrize("block", RUNNABLE, ids=[f"block{i}" for i in range(len(RUNNABLE))])
def test_readme_snippet_runs(block: str) -> None:
    exec(compile(block, str(README), "exec"), {})
