"""``n2net-privacy normalize``: add E.164 columns to a CSV of phone numbers.

    n2net-privacy normalize INPUT.csv --region US [--column phone] [-o OUT.csv]
    cat book.csv | n2net-privacy normalize - --region US -o - > out.csv

Every input row comes out with four more columns: ``e164``, ``type`` (mobile,
fixed line...), ``reason`` (why a number was refused) and ``extension`` (which
E.164 cannot hold); columns of those names already in the input are
overwritten. The delimiter is sniffed from the start of the input (comma,
semicolon, tab or pipe) unless ``--delimiter`` names it, and the output uses
the same one. Rows stream through one at a time, so a million rows take the
memory of one plus a bounded cache.

The output follows the CLI's rules for every file it writes
(:func:`~n2net_privacy.cli._output.open_output`): with ``-o OUT.csv`` the
rows go to a temporary file beside it that replaces it only once every row
is written, so a failure or Ctrl-C leaves no half-written file and any
previous ``OUT.csv`` untouched. A new file gets the umask's mode (a replaced
one keeps its own); a symlink is written through. Without ``-o`` (or with
``-o -``), and for a device or FIFO such as ``/dev/stdout``, rows reach the
stream only once the whole input has been read without error. An output
that is the input file, or a directory, is refused (exit 2).

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

from n2net_privacy.cli._output import OutputError, error, open_output
from n2net_privacy.errors import ConfigurationError
from n2net_privacy.phone import NormalizationResult, normalize_many
from n2net_privacy.redact import scrub

if TYPE_CHECKING:
    from _csv import Reader

__all__ = ["ADDED_COLUMNS", "check_region", "register", "run"]

ADDED_COLUMNS = ("e164", "type", "reason", "extension")

STDIO = Path("-")  # ``-`` names stdin (INPUT) or stdout (-o)
EXIT_OK = 0
EXIT_BAD_INPUT = 2

_PROGRESS_EVERY = 1024  # rows per progress update: keeps the bar's cost out of the loop
_SNIFF_BYTES = 64 * 1024  # how much of the input csv.Sniffer looks at
_SNIFF_DELIMITERS = ",;\t|"

_EPILOG = """\
exit codes:
  0    every row was written (refused numbers get a reason, not an error)
  2    bad input or usage: unreadable file, missing column, malformed CSV,
       text that is not UTF-8, an unknown region, or an output that is
       refused (a directory, the input itself) or cannot be written
  130  interrupted (Ctrl-C): no output was written, a previous file is kept

output:
  a file is replaced atomically once every row is done (a symlink is written
  through); /dev/stdout, /dev/null or a FIFO gets the rows as a stream, and
  stdout only once the whole input was read without error

examples:
  n2net-privacy normalize book.csv --region US -o book.e164.csv
  n2net-privacy normalize export.csv --column Mobile --delimiter ';'
  cat book.csv | n2net-privacy normalize - --region GB > out.csv
