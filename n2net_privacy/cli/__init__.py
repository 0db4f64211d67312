"""The ``n2net-privacy`` command line: ``demo``, ``audit``, ``manifest``, ``conformance`` and more.

Each subcommand lives in its own module with a ``register(subparsers)``
function that adds its parser and sets ``handler`` to a function taking the
parsed namespace and returning the exit code. Every file a command writes
goes through :func:`n2net_privacy.cli._output.open_output`.

Exit codes: 0 success, 1 the job ran and found a problem (a privacy
finding), 2 bad input or usage, 130 interrupted (Ctrl-C), 141 stdout was
closed by its reader (``| head -1``), as a Unix tool killed by ``SIGPIPE``
reports it. Errors are one line, ``n2net-privacy COMMAND: error: ...``
(see ``_output``); :func:`main` handles the interrupt, the closed pipe and
a refused output once for every command, so none of them is a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from types import FrameType

from n2net_privacy._version import __version__
from n2net_privacy.cli._output import PROG, OutputError, error, guarded_stdout

__all__ = ["main"]

_SUBCOMMANDS = (
    "demo", "normalize", "schema", "audit", "audit-har", "mitm-addon-path", "keygen",
    "manifest", "conformance",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="n2net-privacy",
        description="Run, test and prove the N2Net Mobile contact privacy promises.",
        epilog="exit codes:\n"
        "  0    success\n"
        "  1    a privacy finding (audit, audit-har) or a failed claim (demo)\n"
        "  2    bad input or usage, or an output that cannot be written\n"
        "  130  interrupted (Ctrl-C); no output file is left half-written\n"
        "  141  stdout was closed by its reader (| head), as for any Unix tool\n\n"
        "Run 'n2net-privacy COMMAND --help' for a command's options.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}",
        help="print the version and exit",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in _SUBCOMMANDS:
        try:
            module = importlib.import_module(f"n2net_privacy.cli.{name.replace('-', '_')}")
        except ModuleNotFoundError as exc:
            if exc.name != f"n2net_privacy.cli.{name.replace('-', '_')}":
                raise
            continue
        module.register(subparsers)
    return parser


EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 128 + signal.SIGINT  # 130, what a shell reports for Ctrl-C
EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE  # 141, what `yes | head -1` reports for yes


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return its exit code. Never a traceback for Ctrl-C or a closed pipe."""
    parser = build_parser()
    args = parser.parse_args(argv)
    command: str = args.command
    try:
        with _interruptible(command), guarded_stdout():
            code: int = args.handler(args)
            sys.stdout.flush()  # now, so a closed pipe is seen here and not at exit
    except KeyboardInterrupt:
        _interrupted_line(command)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # As the Python docs advise: point stdout at devnull so the flush at
        # exit does not fail again, and end quietly, as `yes | head -1` does.
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except OutputError as exc:  # a refused output path, or stdout on a full disk
        _stdout_broken()
        error(command, str(exc), sys.stderr)
        return EXIT_BAD_INPUT
    return code


def _interrupted_line(command: str) -> None:
    with contextlib.suppress(OSError):
        sys.stderr.write(f"{PROG} {command}: interrupted\n")
        sys.stderr.flush()


@contextlib.contextmanager
def _interruptible(command: str) -> Iterator[None]:
    """The first Ctrl-C unwinds the command (its cleanups run); a second one exits at once.

    The handler is installed only on the main thread (where Python delivers
    signals) and the previous one is put back afterwards, so ``main`` can be
    called in-process, as the tests do.
    """
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) == signal.SIG_IGN):
        yield  # off the main thread, or started with SIGINT ignored (nohup, `cmd &`)
        return
    interrupted = False

    def on_sigint(_signum: int, _frame: FrameType | None) -> None:
        nonlocal interrupted
        if interrupted:  # the cleanup is taking too long for the user: stop now
            _interrupted_line(command)
            os._exit(EXIT_INTERRUPTED)
        interrupted = True
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _stdout_broken() -> bool:
    """True when stdout cannot take what is buffered for it (the buffer is then dropped)."""
    try:
        sys.stdout.flush()
    except OSError:
        _silence_stdout()
        return True
    return False


def _silence_stdout() -> None:
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
