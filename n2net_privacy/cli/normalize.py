"""``n2net-privacy normalize``: add E.164 columns to a CSV of phone numbers.

    n2net-privacy normalize INPUT.csv --region US [--column phone] [-o OUT.csv]

Every input row comes out with three more columns: ``e164``, ``type`` (mobile,
fixed line...) and ``reason`` (why a number was refused); columns of those
names already in the input are overwritten. Rows stream through one at a
time, so a million rows take the memory of one plus a bounded cache.

With ``-o`` the output goes to a temporary file beside ``OUT.csv`` that
replaces it only once every row is written: a failure leaves no half-written
file and any previous ``OUT.csv`` untouched. The file is created readable by
its owner only, since it holds phone numbers. Without ``-o`` rows go to stdout.

An unreadable file, a missing column or malformed CSV ends the run with one
line on stderr and exit code 2. A progress bar (tqdm, from the ``cli`` extra)
is drawn on stderr only when stderr is a terminal.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import functools
import importlib
import io
import itertools
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Protocol, TextIO

from n2net_privacy.atomic_write import replacing
from n2net_privacy.errors import ConfigurationError
from n2net_privacy.phone import NormalizationResult, normalize_many

if TYPE_CHECKING:
    from _csv import Reader

__all__ = ["ADDED_COLUMNS", "register", "run"]

ADDED_COLUMNS = ("e164", "type", "reason")

_PROGRESS_EVERY = 1024  # rows per progress update: keeps the bar's cost out of the loop


class _BadInput(Exception):
    """Stop with exit code 2; the message is the one line the user sees."""


class _Progress(Protocol):
    def update(self, n: int = 1) -> object: ...

    def close(self) -> None: ...


class _NoProgress:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``normalize`` subcommand."""
    parser = subparsers.add_parser(
        "normalize",
        help="add e164, type and reason columns to a CSV of phone numbers",
        description="Normalize a CSV column of phone numbers to E.164, streaming.",
    )
    parser.add_argument("input", type=Path, metavar="INPUT.csv")
    parser.add_argument(
        "--region",
        help="ISO region for numbers written without + (e.g. US); without it they are refused",
    )
    parser.add_argument("--column", default="phone", help="column holding the numbers")
    parser.add_argument("-o", "--output", type=Path, metavar="OUT.csv", help="default: stdout")
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    return run(
        args.input,
        region=args.region,
        column=args.column,
        output=args.output,
        stdout=sys.stdout,
        stderr=sys.stderr,
    )


def run(
    input_path: Path,
    *,
    region: str | None,
    column: str,
    output: Path | None,
    stdout: TextIO,
    stderr: TextIO,
    import_module: Callable[[str], ModuleType] = importlib.import_module,
) -> int:
    """Normalize ``input_path`` into ``output`` (or ``stdout``); return the exit code.

    ``import_module`` is how the optional progress-bar library is found; tests
    pass one that fails to show the run goes on without it.
    """
    try:
        try:
            normalize_many((), region)  # an unknown region fails before any file is touched
        except ConfigurationError as exc:
            raise _BadInput(str(exc)) from exc

        progress = functools.partial(_progress_bar, stderr, import_module)
        with _open_input(input_path) as source:
            if output is None:
                _normalize_csv(source, stdout, region=region, column=column, progress=progress)
            else:
                with _replace_on_success(output) as sink:
                    _normalize_csv(source, sink, region=region, column=column, progress=progress)
    except _BadInput as exc:
        print(f"n2net-privacy normalize: error: {exc}", file=stderr)
        return 2
    return 0


@contextlib.contextmanager
def _open_input(path: Path) -> Iterator[TextIO]:
    try:
        # utf-8-sig: spreadsheets often start their CSV exports with a byte-order mark.
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise _BadInput(f"cannot read {path}: {exc.strerror or exc}") from exc
    with handle:
        try:
            yield handle
        except UnicodeDecodeError as exc:
            raise _BadInput(f"{path} is not UTF-8 text") from exc
        except OSError as exc:
            raise _BadInput(f"cannot read {path}: {exc.strerror or exc}") from exc


@contextlib.contextmanager
def _replace_on_success(path: Path) -> Iterator[TextIO]:
    """Yield a text file that becomes ``path`` only on success (the SDK's one atomic write)."""
    try:
        with replacing(path, make_parents=False) as raw:
            sink = io.TextIOWrapper(raw, newline="", encoding="utf-8")
            try:
                yield sink
                sink.flush()
            finally:
                sink.detach()  # the helper closes, fsyncs and renames the file itself
    except OSError as exc:
        raise _BadInput(f"cannot write {path}: {exc.strerror or exc}") from exc


def _normalize_csv(
    source: TextIO,
    sink: TextIO,
    *,
    region: str | None,
    column: str,
    progress: Callable[[], _Progress],
) -> None:
    reader = csv.reader(source, strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise _BadInput("the input is empty: expected a header row")
        layout = _Layout.for_header(header, column)
        writer = csv.writer(sink)
        writer.writerow(layout.header)
        # tee keeps at most one row buffered: the numbers go through normalize_many
        # (and its cache) while the rows they came from wait beside them.
        rows, rows_for_numbers = itertools.tee(_checked_rows(reader, len(header)))
        results = normalize_many((row[layout.source] for row in rows_for_numbers), region)
        bar = progress()  # only now: a refused header should print its one line, no bar
        count = 0
        try:
            for row, result in zip(rows, results, strict=True):
                writer.writerow(layout.fill(row, result))
                count += 1
                if count % _PROGRESS_EVERY == 0:
                    bar.update(_PROGRESS_EVERY)
            bar.update(count % _PROGRESS_EVERY)
        finally:
            bar.close()
    except csv.Error as exc:
        raise _BadInput(f"line {reader.line_num}: malformed CSV: {exc}") from exc


@dataclass(frozen=True, slots=True)
class _Layout:
    """Where the number is read from and where the added cells go."""

    source: int
    header: list[str]
    targets: tuple[int, ...]
    padding: int

    @classmethod
    def for_header(cls, header: list[str], column: str) -> _Layout:
        if column not in header:
            raise _BadInput(f"no column {column!r} in the header (use --column)")
        out = list(header)
        targets = []
        for name in ADDED_COLUMNS:
            if name not in out:
                out.append(name)
            targets.append(out.index(name))
        return cls(header.index(column), out, tuple(targets), len(out) - len(header))

    def fill(self, row: list[str], result: NormalizationResult) -> list[str]:
        row.extend([""] * self.padding)
        for target, value in zip(self.targets, _cells(result), strict=True):
            row[target] = value
        return row


def _checked_rows(reader: Reader, width: int) -> Iterator[list[str]]:
    for row in reader:
        if not row:
            continue  # a blank line holds no record
        if len(row) != width:
            raise _BadInput(
                f"line {reader.line_num}: {len(row)} fields where the header has {width}"
            )
        yield row


def _cells(result: NormalizationResult) -> tuple[str, str, str]:
    return (
        result.e164 or "",
        result.number_type.value if result.number_type else "",
        result.reason.value if result.reason else "",
    )


def _progress_bar(stderr: TextIO, import_module: Callable[[str], ModuleType]) -> _Progress:
    """A tqdm bar on a terminal; nothing when piped, logged, or tqdm is not installed."""
    if not stderr.isatty():
        return _NoProgress()
    try:
        tqdm = import_module("tqdm")
    except ImportError:
        return _NoProgress()
    bar: _Progress = tqdm.tqdm(file=stderr, unit=" rows", desc="normalize", mininterval=0.5)
    return bar