"""


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
        help="add e164, type, reason and extension columns to a CSV of phone numbers",
        description="Normalize a CSV column of phone numbers to E.164, streaming.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "input", type=Path, metavar="INPUT.csv", help="the CSV to read, or - for stdin"
    )
    parser.add_argument(
        "--region",
        help="ISO region for numbers written without + (e.g. US); "
        "without it they are refused (default: none)",
    )
    parser.add_argument(
        "--column", default="phone", help="column holding the numbers (default: %(default)s)"
    )
    parser.add_argument(
        "--delimiter", type=_one_character, metavar="CHAR",
        help="field delimiter (default: sniffed from the input among , ; tab |)",
    )
    parser.add_argument(
        "-o", "--output", type=Path, metavar="OUT.csv",
        help="write here, replacing the file atomically once every row is done; "
        "- for stdout (default: stdout)",
    )
    parser.set_defaults(handler=_handle)


def _one_character(value: str) -> str:
    value = {"\\t": "\t", "tab": "\t"}.get(value, value)
    if len(value) != 1 or value in "\r\n\"":
        raise argparse.ArgumentTypeError("must be one character, e.g. ';' or tab")
    return value


def _handle(args: argparse.Namespace) -> int:
    return run(
        args.input,
        region=args.region,
        column=args.column,
        output=args.output,
        delimiter=args.delimiter,
        stdin=sys.stdin,
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
    delimiter: str | None = None,
    stdin: TextIO | None = None,
    import_module: Callable[[str], ModuleType] = importlib.import_module,
) -> int:
    """Normalize ``input_path`` into ``output`` (or ``stdout``); return the exit code.

    ``-`` as ``input_path`` reads ``stdin``; ``-`` (or ``None``) as ``output``
    writes ``stdout``, and nothing reaches ``stdout`` unless the whole run
    succeeds. ``import_module`` is how the optional progress-bar library is
    found; tests pass one that fails to show the run goes on without it.
    """
    try:
        problem = check_region(region)  # an unknown region fails before any file is touched
        if problem is not None:
            raise _BadInput(problem)
        progress = functools.partial(_progress_bar, stderr, import_module)
        job = functools.partial(
            _normalize_csv, region=region, column=column, delimiter=delimiter, progress=progress
        )
        inputs = () if input_path == STDIO else (input_path,)
        with (
            _open_input(input_path, stdin) as source,
            open_output(output, inputs=inputs, stdout=stdout) as sink,
        ):
            job(source, sink)
    except (_BadInput, OutputError) as exc:
        error("normalize", str(exc), stderr)
        return EXIT_BAD_INPUT
    return EXIT_OK


def check_region(region: str | None) -> str | None:
    """Why ``--region`` is refused (the words every command uses), or None."""
    try:
        normalize_many((), region)
    except ConfigurationError as exc:
        return str(exc)
    return None


@contextlib.contextmanager
def _open_input(path: Path, stdin: TextIO | None) -> Iterator[TextIO]:
    name = "stdin" if path == STDIO else str(path)
    with _opened(path, stdin or sys.stdin) as handle:
        try:
            yield handle
        except UnicodeDecodeError as exc:
            raise _BadInput(f"{name} is not UTF-8 text") from exc
        except BrokenPipeError:
            raise  # stdout's reader went away: cli.main ends the run quietly
        except OSError as exc:
            raise _BadInput(f"cannot read {name}: {exc.strerror or exc}") from exc


@contextlib.contextmanager
def _opened(path: Path, stdin: TextIO) -> Iterator[TextIO]:
    """The input as text; ``-`` is stdin, left open for the rest of the process."""
    # utf-8-sig: spreadsheets often start their CSV exports with a byte-order mark.
    if path != STDIO:
        try:
            handle = path.open(newline="", encoding="utf-8-sig")
        except OSError as exc:
            raise _BadInput(f"cannot read {path}: {exc.strerror or exc}") from exc
        with handle:
            yield handle
        return
    buffer = getattr(stdin, "buffer", None)
    if buffer is None:  # a text-only stream, as in tests: read it as it is
        yield stdin
        return
    wrapper = io.TextIOWrapper(buffer, encoding="utf-8-sig", newline="")
    try:
        yield wrapper
    finally:
        wrapper.detach()  # do not close the process's stdin


def _sniffed(source: TextIO, delimiter: str | None) -> tuple[Iterator[str], str]:
    """The input's lines (the sniffed sample put back in front) and its delimiter."""
    sample = source.read(_SNIFF_BYTES)
    if len(sample) == _SNIFF_BYTES:
        sample += source.readline()  # end the sample on a line boundary
    if delimiter is None:
        try:
            delimiter = csv.Sniffer().sniff(sample, delimiters=_SNIFF_DELIMITERS).delimiter
        except csv.Error:
            delimiter = ","  # one column, or nothing to tell by: the CSV default
    return itertools.chain(io.StringIO(sample, newline=""), source), delimiter


def _normalize_csv(
    source: TextIO,
    sink: TextIO,
    *,
    region: str | None,
    column: str,
    delimiter: str | None,
    progress: Callable[[], _Progress],
) -> None:
    lines, delimiter = _sniffed(source, delimiter)
    reader = csv.reader(lines, strict=True, delimiter=delimiter)
    try:
        header = next(reader, None)
        if header is None:
            raise _BadInput("the input is empty: expected a header row")
        layout = _Layout.for_header(header, column)
        writer = csv.writer(sink, delimiter=delimiter)
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


def _missing_column(header: list[str], column: str) -> str:
    """The error for a header without ``column``, listing what it has (never a number)."""
    named = f"no column {scrub(column)!r} in the header"
    if any(scrub(name) != name for name in header):
        return f"{named}; its first row holds a phone number, so it looks like data: " \
               "add a header row"
    shown = [repr(name[:40]) for name in header[:20]]
    more = f" and {len(header) - 20} more" if len(header) > 20 else ""
    hint = " (use --column, or --delimiter if the columns are run together)"
    return f"{named}; columns found: {', '.join(shown)}{more}{hint}"


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
            raise _BadInput(_missing_column(header, column))
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


def _cells(result: NormalizationResult) -> tuple[str, str, str, str]:
    return (
        result.e164 or "",
        result.number_type.value if result.number_type else "",
        result.reason.value if result.reason else "",
        result.extension or "",
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
