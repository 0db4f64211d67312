"""What importing every public name costs next to importing the SDK's runtime dependencies.

Goal (issue 25): a process that imports every public name of ``n2net_privacy``
takes at most 1.5x the time of a process that imports only its runtime
dependencies, as whole processes, in paired runs.

- *Every public name*: each name in ``__all__`` of the top level and of every
  public subpackage (recursively; a package whose name starts with ``_`` is
  private), resolved with ``getattr`` so lazy names load too. The names are
  discovered at run time, in a process of their own, so the list follows the
  package as it changes.
- *Its dependencies*: the distribution's runtime requirements (those without
  an ``extra`` marker), read from its metadata and imported by their top-level
  module names.
- Each side is a fresh ``python -c`` process, timed from start to exit. One
  pair is a bare interpreter, the dependencies and every public name, in an
  order that rotates from pair to pair; the figure is the ratio of the
  medians over ``PAIRS`` pairs. The same ratio with the bare interpreter's
  start-up taken off both sides, and the children's CPU time, are printed
  beside it, and for reference the top level's ``__all__`` alone (the app
  API) and a bare ``import n2net_privacy`` (issue 2's measure).

``python -m benchmarks import``
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import time

from benchmarks._goals import Goal, machine_load, print_goals

PAIRS = 11
TARGET_RATIO = 1.5
PACKAGE = "n2net_privacy"
DISTRIBUTION = "n2net-privacy"

_DISCOVER = """
import importlib, json, pkgutil, sys
def walk(name):
    module = importlib.import_module(name)
    found = [(name, sorted(getattr(module, "__all__", ())))]
    for info in pkgutil.iter_modules(getattr(module, "__path__", [])):
        if info.ispkg and not info.name.startswith("_"):
            found += walk(name + "." + info.name)
    return found
json.dump(walk(sys.argv[1]), sys.stdout)
"""

_DEPENDENCIES = """
import importlib.metadata as md, json, re, sys
mapping = md.packages_distributions()
wanted = set()
for requirement in md.requires(sys.argv[1]) or []:
    if "extra ==" in requirement:
        continue
    wanted.add(re.split(r"[\\s<>=!~;\\[]", requirement, maxsplit=1)[0].lower().replace("_", "-"))
modules = sorted(
    top for top, dists in mapping.items()
    if not top.startswith("_") and any(d.lower().replace("_", "-") in wanted for d in dists)
)
json.dump(modules, sys.stdout)
"""


def public_names(package: str = PACKAGE) -> list[tuple[str, list[str]]]:
    """(module, its ``__all__``) for the package and each public subpackage, found in a child."""
    out = subprocess.run([sys.executable, "-c", _DISCOVER, package], check=True,
                         capture_output=True, text=True).stdout
    return [(module, names) for module, names in json.loads(out)]


def dependency_modules(distribution: str = DISTRIBUTION) -> list[str]:
    """Top-level module names of the distribution's runtime requirements."""
    out = subprocess.run([sys.executable, "-c", _DEPENDENCIES, distribution], check=True,
                         capture_output=True, text=True).stdout
    modules: list[str] = json.loads(out)
    if not modules:
        raise RuntimeError(f"no runtime requirements found for {distribution}")
    return modules


def every_name_code(found: list[tuple[str, list[str]]]) -> str:
    """``python -c`` code that imports each module and resolves each of its public names."""
    return (
        "import importlib\n"
        f"for module, names in {found!r}:\n"
        "    loaded = importlib.import_module(module)\n"
        "    for name in names:\n"
        "        getattr(loaded, name)\n"
    )


def run_once(code: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one fresh interpreter running ``code``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def measure(pairs: int = PAIRS) -> dict[str, list[tuple[float, float]]]:
    found = public_names()
    deps = dependency_modules()
    codes = {
        "bare": "pass",
        "deps": "import " + ", ".join(deps),
        "every": every_name_code(found),
        "top": every_name_code(found[:1]),  # the app API alone: the top level's __all__
        "bare_import": f"import {PACKAGE}",  # issue 2's measure: lazy names left unloaded
    }
    subpackages = ", ".join(module for module, _ in found)
    print(f"dependencies: {', '.join(deps)}")
    print(f"every public name: {sum(len(n) for _, n in found)} names of {subpackages}")
    runs: dict[str, list[tuple[float, float]]] = {side: [] for side in codes}
    order = list(codes)
    for pair in range(pairs):
        if pair % 4 == 0:
            print(f"  pair {pair + 1}/{pairs}: {machine_load()}", flush=True)
        turn = pair % len(order)  # rotate: noise hits every side
        for side in order[turn:] + order[:turn]:
            runs[side].append(run_once(codes[side]))
    return runs


def main(pairs: int = PAIRS) -> None:
    runs = measure(pairs)
    wall = {side: statistics.median(w for w, _ in r) * 1000 for side, r in runs.items()}
    cpu = {side: statistics.median(c for _, c in r) * 1000 for side, r in runs.items()}
    print(f"median of {pairs} paired runs, whole processes (wall ms / CPU ms):")
    for side, label in (("bare", "bare interpreter"), ("deps", "runtime dependencies"),
                        ("every", "every public name"), ("top", "top level's __all__"),
                        ("bare_import", f"import {PACKAGE}")):
        print(f"  {label:22} {wall[side]:7.1f} ms wall  {cpu[side]:7.1f} ms CPU")
    start_off = (wall["every"] - wall["bare"]) / (wall["deps"] - wall["bare"])
    print(f"  ratio minus interpreter start-up: {start_off:.2f}x wall,"
          f" {(cpu['every'] - cpu['bare']) / (cpu['deps'] - cpu['bare']):.2f}x CPU;"
          f" whole processes: {cpu['every'] / cpu['deps']:.2f}x CPU;"
          f" the top level's names alone: {wall['top'] / wall['deps']:.2f}x wall;"
          f" import {PACKAGE} alone: {wall['bare_import'] / wall['deps']:.2f}x wall")
    print_goals([Goal("import of every public name / its dependencies",
                      wall["every"] / wall["deps"], TARGET_RATIO, "<=", "x",
                      f"whole processes, wall, median of {pairs} paired runs")])


if __name__ == "__main__":
    main()

