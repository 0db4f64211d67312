"""``n2net-privacy keygen``: make a server key pair for wire contract v1.

    n2net-privacy keygen > pub.pem              # x25519, a generated key id
    n2net-privacy keygen --kem x25519 --key-id k2026 > k2026.pub.pem
    n2net-privacy keygen --kem mlkem768-x25519 --key-id k2027 --out /etc/n2net/k2027.key

``--kem`` defaults to ``x25519`` and ``--key-id`` to a fresh id of the form
``kYYYYMMDD-xxxxxx`` (the date and six random hex digits), which the line on
stderr names. The private key goes to a file (``--out``, by default
``KEY_ID.key`` in the current directory) in the raw encoding of
docs/wire-format.md: 32 bytes for X25519, 96 for the hybrid (ML-KEM-768
seed, then X25519). The backend loads it with
``ServerKeyPair.from_private_raw(key_id, path.read_bytes())``, which is what
the reference ``IngestServer`` takes.

The public key goes to stdout as PEM and nothing else, so it can be
redirected straight into the app's configuration:
``ServerKey.from_pem(key_id, pem)`` reads it (one X25519 block, or an
ML-KEM-768 block then an X25519 block) and ``Endpoint(server_key=...)``,
``UploaderConfig(server_key=...)`` and ``set_server_keys`` take that key.

The private file is written through the CLI's one output helper
(:func:`~n2net_privacy.cli._output.open_output` with ``secret=True``): it is
readable by its owner only (0600) from the moment it exists, whatever the
umask, since ``mkstemp`` creates the temporary file with ``O_EXCL`` and mode
0600, and it is synced, then linked into place. An existing file is never
replaced unless ``--force`` is given (then it is replaced atomically); a
failure or Ctrl-C leaves nothing behind. ``--out -`` is refused: stdout
holds the public key. Bad input is one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final, TextIO

from n2net_privacy.cli._output import (
    PROG,
    OutputError,
    OutputExistsError,
    error,
    names_stdout,
    open_output,
)
from n2net_privacy.errors import ConfigurationError
from n2net_privacy.uploader.wire.seal import KeyKind, ServerKeyPair

__all__ = ["DEFAULT_KEM", "KEMS", "generated_key_id", "register", "run", "write_private_key"]

KEMS: Final[dict[str, KeyKind]] = {"x25519": "x25519", "mlkem768-x25519": "mlkem768x25519"}
"""``--kem`` values and the :class:`ServerKeyPair` kind each one makes."""
DEFAULT_KEM: Final = "x25519"

EXIT_OK = 0
EXIT_BAD_INPUT = 2
_COMMAND = "keygen"

_EPILOG = """\
output:
  stdout   the public key as PEM, for ServerKey.from_pem(KEY_ID, pem) in the app
  --out    the raw private key (32 or 96 bytes, mode 0600), for
           ServerKeyPair.from_private_raw(KEY_ID, data) on the server

exit codes:
  0    the key pair was made and the private key written
  2    bad input: an invalid key id, an existing file without --force,
       or a path that cannot be written
  130  interrupted (Ctrl-C): nothing was written

examples:
  n2net-privacy keygen > pub.pem
  n2net-privacy keygen --kem x25519 --key-id k2026 > k2026.pub.pem
  n2net-privacy keygen --kem mlkem768-x25519 --key-id k2027 --out keys/k2027.key
"""


class _BadInput(ConfigurationError):
    """Stop with exit code 2; the message is the one line the user sees."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``keygen`` subcommand."""
    parser = subparsers.add_parser(
        _COMMAND,
        help="make a server key pair: private key to a file, public key (PEM) to stdout",
        description="Make a server key pair for wire contract v1. The private key is\n"
        "written to --out (mode 0600); the public key is printed as PEM on stdout.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--kem", default=DEFAULT_KEM, choices=tuple(KEMS),
        help="x25519: DHKEM(X25519, HKDF-SHA256); mlkem768-x25519: the hybrid "
        "post-quantum KEM (HPKE KEM id 0x647A) (default: %(default)s)",
    )
    parser.add_argument(
        "--key-id", metavar="ID",
        help="the id sent in N2Net-Key-Id: 1-64 characters of [A-Za-z0-9._-] "
        "(default: a new one, kYYYYMMDD-xxxxxx, named on stderr)",
    )
    parser.add_argument(
        "--out", type=Path, default=None, metavar="PATH",
        help="where to write the private key (default: ./ID.key)",
    )
    parser.add_argument(
        "--force", action="store_true", help="replace PATH if it already exists",
    )
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    return run(
        kem=args.kem, key_id=args.key_id or generated_key_id(), out=args.out, force=args.force,
        stdout=sys.stdout, stderr=sys.stderr,
    )


def generated_key_id(
    now: Callable[[], float] = time.time, token: Callable[[int], str] = secrets.token_hex
) -> str:
    """A fresh key id, ``kYYYYMMDD-xxxxxx``: sortable by day, unique by its random part."""
    return f"k{time.strftime('%Y%m%d', time.gmtime(now()))}-{token(3)}"


def run(
    *,
    kem: str,
    key_id: str,
    out: Path | None,
    force: bool,
    stdout: TextIO,
    stderr: TextIO,
) -> int:
    """Make the pair, write the private key, print the public key; return the exit code."""
    try:
        kind = KEMS.get(kem)
        if kind is None:
            raise _BadInput(f"--kem must be one of {', '.join(KEMS)}")
        try:
            pair = ServerKeyPair.generate(kind, key_id=key_id)
        except ConfigurationError as exc:
            raise _BadInput(f"--key-id: {exc}") from None
        target = out if out is not None else Path(f"{key_id}.key")
        write_private_key(target, pair.private_bytes, force=force)
    except _BadInput as exc:
        error(_COMMAND, str(exc), stderr)
        return EXIT_BAD_INPUT
    stdout.write(pair.public_pem().decode("ascii"))
    stdout.flush()
    mode = " (mode 0600)" if target.is_file() else ""
    stderr.write(
        f"{PROG} {_COMMAND}: wrote the {kem} private key {key_id!r} to {target}{mode};"
        " the public key is on stdout\n"
    )
    return EXIT_OK


def write_private_key(path: Path, data: bytes, *, force: bool = False) -> None:
    """Write ``data`` to ``path``, owner-only from the start, whole or not at all.

    Raises :class:`~n2net_privacy.errors.ConfigurationError` with a one-line
    reason if ``path`` exists and ``force`` is false, or if it cannot be written.
    """
    if names_stdout(path):
        raise _BadInput(f"--out {path} is refused: stdout holds the public key; name a file")
    if path.is_dir():
        raise _BadInput(f"{path} is a directory; --out names the private key file")
    try:
        with open_output(path, secret=True, binary=True, overwrite=force) as handle:
            handle.write(data)
    except OutputExistsError:
        raise _BadInput(f"{path} already exists; pass --force to replace it") from None
    except OutputError as exc:
        raise _BadInput(str(exc)) from None
