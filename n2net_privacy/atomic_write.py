"""The one way the SDK replaces a file: whole or not at all, and durable.

Every file the SDK keeps (Settings, learned permission state, the avatar disk
cache) and every file the CLI writes (through ``cli._output.open_output``) is
written the same way:

1. write a temporary file in the same directory;
2. ``fsync`` the temporary file, so its bytes are on the disk;
3. ``os.replace`` it over the target, which is atomic on POSIX and Windows;
4. ``fsync`` the directory (POSIX), so the rename itself survives a power cut.

A crash at any point leaves either the old file or the new one, never half of
either; a failure removes the temporary file. Errors are the operating
system's ``OSError``: each caller maps them into its own typed error, since
only the caller knows whether a failed write is fatal (a grant of consent) or
merely reported (a revocation, a cache entry).

``fsync`` is injectable so tests can hold a write open or fail it (``ENOSPC``)
without a slow or full disk:

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> write_atomically(folder / "a.json", b"{}")
>>> (folder / "a.json").read_bytes()
b'{}'
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

__all__ = ["Fsync", "os_error_name", "replacing", "write_atomically"]

Fsync = Callable[[int], None]


@contextlib.contextmanager
def replacing(
    path: str | os.PathLike[str],
    *,
    fsync: Fsync = os.fsync,
    mode: int = 0o600,
    make_parents: bool = True,
    exclusive: bool = False,
) -> Iterator[IO[bytes]]:
    """Yield a binary temporary file that becomes ``path`` when the block succeeds.

    The file is created with ``mode`` (owner-only by default: these files may
    hold personal data). If the block raises, ``path`` is left untouched.
    ``exclusive`` never replaces: the file is hard-linked into place, and
    :class:`FileExistsError` is raised if ``path`` exists by then.
    """
    target = Path(path)
    if make_parents:
        target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.chmod(temp, mode)
            yield handle
            handle.flush()
            fsync(handle.fileno())
        if exclusive:
            _link_into_place(Path(temp), target, mode, fsync)
            os.unlink(temp)
        else:
            os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    _sync_directory(target.parent, fsync)


# Filesystems without hard links: fall back to an O_EXCL create of the target.
_NO_LINK = frozenset({errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK})


def _link_into_place(temp: Path, target: Path, mode: int, fsync: Fsync) -> None:
    try:
        os.link(temp, target)  # atomic, and EEXIST rather than a replace
        return
    except OSError as exc:
        if exc.errno not in _NO_LINK:
            raise
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    try:
        os.fchmod(fd, mode)
        view = memoryview(temp.read_bytes())
        while view:
            view = view[os.write(fd, view):]
        fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(target)
        raise
    os.close(fd)


def write_atomically(
    path: str | os.PathLike[str],
    data: bytes,
    *,
    fsync: Fsync = os.fsync,
    mode: int = 0o600,
    make_parents: bool = True,
) -> None:
    """Replace ``path`` with ``data``: temp file, fsync, rename, fsync the directory."""
    with replacing(path, fsync=fsync, mode=mode, make_parents=make_parents) as handle:
        handle.write(data)


def _sync_directory(directory: Path, fsync: Fsync) -> None:
    # Windows cannot open a directory; there the rename is already durable.
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        fsync(fd)
    finally:
        os.close(fd)


def os_error_name(exc: OSError) -> str:
    """The OS's name for an error (``ENOSPC``, ``EACCES``) for messages: never a path's content."""
    if exc.errno is not None:
        return errno.errorcode.get(exc.errno, str(exc.errno))
    return type(exc).__name__
