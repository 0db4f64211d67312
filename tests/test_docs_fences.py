"""The docs' code fences follow the convention that lets the suite run them.

pytest-markdown-docs (``--markdown-docs`` in pyproject.toml, with README.md
and docs/ among the test paths) executes every ```python fence. This file
checks what that plugin cannot:

- every fence names a language we know, so nothing is silently skipped for
  want of a tag (````` ``` ````` alone, or a typo such as ``pyhton``);
- a Python fence that must not run is ```python notest and carries a
  one-line ``<!-- notest: why -->`` comment just above it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PYTHON = {"python", "py", "python3"}
# Languages that are shown, never run: shell sessions, data, protocol text.
SHOWN = {"bash", "sh", "console", "shell", "json", "jsonc", "text", "http", "csv", "toml", "ini",
         "yaml", "html", "diff", "xml"}
NOTEST_REASON = re.compile(r"^<!-- notest: \S.* -->$")


def fences(page: Path) -> list[tuple[int, list[str]]]:
    """(1-based line of the opening fence, its info words) for each fence of ``page``."""
    tokens = MarkdownIt("commonmark").parse(page.read_text(encoding="utf-8"))
    return [
        (token.map[0] + 1, token.info.split())
        for token in tokens
        if token.type == "fence" and token.map is not None
    ]


def ids(pages: list[Path]) -> list[str]:
    return [str(page.relative_to(ROOT)) for page in pages]


@pytest.mark.parametrize("page", PAGES, ids=ids(PAGES))
def test_every_fence_names_a_known_language(page: Path) -> None:
    unknown = [
        f"{page.name}:{line}: {' '.join(info) or '(no language)'}"
        for line, info in fences(page)
        if not info or info[0] not in PYTHON | SHOWN
    ]
    assert unknown == [], "tag each fence: ```python, ```bash, ```json, ```text ..."


@pytest.mark.parametrize("page", PAGES, ids=ids(PAGES))
def test_every_notest_fence_says_why_just_above(page: Path) -> None:
    lines = page.read_text(encoding="utf-8").splitlines()
    unexplained = [
        f"{page.name}:{line}"
        for line, info in fences(page)
        if info and info[0] in PYTHON and "notest" in info[1:]
        and not (line >= 2 and NOTEST_REASON.match(lines[line - 2].strip()))
    ]
    assert unexplained == [], "put <!-- notest: reason --> on the line above each notest fence"


def test_the_checks_catch_what_they_claim(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "```\nbare\n```\n\n<!-- notest: needs a phone -->\n```python notest\nx\n```\n\n"
        "```python notest\ny\n```\n",
        encoding="utf-8",
    )
    found = fences(page)
    assert [info for _, info in found] == [[], ["python", "notest"], ["python", "notest"]]
    lines = page.read_text(encoding="utf-8").splitlines()
    assert NOTEST_REASON.match(lines[found[1][0] - 2])
    assert not NOTEST_REASON.match(lines[found[2][0] - 2])


def test_the_front_page_has_runnable_python() -> None:
    runnable = [info for _, info in fences(ROOT / "README.md") if info and info[0] == "python"
                and "notest" not in info]
    assert len(runnable) >= 5
