"""How a CLI command reports an error, and the one way it writes an output file.

**Errors.** Every subcommand prints its failures through :func:`error`, so
the prefix is the same everywhere (``n2net-privacy CMD: error: ...``, the
shape of argparse's own usage errors) and pydantic's wording is translated
into the user's terms on the way out.

**Outputs.** Every file a command writes goes through :func:`open_output`,
which applies one set of rules to what the path names:

===================  =====================================================
``-``                stdout (the stream is not closed)
``/dev/stdout``,     the process's own file descriptor, as a stream
``/dev/fd/N``...
missing, or a        a temporary file beside it replaces it atomically on
regular file         success (``atomic_write.replacing``); a new file gets
                     the umask's mode, a replaced one keeps its mode, a
                     ``secret`` is 0600 in both cases
a symlink            written through: its target is replaced as above
                     (a dangling link creates its target)
a character device   written as a stream, never replaced: ``/dev/null``
or a FIFO            works, ``/dev/full`` is a clean error
a directory, a       refused: :class:`OutputError`, exit 2
block device or a
socket
an input file        refused (same inode as one of ``inputs``): exit 2
===================  =====================================================

Nothing is half-written: a file appears only when the block succeeds, and a
stream (stdout, a device, a FIFO) receives the output only then (it waits
in a spooled temporary file, in memory up to 1 MiB, then on disk). An
exception in the block (a bad row, Ctrl-C) leaves the old file and the
stream untouched. A write that fails (``ENOSPC``, ``EIO``) raises
:class:`OutputError` naming the output; a closed pipe (``EPIPE``) is left
as :class:`BrokenPipeError` for ``cli.main`` to end the run quietly.

>>> import tempfile, pathlib
>>> target = pathlib.Path(tempfile.mkdtemp()) / "out.txt"
>>> with open_output(target) as out:
...     _ = out.write("hello\\n")
>>> target.read_text()
'hello\\n'
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import re
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Literal, TextIO, cast, overload

from n2net_privacy.atomic_write import os_error_name, replacing
from n2net_privacy.errors import OutputError, OutputExistsError  # the one tree; here too
from n2net_privacy.wording import in_user_terms

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

__all__ = [
    "PROG",
    "OutputError",
    "OutputExistsError",
    "check_output",
    "check_output_dir",
    "error",
    "error_line",
    "guarded_stdout",
    "is_stdout",
    "names_stdout",
    "open_output",
]

PROG = "n2net-privacy"
STDOUT = "-"

_SPOOL_BYTES = 1024 * 1024  # a stream's output waits in memory up to this, then on disk
# Paths that name one of the process's own file descriptors: written to that
# descriptor, so ``-o /dev/stdout`` never reopens (or truncates) what the shell opened.
_OWN_FD = re.compile(
    r"^/(?:dev/(?:fd/(?P<fd>\d+)|(?P<std>stdout|stderr))|proc/self/fd/(?P<pfd>\d+))$"
)
_STD_FDS = {"stdout": 1, "stderr": 2}

PathArg = str | os.PathLike[str]


def error_line(command: str | None, message: str) -> str:
    """``n2net-privacy CMD: error: MESSAGE`` (one line, no trailing newline)."""
    prefix = f"{PROG} {command}" if command else PROG
    return f"{prefix}: error: {in_user_terms(' '.join(message.split()))}"


def error(command: str | None, message: str, stderr: TextIO) -> None:
    """Write :func:`error_line` to ``stderr``."""
    stderr.write(error_line(command, message) + "\n")


def is_stdout(arg: PathArg | None) -> bool:
    """True for ``-`` (and ``None``): the output is the process's stdout."""
    return arg is None or os.fspath(arg) == STDOUT


def names_stdout(arg: PathArg | None) -> bool:
    """True for ``-`` and for the paths of file descriptor 1 (``/dev/stdout``, ``/dev/fd/1``)."""
    if is_stdout(arg):
        return True
    assert arg is not None
    own = _OWN_FD.match(os.fspath(arg))
    return own is not None and (own["std"] == "stdout" or "1" in (own["fd"], own["pfd"]))


@dataclass(frozen=True, slots=True)
class _Plan:
    """What writing ``arg`` means: a stream (fd or path) or an atomic file."""

    kind: Literal["stdout", "fd", "stream", "file"]
    path: Path | None = None  # the file to replace (symlinks resolved), or the stream to open
    fd: int | None = None
    existing_mode: int | None = None  # permission bits of the file being replaced


