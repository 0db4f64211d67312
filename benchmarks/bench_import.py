"""What importing every public name costs next to importing what it loads of its dependencies.

Goal (issue 25): a process that imports every public name of the library
takes at most 1.5x the time of a process that imports the same dependencies,
as whole processes, in paired runs. benchmarks/README.md ("bench_import")
gives the definition and why; in short:

- *Every public name* is the library an app imports: each name in
  ``__all__`` of the top level, of its public top-level modules (``runtime``,
  ``settings``, ``phone``, ...) and of every public subpackage, recursively
  (``audit``, ``consent``, ``contacts``, ``egress``, ``gravatar``,
  ``manifest``, ``ohttp``, ``permissions``, ``simulation``, ``uploader`` and
  its ``wire``, ``store``, ``send``, ...), resolved with ``getattr`` so lazy
  names load too. A name under ``_`` is private; an old path that warns on
  import (kept for one release) is not the surface. The tools, ``testing``,
  ``cli``, ``demo`` and ``scenario``, are not what an app imports: their
  figure is printed as information, outside the goal. The names are
  discovered at run time, in a process of their own.
- *The import of its dependencies* is a fresh process importing exactly the
  third-party modules the library side ended up loading: its
  ``sys.modules`` after every name was touched, kept where the module's
  top-level package belongs to a runtime requirement of the distribution
  or, transitively, of those (httpx, httpcore, h11, anyio, pydantic,
  pydantic_core, cryptography, cffi, phonenumbers, ...). ``import pydantic``
  alone loads almost nothing (its names are lazy), so a fixed ``import x``
  per requirement would understate what the dependencies cost.
- Both sides are fresh ``python -c`` processes, timed from start to exit,
  with compiled bytecode present for every module either side loads (the
  package and the dependencies are compiled first; the check is printed).
  One pair runs the two back to back, the first of them alternating from
  pair to pair; the goal is the ratio of the medians of wall time over
  ``PAIRS`` pairs, with the children's CPU time (user + sys) beside it.

``python -m benchmarks import``
"""

from __future__ import annotations

import compileall
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks._goals import Goal, machine_load, print_goals

PAIRS = 15
TARGET_RATIO = 1.5
PACKAGE = "n2net_privacy"
DISTRIBUTION = "n2net-privacy"
TOOLS = ("cli", "demo", "scenario", "testing")
"""Subpackages that are tools (the command, the demo, scenarios, the test kit), not the library."""

_DISCOVER = r"""
import importlib, json, pkgutil, sys, warnings
package, tools = sys.argv[1], set(sys.argv[2].split(","))
found = []

def load(name):
    # None for an old path kept for one release: it warns on import.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = importlib.import_module(name)
    if any(issubclass(w.category, DeprecationWarning) for w in caught):
        return None
    return module

def walk(name, tool, modules_too):
    module = load(name)
    if module is None:
        return
    found.append([name, sorted(getattr(module, "__all__", ())), tool])
    for info in pkgutil.iter_modules(getattr(module, "__path__", [])):
        if info.name.startswith("_"):
            continue
        if info.ispkg:
            walk(name + "." + info.name, tool or (modules_too and info.name in tools), False)
        elif modules_too and info.name not in tools:
            walk(name + "." + info.name, tool, False)

walk(package, False, True)
json.dump(found, sys.stdout)
"""

_REQUIREMENTS = r"""
import importlib.metadata as md, json, re, sys

def canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()

wanted, todo = set(), [sys.argv[1]]
while todo:
    for requirement in md.requires(todo.pop()) or []:
        if "extra ==" in requirement:
            continue
        name = canonical(re.split(r"[\s<>=!~;\[(]", requirement, maxsplit=1)[0])
        if name in wanted:
            continue
        wanted.add(name)
        try:
            md.distribution(name)
        except md.PackageNotFoundError:
            continue  # a marker that does not apply here
        todo.append(name)
tops = {top: sorted({canonical(d) for d in dists} & wanted)
        for top, dists in md.packages_distributions().items()}
json.dump({"distributions": sorted(wanted), "tops": {t: d for t, d in tops.items() if d}},
          sys.stdout)
"""

