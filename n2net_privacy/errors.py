"""The one exception tree of n2net_privacy.

Exceptions are for programmer and configuration errors, and for bad input the
caller handed us. A permission denial, a network fault or a disabled Settings
toggle is never an exception: it is a value the app renders.

    N2NetPrivacyError
    ├── ConfigurationError              the app or SDK is set up wrongly
    │   ├── MissingUsageDescriptionError    iOS Info.plist lacks NSContactsUsageDescription
    │   ├── EgressPolicyError               a request the egress policy forbids
    │   ├── InvalidArgumentError            a bad argument value (also a ValueError)
    │   │   └── InvalidUrlError                 a configured URL the egress door refuses
    │   ├── InvalidArgumentTypeError        an argument of the wrong type (also a TypeError)
    │   └── OutputError                     a CLI output path refused or unwritable (exit 2)
    │       └── OutputExistsError               the path exists and overwriting was not asked
    ├── StorageError                    a file the SDK keeps cannot be read or written
    ├── CorruptStateError               a kept file's content is no known format (also a
    │                                   ValueError; StateFile.load turns it into the defaults)
    ├── PermissionModelError            misuse of the permission simulation
    │   ├── UnknownPermissionError          a permission the platform has never heard of
    │   ├── InvalidTransitionError          a change the real platform would not allow
    │   └── UserScriptExhaustedError        a scripted user ran out of answers
    ├── AddressBookError                a malformed address book (names the record/line)
    │   └── VCardSyntaxError                a vCard line that breaks the grammar (.line, .card)
    ├── AuditInputError                 an input of the privacy audit that cannot be used
    │   ├── ManifestError                   a privacy manifest the audit cannot read
    │   ├── HarError                        a capture that is not a readable HAR file (.entry)
    │   └── DestinationPolicyError          a destinations policy file that cannot be used
    ├── PhoneNumberError                a number that cannot be normalized (.reason)
    ├── NetworkError                    network trouble; SDK features turn it into a value
    │   ├── NetworkTimeout                  the request timed out
    │   ├── PinMismatchError                the server's key is not the pinned one
    │   └── RelayTooLargeError              the OHTTP relay refused a request's size (outer 413)
    ├── ObliviousHttpError              Oblivious HTTP trouble (uploads and avatars both use it)
    │   └── KeyConfigMismatchError          a key id or algorithms the gateway does not hold
    ├── GravatarError                   bad arguments to the Gravatar URL builder
    ├── UploaderError                   uploader misuse or a broken wire contract
    │   ├── WireFormatError                 a body or reply that breaks wire contract v1
    │   └── KeyStoreError                   the at-rest key cannot be loaded or created
    ├── ClosedError                     an object used after its close()
    ├── ServerNotRunningError           a test server used before start() (also a RuntimeError)
    ├── ScenarioError                   a malformed QA scenario file (names the line)
    └── QAVerdict                       a QA tool's verdict on a server, raised to be caught
        ├── CheckFailed                     a conformance check's contract was broken
        ├── CheckSkipped                    a conformance check could not be judged this run
        └── BatchFailed                     a load-test batch without a 2xx, reported to Locust

``InvalidUrlError`` is also an ``EgressPolicyError``: the door's rules refused
the URL, at construction rather than at the first request. ``StorageError``
is not a ``ConfigurationError``: a full disk or a read-only folder is the
device's state, not a mistake in the app's setup.

Classes defined elsewhere before are still importable from there
(``n2net_privacy.audit.har.HarError``, ``n2net_privacy.cli._output.OutputError``,
``n2net_privacy.testing.conformance.CheckFailed``, ...): the same objects.

Every argument error names the parameter and says what to pass instead; it
is also the built-in exception Python code expects for that mistake
(``TypeError`` for a wrong type, ``ValueError`` for a bad value), so
``except ValueError`` written for the standard library keeps working. The
helpers in :mod:`n2net_privacy.checks` raise them, and ``ClosedError``, the
same way everywhere.

Messages never contain a raw phone number, email address or contact name; the
helpers in :mod:`n2net_privacy.redact` produce the forms that may appear.
Third-party exceptions are mapped at the boundary and raised ``from`` the
original, so no foreign exception type leaks into app code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from n2net_privacy.phone import PhoneNumberErrorReason

__all__ = [
    "AddressBookError",
    "AuditInputError",
    "BatchFailed",
    "CheckFailed",
    "CheckSkipped",
    "ClosedError",
    "ConfigurationError",
    "CorruptStateError",
    "DestinationPolicyError",
    "EgressPolicyError",
    "GravatarError",
    "HarError",
    "InvalidArgumentError",
    "InvalidArgumentTypeError",
    "InvalidTransitionError",
    "InvalidUrlError",
    "KeyConfigMismatchError",
    "KeyStoreError",
    "ManifestError",
    "MissingUsageDescriptionError",
    "N2NetPrivacyError",
    "NetworkError",
    "NetworkTimeout",
    "ObliviousHttpError",
    "OutputError",
    "OutputExistsError",
    "PermissionModelError",
    "PhoneNumberError",
    "PinMismatchError",
    "QAVerdict",
    "RelayTooLargeError",
    "ScenarioError",
    "ServerNotRunningError",
    "StorageError",
    "UnknownPermissionError",
    "UploaderError",
    "UserScriptExhaustedError",
    "VCardSyntaxError",
    "WireFormatError",
]


class N2NetPrivacyError(Exception):
    """Base class of every exception the SDK raises on purpose."""


class ConfigurationError(N2NetPrivacyError):
    """The app or the SDK is configured in a way that cannot work."""


class MissingUsageDescriptionError(ConfigurationError):
    """iOS would terminate the app: the usage description string is missing.

    A real iOS app that requests contacts access without
    ``NSContactsUsageDescription`` in its Info.plist is killed by the system.
    The simulation raises instead of pretending the user said no.
    """


class EgressPolicyError(ConfigurationError):
    """A request was refused by the egress policy before it left the device.

    Raised for a host outside the purpose's allowlist, plaintext HTTP, or a
    request an auditor in block mode refused. ``purpose`` and ``host`` say
    which rule fired; neither ever carries PII.
    """

    def __init__(self, message: str, *, purpose: str, host: str) -> None:
        super().__init__(message)
        self.purpose = purpose
        self.host = host


class StorageError(N2NetPrivacyError):
    """A file the SDK keeps (Settings, learned permission state) cannot be read or written.

    A full disk (``ENOSPC``), a read-only or unwritable directory (``EACCES``,
    ``EROFS``) or a path that is not a file. ``path`` names the file;
    ``errno`` is the operating system's error number when there is one. The
    message never quotes the file's content. Raised only where a change
    cannot count unless it is saved (a grant of consent); a revocation that
    cannot be saved still holds and is reported instead of raised. Not a
    :class:`ConfigurationError`: the app is set up right, the device is not.
    """

    def __init__(self, message: str, *, path: str, errno: int | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.errno = errno


class CorruptStateError(N2NetPrivacyError, ValueError):
    """A state file's content is not a format the SDK knows (raised by a state-file parser).

    Never escapes :meth:`~n2net_privacy.state_file.StateFile.load`, which
    turns it into the defaults (which deny) and logs the exception type.
    """


class InvalidArgumentError(ConfigurationError, ValueError):
    """An argument the app passed is out of range or malformed: a programmer error.

    Also a :class:`ValueError`, so code that caught the bare ``ValueError``
    these calls raised before keeps working. The message names the argument,
    never a contact's data.
    """


class InvalidUrlError(EgressPolicyError, InvalidArgumentError):
    """A URL the app configured (``api_url``, ``base_url``, ...) that egress refuses.

    Raised when the object is built, not at the first request. Both an
    :class:`EgressPolicyError` (``purpose`` and ``host`` say which rule
    fired) and a :class:`ValueError`. The message says what to change:
    ``https://`` for ``http://`` or ``ftp://``, and
    ``EgressPolicy(test_mode=True)`` for a loopback test server.
    """


class InvalidArgumentTypeError(ConfigurationError, TypeError):
    """An argument of the wrong type: a programmer error.

    Also a :class:`TypeError`. The message names the parameter, the type it
    wants and the type it got, never the value (it may be a phone number).
    """


class OutputError(ConfigurationError):
    """An output path that is refused or cannot be written; the CLI exits 2.

    The message is the one line the user sees, naming the path. Also
    importable as ``n2net_privacy.cli._output.OutputError``.
    """


class OutputExistsError(OutputError):
    """``overwrite=False`` and the path already exists."""


class ClosedError(N2NetPrivacyError):
    """An object was used after its ``close()``. ``name`` says which object.

    Closing lets go of files, threads and listeners for good: build a new
    object instead of reusing a closed one.
    """

    def __init__(self, name: str) -> None:
        super().__init__(f"this {name} is closed: build a new {name} instead of reusing it")
        self.name = name


class PermissionModelError(N2NetPrivacyError):
    """The permission simulation was asked to do something impossible."""


class UnknownPermissionError(PermissionModelError):
    """A permission the provider does not know."""


class InvalidTransitionError(PermissionModelError):
    """A state change the real platform would not allow.

    For example: the user changing a RESTRICTED (MDM) permission in Settings,
    or choosing limited access on iOS before 18.
    """


class UserScriptExhaustedError(PermissionModelError):
    """A scripted user was shown a prompt it had no answer left for.

    The test or demo script did not expect this dialog; the message says which.
    """


class AddressBookError(N2NetPrivacyError):
    """A malformed address book. Nothing from it was loaded.

    ``source`` names the file (or ``"<memory>"``), ``location`` the record
    index or line number that is wrong. The message says what is wrong
    without quoting names, numbers or emails.
    """

    def __init__(self, message: str, *, source: str, location: str | None = None) -> None:
        where = f"{source}:{location}" if location else source
        super().__init__(f"{where}: {message}")
        self.source = source
        self.location = location


class VCardSyntaxError(AddressBookError):
    """A problem at ``line`` (1-based), in card ``card`` if inside one. Quotes no value.

    ``reason`` says what is wrong. The vCard reader turns it into an
    :class:`AddressBookError` naming the file, or into a dropped value.
    Also importable as ``n2net_privacy.contacts.vcard_lines.VCardSyntaxError``.
    """

    def __init__(self, reason: str, line: int, card: int | None = None) -> None:
        where = f"card {card} (line {line})" if card is not None else f"line {line}"
        super().__init__(reason, source="<vcard>", location=where)
        self.reason = reason
        self.line = line
        self.card = card


class AuditInputError(N2NetPrivacyError):
    """An input of the privacy audit (manifest, HAR capture, destinations policy) is unusable.

    The message names the file and what is wrong with it, never its content.
    """


class ManifestError(AuditInputError):
    """A privacy manifest (``PrivacyInfo.xcprivacy`` or Data safety JSON) that cannot be used.

    The message names the file and what is wrong with it.
    """


class HarError(AuditInputError):
    """A capture that is not a readable HAR file. ``entry`` is the index, when known.

    Also importable as ``n2net_privacy.audit.har.HarError``.
    """

    def __init__(self, message: str, *, entry: int | None = None) -> None:
        super().__init__(f"entry {entry}: {message}" if entry is not None else message)
        self.entry = entry


class DestinationPolicyError(AuditInputError):
    """A destinations policy file that cannot be used; the message says where and why.

    Also importable as ``n2net_privacy.audit.destinations.DestinationPolicyError``.
    """


class PhoneNumberError(N2NetPrivacyError, ValueError):
    """A phone number that cannot be normalized to E.164.

    ``reason`` says why; ``redacted`` is a safe form of the input, such as
    ``+1******2671``. The raw input is never stored on the exception.
    """

    def __init__(self, reason: PhoneNumberErrorReason, redacted: str) -> None:
        super().__init__(f"cannot normalize {redacted}: {reason.value}")
        self.reason = reason
        self.redacted = redacted


class NetworkError(N2NetPrivacyError):
    """A request could not complete: connection, TLS or protocol trouble.

    Raised by the egress clients only; Gravatar and the uploader turn it into
    "no avatar" and "retry later", so it never reaches app code from them.
    """


class NetworkTimeout(NetworkError):
    """A request timed out."""


class PinMismatchError(NetworkError):
    """The server's SPKI SHA-256 is not among the pins. Nothing was sent."""