def _describe(mode: int) -> str | None:
    """Why a file of this type is refused, or None when it can be written."""
    if stat.S_ISDIR(mode):
        return "is a directory"
    if stat.S_ISBLK(mode):
        return "is a block device; refusing to write to a disk"
    if stat.S_ISSOCK(mode):
        return "is a socket"
    return None


def _stat(path: str) -> os.stat_result | None:
    try:
        return os.stat(path)
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        return None  # a parent is a file: _check_directory names it
    except OSError as exc:
        raise OutputError(_cannot_write(path, exc)) from exc


def _cannot_write(name: str, exc: OSError) -> str:
    """``cannot write NAME: No space left on device (ENOSPC)``: the OS's words and its name."""
    code = os_error_name(exc)
    reason = f"{exc.strerror} ({code})" if exc.strerror else code
    return f"cannot write {name}: {reason}"


def _plan(
    arg: PathArg, inputs: Iterable[PathArg], *, overwrite: bool, make_parents: bool
) -> _Plan:
    text = os.fspath(arg)
    if text == STDOUT:
        return _Plan("stdout")
    if not text:
        raise OutputError("an output path cannot be empty")
    own = _OWN_FD.match(text)
    if own is not None:
        fd = int(own["fd"] or own["pfd"] or _STD_FDS[own["std"] or "stdout"])
        return _Plan("fd", fd=fd)
    found = _stat(text)
    if found is not None:
        refused = _describe(found.st_mode)
        if refused is not None:
            raise OutputError(f"{text} {refused}")
        for source in inputs:
            if os.fspath(source) == STDOUT:
                continue
            with contextlib.suppress(OSError):
                other = os.stat(source)
                if (other.st_dev, other.st_ino) == (found.st_dev, found.st_ino):
                    same = "" if os.fspath(source) == text else f" ({os.fspath(source)})"
                    raise OutputError(f"{text}: refusing to overwrite an input file{same}")
        if not stat.S_ISREG(found.st_mode):  # a character device or a FIFO
            return _Plan("stream", path=Path(text))
        if not overwrite:
            raise OutputExistsError(f"{text} already exists")
    # A symlink is written through: the file replaced is its target, in its directory.
    target = Path(os.path.realpath(text))
    _check_directory(text, target.parent, make_parents=make_parents)
    if found is not None and not os.access(target, os.W_OK):
        raise OutputError(f"cannot write {text}: permission denied")
    return _Plan(
        "file", path=target, existing_mode=stat.S_IMODE(found.st_mode) if found else None
    )


def _check_directory(name: str, directory: Path, *, make_parents: bool) -> None:
    existing = directory  # the nearest ancestor that exists (below a file, none does)
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        kind = _kind(existing.stat().st_mode)
        raise OutputError(f"cannot write {name}: {existing} is {kind}, not a directory")
    if existing != directory and not make_parents:
        raise OutputError(f"cannot write {name}: the directory {directory} does not exist")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {name}: the directory {existing} is not writable")


def check_output(
    arg: PathArg,
    *,
    inputs: Iterable[PathArg] = (),
    overwrite: bool = True,
    make_parents: bool = False,
) -> None:
    """Raise :class:`OutputError` now if :func:`open_output` would refuse ``arg``.

    Commands that run for a while call it before they start, so a bad path is
    exit 2 at once rather than after the work. :func:`open_output` checks
    again when it opens.
    """
    _plan(arg, inputs, overwrite=overwrite, make_parents=make_parents)


def check_output_dir(arg: PathArg) -> None:
    """Raise :class:`OutputError` unless ``arg`` is, or can be made, a writable directory."""
    text = os.fspath(arg)
    if not text or text == STDOUT:
        raise OutputError(f"{text or 'an empty path'} is not a directory")
    found = _stat(text)
    if found is not None:
        if not stat.S_ISDIR(found.st_mode):
            raise OutputError(f"{text} is {_kind(found.st_mode)}; a directory is needed here")
        if not os.access(text, os.W_OK | os.X_OK):
            raise OutputError(f"cannot write into {text}: the directory is not writable")
        return
    _check_directory(text, Path(os.path.abspath(text)).parent, make_parents=True)


def _kind(mode: int) -> str:
    if stat.S_ISREG(mode):
        return "a file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    return "not a directory"