# Appended to the library side's code: what it loaded, and whether it had bytecode.
_PROBE = r"""
import json as _json, os as _os, sys as _sys
_tops = set(_json.loads(_sys.argv[1]))
_third, _uncompiled = [], []
for _name, _module in list(_sys.modules.items()):
    if _module is None:
        continue
    _top = _name.partition(".")[0]
    if _top in _tops:
        _third.append(_name)
    _spec = getattr(_module, "__spec__", None)
    _origin = getattr(_spec, "origin", None) or ""
    if _origin.endswith(".py") and (_top in _tops or _top == _sys.argv[2]):
        if not (_spec.cached and _os.path.exists(_spec.cached)):
            _uncompiled.append(_name)
_sys.stdout.write(_json.dumps({"third_party": _third, "uncompiled": _uncompiled}))
"""


def public_names(package: str = PACKAGE) -> list[tuple[str, list[str], bool]]:
    """(module, its ``__all__``, is a tool) for the package and its public modules, in a child."""
    out = _child_output(_DISCOVER, package, ",".join(TOOLS))
    return [(module, names, tool) for module, names, tool in json.loads(out)]


def requirement_tops(distribution: str = DISTRIBUTION) -> dict[str, list[str]]:
    """Top-level module name -> the runtime requirements (transitive) it belongs to."""
    found = json.loads(_child_output(_REQUIREMENTS, distribution))
    tops: dict[str, list[str]] = found["tops"]
    if not tops:
        raise RuntimeError(f"no runtime requirements found for {distribution}")
    return tops


def every_name_code(found: list[tuple[str, list[str]]]) -> str:
    """``python -c`` code that imports each module and resolves each of its public names."""
    return (
        "import importlib\n"
        f"for module, names in {found!r}:\n"
        "    loaded = importlib.import_module(module)\n"
        "    for name in names:\n"
        "        getattr(loaded, name)\n"
    )


def modules_code(modules: list[str]) -> str:
    """``python -c`` code that imports each of ``modules``, in order."""
    return f"import importlib\nfor module in {modules!r}:\n    importlib.import_module(module)\n"


def loaded_dependencies(
    library_code: str, tops: dict[str, list[str]]
) -> tuple[list[str], list[str]]:
    """(third-party modules the library side loads, modules it loaded without bytecode)."""
    out = _child_output(library_code + _PROBE, json.dumps(sorted(tops)), PACKAGE)
    probe = json.loads(out)
    return probe["third_party"], probe["uncompiled"]


def compile_bytecode(tops: dict[str, list[str]]) -> None:
    """Compile the package and the dependencies, so that neither side compiles source.

    ``PYTHONDONTWRITEBYTECODE`` may be set in the environment: an editable
    checkout would then compile the package from source in every child,
    while pip compiled the dependencies when it installed them.
    """
    import importlib.util

    roots = {Path(__file__).resolve().parent.parent / PACKAGE}
    for top in tops:
        spec = importlib.util.find_spec(top)
        if spec is not None and spec.submodule_search_locations:
            roots.update(Path(p) for p in spec.submodule_search_locations)
        elif spec is not None and spec.origin and spec.origin.endswith(".py"):
            compileall.compile_file(spec.origin, quiet=2)
    for root in sorted(roots):
        compileall.compile_dir(root, quiet=2)


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # the same for both sides: read and write bytecode
    return env


def _child_output(code: str, *args: str) -> str:
    return subprocess.run([sys.executable, "-c", code, *args], check=True, capture_output=True,
                          text=True, env=_child_env()).stdout


def run_once(code: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds: user + sys) of one fresh interpreter running ``code``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, env=_child_env())
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def slowest_modules(deps_code: str, library_code: str, count: int = 8) -> list[tuple[int, str]]:
    """The package modules with the largest self time under ``-X importtime``: (µs, name).

    The dependencies are imported first, so that a dependency a package module
    loads through ``importlib`` (pydantic's lazy names) is not in its self time.
    """
    code = deps_code + library_code
    err = subprocess.run([sys.executable, "-X", "importtime", "-c", code], check=True,
                         capture_output=True, text=True, env=_child_env()).stderr
    rows = []
    for line in err.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)", line)
        if match and match[2].startswith(PACKAGE):
            rows.append((int(match[1]), match[2]))
    return sorted(rows, reverse=True)[:count]


