"""The docs' code fences follow the convention that lets the suite run them.

pytest-markdown-docs (``--markdown-docs`` in pyproject.toml, with README.md
and docs/ among the test paths) executes every ```python fence. This file
checks what that plugin cannot:

- every fence names a language we know, so nothing is silently skipped for
  want of a tag (````` ``` ````` alone, or a typo such as ``pyhton``);
- a Python fence that must not run is ```python notest and carries a
  one-line ``<!-- notest: why -->`` comment just above it;
- a fence that is a pytest test file (it defines ``test_*`` functions) works
  when copied into a file and run with pytest, as a reader would. The plugin
  cannot show this: it only defines such functions, and its ``fixture:NAME``
  tags inject fixtures as module globals, so the README's QA example once
  ended with a call that passed here and was a NameError in a copied file.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
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


def python_fences(page: Path) -> list[tuple[int, list[str], str]]:
    """(line, info words, code) of each Python fence of ``page``."""
    tokens = MarkdownIt("commonmark").parse(page.read_text(encoding="utf-8"))
    return [
        (token.map[0] + 1, token.info.split(), token.content)
        for token in tokens
        if token.type == "fence" and token.map is not None
        and token.info.split()[:1] and token.info.split()[0] in PYTHON
    ]


def defines_tests(code: str) -> bool:
    return any(
        isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test_")
        for node in ast.parse(code).body
    )


TEST_FILES = [
    pytest.param(code, id=f"{page.relative_to(ROOT)}:{line}")
    for page in PAGES
    for line, _, code in python_fences(page)
    if defines_tests(code)
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


@pytest.mark.parametrize("page", PAGES, ids=ids(PAGES))
def test_no_fence_borrows_fixtures_as_globals(page: Path) -> None:
    # A name injected with fixture:NAME exists here and nowhere a reader pastes the code.
    borrowing = [
        f"{page.name}:{line}"
        for line, info, _ in python_fences(page)
        if any(word.startswith("fixture:") for word in info)
    ]
    assert borrowing == [], "write a test function taking the fixtures, as a test file would"


@pytest.mark.parametrize("page", PAGES, ids=ids(PAGES))
def test_a_test_file_fence_is_not_run_half_way_by_the_plugin(page: Path) -> None:
    # The plugin would define the test functions and call none of them.
    half_run = [
        f"{page.name}:{line}"
        for line, info, code in python_fences(page)
        if defines_tests(code) and "notest" not in info
    ]
    assert half_run == [], "mark test-file fences notest: test_copied_test_file_passes runs them"


@pytest.mark.skipif(not TEST_FILES, reason="no fence in the docs is a test file")
@pytest.mark.parametrize("code", TEST_FILES)
def test_copied_test_file_passes(code: str, tmp_path: Path) -> None:
    (tmp_path / "test_copied.py").write_text(code, encoding="utf-8")
    # A fresh pytest in an empty directory: no conftest, no project options, only the
    # plugin that installing the package registers. Locust's plugin gevent-patches.
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:locust",
         "-W", "error", "test_copied.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"\b[1-9]\d* passed\b", result.stdout), result.stdout


def test_a_fence_that_defines_tests_is_recognised() -> None:
    assert defines_tests("import os\n\ndef test_x(tmp_path):\n    pass\n")
    assert not defines_tests("def helper():\n    pass\n\nhelper()\n")


def test_the_front_page_has_runnable_python() -> None:
    runnable = [info for _, info in fences(ROOT / "README.md") if info and info[0] == "python"
                and "notest" not in info]
    assert len(runnable) >= 5