def _new_file_mode() -> int:
    """The mode ``open(path, "w")`` would give a new file: 0o666 less the umask."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return 0o666 & ~int(line.split()[1], 8)
    umask = os.umask(0o022)  # no /proc: read it the only portable way, and put it back
    os.umask(umask)
    return 0o666 & ~umask


class _GuardedWriter(io.RawIOBase):
    """A raw writer that names the output when a write fails (``EPIPE`` stays raw).

    After a failure, what is still buffered is dropped rather than retried, so
    the error is reported once.
    """

    def __init__(self, sink: IO[bytes], name: str) -> None:
        super().__init__()
        self._sink = sink
        self._name = name
        self._failed = False

    def writable(self) -> bool:
        return True

    def abandon(self) -> None:
        """From now on, writes and flushes go nowhere (the output is being discarded)."""
        self._failed = True

    def write(self, data: ReadableBuffer, /) -> int:
        if self._failed:
            return memoryview(data).nbytes
        try:
            written = self._sink.write(data)
        except BrokenPipeError:
            raise
        except OSError as exc:
            self._failed = True
            raise OutputError(_cannot_write(self._name, exc)) from exc
        return memoryview(data).nbytes if written is None else written

    def fileno(self) -> int:
        return self._sink.fileno()

    def isatty(self) -> bool:
        return self._sink.isatty()

    def flush(self) -> None:
        # Closing this wrapper (or collecting it) flushes it; the process's stdout
        # may already be closed by then, and that is not a failed write.
        if self._failed or self._sink.closed:
            return
        try:
            self._sink.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            self._failed = True
            raise OutputError(_cannot_write(self._name, exc)) from exc


@contextlib.contextmanager
def guarded_stdout() -> Iterator[None]:
    """While the block runs, a failed write to the real stdout raises :class:`OutputError`.

    So ``n2net-privacy demo > /dev/full`` ends with one line naming stdout,
    whichever command printed. A closed pipe stays :class:`BrokenPipeError`.
    Only the process's own stdout is wrapped: a test's capture is left alone.
    """
    original = sys.__stdout__
    buffer = getattr(original, "buffer", None)
    if original is None or sys.stdout is not original or buffer is None:
        yield
        return
    original.flush()
    guarded = io.TextIOWrapper(
        io.BufferedWriter(_GuardedWriter(buffer, "stdout")),
        encoding=original.encoding, errors=original.errors,
        line_buffering=original.line_buffering,
    )
    sys.stdout = guarded
    try:
        yield
        guarded.flush()
    finally:
        sys.stdout = original
        with contextlib.suppress(OSError, OutputError, ValueError):
            guarded.flush()
        with contextlib.suppress(ValueError):
            guarded.detach().detach()


@overload
def open_output(
    arg: PathArg | None, *, inputs: Iterable[PathArg] = ..., secret: bool = ...,
    binary: Literal[False] = ..., overwrite: bool = ..., make_parents: bool = ...,
    stdout: IO[str] | None = ...,
) -> contextlib.AbstractContextManager[TextIO]: ...


@overload
def open_output(
    arg: PathArg | None, *, inputs: Iterable[PathArg] = ..., secret: bool = ...,
    binary: Literal[True], overwrite: bool = ..., make_parents: bool = ...,
    stdout: IO[str] | None = ...,
) -> contextlib.AbstractContextManager[IO[bytes]]: ...


def open_output(
    arg: PathArg | None,
    *,
    inputs: Iterable[PathArg] = (),
    secret: bool = False,
    binary: bool = False,
    overwrite: bool = True,
    make_parents: bool = False,
    stdout: IO[str] | None = None,
) -> contextlib.AbstractContextManager[TextIO] | contextlib.AbstractContextManager[IO[bytes]]:
    """Open the output ``arg`` names; it is committed when the block succeeds.

    - ``arg``: a path, or ``-`` / ``None`` for stdout.
    - ``inputs``: the command's input paths; an output that is one of them
      (same device and inode, whatever the spelling) is refused.
    - ``secret``: the file is created 0600 and stays so (keygen's private key).
    - ``binary``: yield a binary file; otherwise UTF-8 text, newlines untranslated.
    - ``overwrite=False``: an existing file is refused with
      :class:`OutputExistsError`, also if it appears while the block runs.
    - ``make_parents``: create the missing directories of a new file.
    - ``stdout``: the stream ``-`` means (default ``sys.stdout`` at call time).

    Raises :class:`OutputError` (a one-line message naming the path) when
    the path is refused or cannot be written.
    """
    opened = _open_output(
        arg, inputs=tuple(inputs), secret=secret, binary=binary, overwrite=overwrite,
        make_parents=make_parents, stdout=stdout,
    )
    if binary:
        return cast("contextlib.AbstractContextManager[IO[bytes]]", opened)
    return cast("contextlib.AbstractContextManager[TextIO]", opened)


@contextlib.contextmanager
def _open_output(
    arg: PathArg | None,
    *,
    inputs: tuple[PathArg, ...],
    secret: bool,
    binary: bool,
    overwrite: bool,
    make_parents: bool,
    stdout: IO[str] | None,
) -> Iterator[IO[str] | IO[bytes]]:
    plan = _plan(STDOUT if arg is None else arg, inputs, overwrite=overwrite,
                 make_parents=make_parents)
    name = "stdout" if plan.kind == "stdout" else os.fspath(arg or STDOUT)
    if plan.kind == "file":
        assert plan.path is not None
        mode = 0o600 if secret else (
            plan.existing_mode if plan.existing_mode is not None else _new_file_mode()
        )
        with (
            _atomic_file(plan.path, name, mode=mode, exclusive=not overwrite,
                         make_parents=make_parents) as raw,
            _layered(raw, name, binary=binary) as handle,
        ):
            yield handle
        return
    with tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES, mode="w+b") as spool:
        with _layered(spool, name, binary=binary) as handle:
            yield handle
        spool.seek(0)
        _copy_to_stream(spool, plan, name, stdout if stdout is not None else sys.stdout)


@contextlib.contextmanager
def _layered(raw: IO[bytes], name: str, *, binary: bool) -> Iterator[IO[str] | IO[bytes]]:
    """``raw`` behind a guarded buffer (and a UTF-8 text layer), flushed on success."""
    guard = _GuardedWriter(raw, name)
    buffered = io.BufferedWriter(guard)
    handle: IO[str] | IO[bytes] = (
        buffered if binary else io.TextIOWrapper(buffered, encoding="utf-8", newline="")
    )
    try:
        yield handle
    except BaseException:
        # The block failed: what it wrote is abandoned, and the layers must not
        # flush it into ``raw`` later (when collected, after ``raw`` is closed).
        guard.abandon()
        _detach(handle, buffered)
        raise
    handle.flush()
    _detach(handle, buffered)


def _detach(handle: IO[str] | IO[bytes], buffered: io.BufferedWriter[_GuardedWriter]) -> None:
    # Detach rather than close: ``raw`` belongs to the caller (the atomic write, the spool).
    if isinstance(handle, io.TextIOWrapper):
        handle.detach()
    buffered.detach()


@contextlib.contextmanager
def _atomic_file(
    path: Path, name: str, *, mode: int, exclusive: bool, make_parents: bool
) -> Iterator[IO[bytes]]:
    # OSError from opening or committing names the output; one from the block is the block's.
    try:
        writer = replacing(path, mode=mode, exclusive=exclusive, make_parents=make_parents)
        raw = writer.__enter__()
    except FileExistsError:
        raise OutputExistsError(f"{name} already exists") from None
    except OSError as exc:
        raise OutputError(_cannot_write(name, exc)) from exc
    try:
        yield raw
    except BaseException:
        if not writer.__exit__(*sys.exc_info()):
            raise
        return  # pragma: no cover - replacing never swallows
    try:
        writer.__exit__(None, None, None)
    except FileExistsError:
        raise OutputExistsError(f"{name} already exists") from None
    except OSError as exc:
        raise OutputError(_cannot_write(name, exc)) from exc


def _copy_to_stream(spool: IO[bytes], plan: _Plan, name: str, stdout: IO[str]) -> None:
    try:
        if plan.kind == "stdout":
            buffer = getattr(stdout, "buffer", None)
            stdout.flush()
            if buffer is None:  # a text-only stream, as in tests
                stdout.write(spool.read().decode("utf-8"))
                stdout.flush()
                return
            shutil.copyfileobj(spool, buffer)
            buffer.flush()
            return
        if plan.kind == "fd":
            assert plan.fd is not None
            if plan.fd == 1:
                stdout.flush()  # what the command already printed comes first
            fd = os.dup(plan.fd)
        else:
            assert plan.path is not None
            fd = os.open(plan.path, os.O_WRONLY | os.O_NOCTTY | os.O_CLOEXEC)
        with open(fd, "wb", closefd=True) as stream:
            shutil.copyfileobj(spool, stream)
    except BrokenPipeError:
        raise
    except OSError as exc:
        if exc.errno == errno.EBADF and plan.kind == "fd":
            raise OutputError(f"cannot write {name}: that file descriptor is not open") from exc
        raise OutputError(_cannot_write(name, exc)) from exc