def measure(pairs: int = PAIRS) -> dict[str, list[tuple[float, float]]]:
    found = public_names()
    library = [(module, names) for module, names, tool in found if not tool]
    tools = [(module, names) for module, names, tool in found if tool]
    tops = requirement_tops()
    compile_bytecode(tops)
    library_code = every_name_code(library)
    third_party, uncompiled = loaded_dependencies(library_code, tops)
    deps_code = modules_code(third_party)
    _, deps_uncompiled = loaded_dependencies(deps_code, tops)
    codes = {
        "deps": deps_code,
        "library": library_code,
        # Information only, outside the goal:
        "bare": "pass",
        "with_tools": every_name_code(library + tools),
        "top": every_name_code(library[:1]),  # the top level's __all__ alone
        "bare_import": f"import {PACKAGE}",  # issue 2's measure: lazy names left unloaded
    }
    distributions = sorted({d for top in {m.partition(".")[0] for m in third_party}
                            for d in tops[top]})
    print(f"library: {sum(len(n) for _, n in library)} names of {len(library)} modules:"
          f" {', '.join(m for m, _ in library)}")
    print(f"tools (information, outside the goal): {sum(len(n) for _, n in tools)} names of"
          f" {', '.join(m for m, _ in tools)}")
    print(f"dependencies: the {len(third_party)} modules of {', '.join(distributions)}"
          " the library side loads")
    print(f"modules loaded without bytecode: library side {len(uncompiled)},"
          f" dependencies side {len(deps_uncompiled)}")
    for code in codes.values():  # warm-up: the page cache, and bytecode for any module without
        run_once(code)
    runs: dict[str, list[tuple[float, float]]] = {side: [] for side in codes}
    info = [side for side in codes if side not in ("deps", "library")]
    for pair in range(pairs):
        if pair % 5 == 0:
            print(f"  pair {pair + 1}/{pairs}: {machine_load()}", flush=True)
        first, second = ("deps", "library") if pair % 2 == 0 else ("library", "deps")
        turn = pair % len(info)
        for side in [first, second, *info[turn:], *info[:turn]]:
            runs[side].append(run_once(codes[side]))
    print("slowest package modules (self time, -X importtime, one run, dependencies loaded first):")
    for micros, name in slowest_modules(deps_code, library_code):
        print(f"  {micros / 1000:6.1f} ms  {name}")
    return runs


def main(pairs: int = PAIRS) -> None:
    runs = measure(pairs)
    wall = {side: statistics.median(w for w, _ in r) * 1000 for side, r in runs.items()}
    cpu = {side: statistics.median(c for _, c in r) * 1000 for side, r in runs.items()}
    paired = statistics.median(
        lib[0] / dep[0] for lib, dep in zip(runs["library"], runs["deps"], strict=True)
    )
    print(f"median of {pairs} paired runs, whole processes (wall ms / CPU ms, user + sys):")
    for side, label in (("deps", "dependencies"), ("library", "every public name"),
                        ("bare", "bare interpreter"), ("with_tools", "names + tools' names"),
                        ("top", "top level's __all__"), ("bare_import", f"import {PACKAGE}")):
        print(f"  {label:22} {wall[side]:7.1f} ms wall  {cpu[side]:7.1f} ms CPU")
    print(f"  every public name / dependencies: {wall['library'] / wall['deps']:.2f}x wall,"
          f" {cpu['library'] / cpu['deps']:.2f}x CPU (median of the per-pair wall ratios"
          f" {paired:.2f}x; minus the bare interpreter on both sides"
          f" {(wall['library'] - wall['bare']) / (wall['deps'] - wall['bare']):.2f}x wall)")
    print(f"  information: with the tools {wall['with_tools'] / wall['deps']:.2f}x wall;"
          f" the top level's names alone {wall['top'] / wall['deps']:.2f}x;"
          f" import {PACKAGE} alone {wall['bare_import'] / wall['deps']:.2f}x")
    print_goals([
        Goal("import of every public name / its dependencies",
             wall["library"] / wall["deps"], TARGET_RATIO, "<=", "x",
             f"whole processes, wall, median of {pairs} paired runs;"
             f" CPU {cpu['library'] / cpu['deps']:.2f}x"),
    ])


if __name__ == "__main__":
    main()