class ObliviousHttpError(N2NetPrivacyError):
    """Oblivious HTTP (RFC 9458) trouble that is neither a network fault nor a wire-v1 break.

    Its own branch, not under :class:`UploaderError`: the uploader and the
    Gravatar fetcher both send through a relay. A device never sees one of
    these: the oblivious client turns them into "retry later" values.
    """


class KeyConfigMismatchError(ObliviousHttpError):
    """The request names a key id or algorithms the gateway does not hold.

    A gateway answers it with the RFC 9458 §5.3 ``ohttp-key`` problem; a
    client treats it as "look at the key configuration again", never as
    data loss, and never as a reason to drop its pinned keys. Also
    importable as ``n2net_privacy.ohttp.KeyConfigMismatchError``.
    """


class RelayTooLargeError(NetworkError):
    """The Oblivious HTTP relay answered 413 to an encapsulated request.

    The relay cannot see what is inside, so the uploader splits the batch
    while it holds more than one event and otherwise retries later: a relay
    that forges a 413 cannot make events be thrown away.
    """


class GravatarError(N2NetPrivacyError, ValueError):
    """Bad arguments to the Gravatar hash or URL builder."""


class UploaderError(N2NetPrivacyError):
    """The uploader was misused or its contract was broken."""


class WireFormatError(UploaderError):
    """A body or server reply that does not follow wire contract v1.

    ``paths`` names the offending fields (``"events.0.number"``), never their
    values, so a server can echo them back to the client.
    """

    def __init__(self, message: str, *, paths: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.paths = paths


class KeyStoreError(UploaderError):
    """The at-rest encryption key cannot be loaded or created."""


class ScenarioError(N2NetPrivacyError):
    """A QA scenario file that cannot be run. ``line`` says where, ``problem`` what."""

    def __init__(self, message: str, *, line: int | None = None) -> None:
        super().__init__(f"line {line}: {message}" if line is not None else message)
        self.line = line
        self.problem = message


class ServerNotRunningError(N2NetPrivacyError, RuntimeError):
    """A loopback test server's address was asked for before ``start()`` or after ``close()``.

    Also a :class:`RuntimeError`, which it was before it joined the tree.
    """


class QAVerdict(N2NetPrivacyError):
    """A QA tool's verdict on a server under test, raised to be caught by the tool itself.

    Not an SDK failure: the conformance runner turns these into a check's
    result, and the Locust user hands them to Locust's statistics.
    """


class CheckFailed(QAVerdict):
    """The server broke the check's contract sentence; the message says how."""


class CheckSkipped(QAVerdict):
    """The check could not be judged in this run; the message says why."""


class BatchFailed(QAVerdict):
    """A batch attempt that did not end in 2xx; the message is the status, never the body."""
