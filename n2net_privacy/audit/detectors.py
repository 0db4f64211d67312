"""Find an address book's PII in text, however it is encoded. Pure, no I/O.

Built once per address book, :class:`PiiDetector` answers "which of these
emails, names and numbers does this text contain?" in time linear in the
text, whatever the size of the book:

* **emails**: at each ``@``, the few characters on each side are looked up
  in sets keyed by the known domains (as written and in punycode) and
  local-part lengths; any case; a local part of 4+ characters also matches
  on its own, as a whole token;
* **email hashes**: every 32-, 40- or 64-digit hex run and every base64 run
  of a digest's length is looked up among the MD5, SHA-1 and SHA-256 of the
  known emails, normalized and as written (Gravatar's ids; the auditor allows
  them only in a Gravatar request path while Gravatar is on);
* **names**: the text is NFKC-normalized, stripped of zero-width characters,
  accent-folded, case-folded and split into words; a contact's given and
  family names of 3+ letters match as whole words, and the full display name
  as a run of words; a name in a script written without spaces (CJK, Thai...)
  matches as a substring;
* **numbers**: digit runs, with any non-digit run of one or two characters
  between digits (spaces, dots, commas, underscores, Unicode dashes, a JSON
  ``","``), are looked up by their substrings among the national significant
  numbers of the book, so E.164, national, ``00``/``011``-prefixed and
  punctuated forms all match. The digits inside a known email digest are not
  read as a number: they belong to the hash.

Every layer from :func:`~n2net_privacy.audit.decoding.expand` is searched,
so percent-encoded and base64 (standard or URL-safe, at any offset) values
are found too. A text longer than :data:`WINDOW_CHARS` is searched in
overlapping windows (:meth:`PiiDetector.scan_windows`), so the memory a scan
takes does not grow with the text. A :class:`PiiMatch` carries only the
redacted form.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

import phonenumbers

from n2net_privacy.audit.decoding import Encoding, expand_checked
from n2net_privacy.phone import load_phone_metadata
from n2net_privacy.redact import redact_email, redact_name, redact_phone

__all__ = [
    "WINDOW_CHARS",
    "AddressBookPii",
    "ContactLike",
    "PhoneLike",
    "PiiDetector",
    "PiiKind",
    "PiiMatch",
    "fold",
    "strip_accents",
]


class PiiKind(StrEnum):
    """What kind of personal data a match is."""

    EMAIL = "email"
    EMAIL_HASH = "email hash"
    NAME = "name"
    PHONE = "phone"
    NOT_INSPECTED = "not inspected"


@dataclass(frozen=True, slots=True)
class PiiMatch:
    """One piece of the book's PII found in a text; ``redacted`` is safe to show."""

    kind: PiiKind
    encoding: Encoding
    redacted: str
    ref: int = 0
    """Which entry of the book matched (its position, never its value)."""

    def describe(self) -> str:
        return f"{self.kind.value} {self.redacted} ({self.encoding.value})"


class PhoneLike(Protocol):
    """A labelled number, as :class:`~n2net_privacy.contacts.model.ContactPhone`."""

    @property
    def number(self) -> str: ...


class ContactLike(Protocol):
    """What the detector reads from a contact (a ``Contact`` fits)."""

    @property
    def display_name(self) -> str: ...

    @property
    def phones(self) -> Sequence[PhoneLike]: ...

    @property
    def emails(self) -> Sequence[str]: ...


@dataclass(frozen=True)
class AddressBookPii:
    """The raw PII the auditor must never see leave: names, emails, numbers."""

    names: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    numbers: tuple[str, ...] = ()

    @classmethod
    def from_contacts(cls, contacts: Iterable[ContactLike]) -> AddressBookPii:
        names: list[str] = []
        emails: list[str] = []
        numbers: list[str] = []
        for contact in contacts:
            if contact.display_name.strip():
                names.append(contact.display_name)
            emails.extend(contact.emails)
            numbers.extend(phone.number for phone in contact.phones)
        return cls(tuple(names), tuple(emails), tuple(numbers))


# Letters NFKD does not decompose, spelled the way people type them without accents.
_UNDECOMPOSED = str.maketrans(
    {"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "đ": "d", "Đ": "D", "ð": "d", "Ð": "D",
     "ß": "ss", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "\u0131": "i", "þ": "th", "Þ": "Th"}
)
_COMBINING = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")


def strip_accents(text: str) -> str:
    """``"Zoë Ødegaard"`` becomes ``"Zoe Odegaard"``; case is kept."""
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text.translate(_UNDECOMPOSED))
    return _COMBINING.sub("", decomposed)


# Scripts written without spaces between words (Thai, Lao, Myanmar, kana, CJK,
# Hangul): a name in them is also looked for with its spaces taken out.
_UNSPACED_RANGES = (
    (0x0E00, 0x0EFF), (0x1000, 0x109F), (0x3040, 0x30FF), (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF), (0xAC00, 0xD7AF), (0xF900, 0xFAFF),
)


def _has_unspaced_script(text: str) -> bool:
    """Whether ``text`` has a letter of a script written without spaces (:data:`_UNSPACED_RANGES`).

    A scan, not a regular expression: a character class this wide takes 2 ms
    to compile, which every app would pay when it imports the SDK.
    """
    if text.isascii():
        return False
    return any(low <= ord(char) <= high for char in text for low, high in _UNSPACED_RANGES)


def fold(text: str) -> str:
    """Accent-folded and case-folded: the form names are compared in."""
    return text.lower() if text.isascii() else strip_accents(text).casefold()


_WORD = re.compile(r"[^\W_]+")
_HEX = re.compile(r"(?<![0-9a-f])(?:[0-9a-f]{64}|[0-9a-f]{40}|[0-9a-f]{32})(?![0-9a-f])")
_HEX_ANY_CASE = re.compile(_HEX.pattern, re.IGNORECASE)
# A base64 digest (MD5 22, SHA-1 27, SHA-256 43 letters, padding stripped) starts at
# the start of a run of base64 letters or just after a separator inside it: ``/`` and
# ``+`` (standard) and ``_`` and ``-`` (URL-safe) are letters too, so in
# ``/avatar/<digest>`` the digest is the tail of one longer run.
_B64_RUN = re.compile(r"[A-Za-z0-9+/_-]{22,}")
_B64_DIGEST_LENGTHS = (43, 27, 22)
_B64_SEPARATOR = re.compile(r"[+/_-]")
# Any one or two non-digit characters may sit between the digits of a number.
# (or a longer run of the punctuation people type: " - ", ") ").
_DIGIT_RUN = re.compile(
    r"[0-9](?:(?:[^0-9]{0,2}|[\s().\-/+_,\u2010-\u2015\u2212\u30fc]+)[0-9])*"
)
_LOCAL_TOKEN = re.compile(r"[a-z0-9][a-z0-9._%+-]{2,}[a-z0-9]")
_ZERO_WIDTH = re.compile("[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
_MIN_LOCAL = 4
# Role mailboxes: as lone words they are ordinary traffic ("info", "support").
_ROLE_LOCALS = frozenset(
    {"info", "admin", "test", "mail", "email", "support", "contact", "hello", "office",
     "sales", "noreply", "no-reply", "user", "team", "help", "billing", "webmaster"}
)
_DIGESTS = (("md5", Encoding.MD5), ("sha1", Encoding.SHA1), ("sha256", Encoding.SHA256))
_NOT_DIGIT = re.compile(r"[^0-9]")
_MIN_TOKEN = 3
_MIN_NUMBER_DIGITS = 6
_CACHED_LENGTH = 256
_CACHE_ENTRIES = 8192
WINDOW_CHARS = 64 * 1024
"""A text longer than this is scanned in overlapping windows (:meth:`PiiDetector.scan_windows`)."""
# The longest value on the wire, from the longest value of the book: base64 of
# percent-encoded UTF-8 (4/3 x 9) or HTML entities (10 per character) stay under 16x.
_WIDEST_ENCODING = 16
_MIN_OVERLAP = 4096
_SLACK = 256  # a window edge moves at most this far to fall between words
_EDGE = re.compile(r"[\s\"'<>,;&]")
_LAST_EDGE = re.compile(r".*[\s\"'<>,;&]", re.DOTALL)
# Name particles and web words: as lone tokens they are everywhere in traffic.
_NOT_A_NAME = frozenset(
    {"van", "von", "der", "den", "del", "della", "dos", "das", "bin", "ibn", "the", "and",
     "com", "net", "org", "www", "http", "https", "api", "mail"}
)


_Entry = tuple[str, int]  # (redacted form, position in the book)


def _parse_number(raw: str, region: str | None) -> tuple[str, str] | None:
    """``(national significant number, E.164)`` of a stored number, if it parses."""
    for attempt in (None, region) if region else (None,):
        try:
            parsed = phonenumbers.parse(raw, attempt)
        except phonenumbers.NumberParseException:
            continue
        e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
        return str(phonenumbers.national_significant_number(parsed)), e164
    return None


class PiiDetector:
    """Matchers for one address book, precomputed once; :meth:`scan` is the hot path.

    ``region`` reads numbers stored without ``+`` (``"(201) 555-0123"`` with
    ``"US"``); without it such a number is matched by its digits as typed,
    minus a leading trunk ``0``.
    """

    def __init__(self, pii: AddressBookPii, *, region: str | None = None) -> None:
        self._email_index: dict[str, dict[int, dict[str, _Entry]]] = {}
        self._hashes: dict[str, tuple[Encoding, _Entry]] = {}
        self._b64_hashes: dict[str, tuple[Encoding, _Entry]] = {}
        self._locals: dict[str, _Entry] = {}
        self._unspaced: list[tuple[str, _Entry]] = []
        for ref, email in enumerate(pii.emails):
            self._add_email(ref, email)
        self._domain_lengths = tuple(sorted({len(d) for d in self._email_index}))
        self._tokens: dict[str, _Entry] = {}
        self._full_names: dict[str, list[tuple[tuple[str, ...], _Entry]]] = {}
        for ref, name in enumerate(pii.names):
            self._add_name(ref, name)
        self._numbers: dict[str, _Entry] = {}
        if pii.numbers:
            load_phone_metadata()
        for ref, number in enumerate(pii.numbers):
            self._add_number(ref, number, region)
        self._number_lengths = tuple(sorted({len(n) for n in self._numbers}))
        longest = max((len(v) for v in (*pii.names, *pii.emails, *pii.numbers)), default=0)
        # A number is written with at most ~2 separators per digit plus a prefix.
        longest = max(longest, 3 * max(self._number_lengths, default=0) + 8, 64)
        self.overlap = max(_MIN_OVERLAP, _WIDEST_ENCODING * longest + 2 * _SLACK)
        """How much consecutive windows of :meth:`scan_windows` share, in characters."""
        # Headers, hosts and paths repeat request after request; remember their verdicts.
        self._cache: dict[tuple[str, bool], tuple[PiiMatch, ...]] = {}

    def _add_email(self, ref: int, email: str) -> None:
        normal = email.strip().lower()
        local, at, domain = normal.rpartition("@")
        if not (at and local and domain):
            return
        entry = (redact_email(normal), ref)
        for form in _domain_forms(domain):
            self._email_index.setdefault(form, {}).setdefault(len(local), {})[local] = entry
        for part in {local, local.split("+", 1)[0]}:
            if len(part) >= _MIN_LOCAL and part not in _ROLE_LOCALS:
                self._locals.setdefault(part, entry)
        for written in {normal, email, email.strip()}:
            encoded = written.encode("utf-8")
            for algorithm, encoding in _DIGESTS:
                digest = hashlib.new(algorithm, encoded, usedforsecurity=False).digest()
                self._hashes[digest.hex()] = (encoding, entry)
                for b64 in (base64.b64encode(digest), base64.urlsafe_b64encode(digest)):
                    self._b64_hashes[b64.decode("ascii").rstrip("=")] = (encoding, entry)

    def _add_name(self, ref: int, name: str) -> None:
        words = tuple(_WORD.findall(fold(name)))
        if not words:
            return
        entry = (redact_name(name), ref)
        self._full_names.setdefault(words[0], []).append((words, entry))
        if _has_unspaced_script(name):
            compact = "".join(words)
            if len(compact) >= 2:
                self._unspaced.append((compact, entry))
        if "@" in name:  # an email typed as a name: its words are web words
            return
        for word in words:
            if len(word) >= _MIN_TOKEN and word not in _NOT_A_NAME and not word.isdigit():
                self._tokens.setdefault(word, entry)

    def _add_number(self, ref: int, raw: str, region: str | None) -> None:
        parsed = _parse_number(raw, region)
        if parsed is None:
            # National form of an unknown region: without its trunk prefix the
            # digits are a substring of the E.164 form too (UK 020..., FR 06...).
            digits, redacted = _NOT_DIGIT.sub("", raw).lstrip("0"), redact_phone(raw)
        else:
            digits, redacted = parsed[0], redact_phone(parsed[1])
        if len(digits) >= _MIN_NUMBER_DIGITS:
            self._numbers.setdefault(digits, (redacted, ref))

    @property
    def empty(self) -> bool:
        """True when the book has nothing to look for."""
        return not (self._email_index or self._tokens or self._full_names or self._numbers
                    or self._locals)

    def scan(self, text: str, *, phones: bool = True) -> tuple[PiiMatch, ...]:
        """Every distinct PII of the book found in ``text`` or any layer under it.

        ``phones=False`` skips numbers (where numbers are allowed).
        """
        if not text or self.empty:
            return ()
        short = len(text) <= _CACHED_LENGTH
        if short:
            cached = self._cache.get((text, phones))
            if cached is not None:
                return cached
        found: dict[tuple[PiiKind, int], PiiMatch] = {}
        expanded = expand_checked(text)
        for layer, how in expanded.layers:
            for match in self._scan_layer(layer, how, phones=phones):
                found.setdefault((match.kind, match.ref), match)
        if expanded.truncated:
            found[(PiiKind.NOT_INSPECTED, 0)] = PiiMatch(
                PiiKind.NOT_INSPECTED, Encoding.PLAIN,
                "encoded too deep or too large to decode fully",
            )
        result = tuple(found.values())
        if short:
            if len(self._cache) >= _CACHE_ENTRIES:
                self._cache.clear()  # crude but bounded; the hot set refills at once
            self._cache[(text, phones)] = result
        return result

    def scan_windows(
        self, text: str, *, phones: bool = True, window: int = WINDOW_CHARS
    ) -> tuple[PiiMatch, ...]:
        """:meth:`scan` for a long text, in overlapping windows of ``window`` characters.

        Memory is a few times ``window``, not a few times ``text``: each window
        is decoded and folded on its own. Consecutive windows share
        :attr:`overlap` characters (16 times the longest value of the book,
        so a value encoded on the wire fits whole in one of them), and an edge
        moves to the nearest space or delimiter within 256 characters, so a
        cut word is not read as a shorter one. What a whole-text scan reads
        only across values farther apart than the overlap (a digit run longer
        than it) is not seen.
        """
        if len(text) <= window + self.overlap:
            return self.scan(text, phones=phones)
        found: dict[tuple[PiiKind, int], PiiMatch] = {}
        step = window
        start = 0
        while start < len(text):
            end = min(len(text), start + window + self.overlap)
            lo, hi = start, end
            if lo > 0:
                edge = _EDGE.search(text, lo, lo + _SLACK)
                lo = edge.end() if edge is not None else lo
            if hi < len(text):
                last = _LAST_EDGE.match(text, hi - _SLACK, hi)
                hi = last.end() if last is not None else hi
            piece = text[lo:hi]
            for match in self.scan(piece, phones=phones):
                found.setdefault((match.kind, match.ref), match)
            del piece
            if end >= len(text):
                break
            start += step
        return tuple(found.values())

    def scan_bytes(self, data: bytes, *, phones: bool = True) -> tuple[PiiMatch, ...]:
        """:meth:`scan` for a body: read as UTF-8, or as Latin-1 when it is not."""
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("latin-1")
        return self.scan(text, phones=phones)

    def _scan_layer(self, layer: str, how: Encoding, *, phones: bool) -> Iterator[PiiMatch]:
        if not layer.isascii():
            layer = unicodedata.normalize("NFKC", _ZERO_WIDTH.sub("", layer))
        low = layer.lower()
        if self._email_index and "@" in low:
            yield from self._emails(low, how)
        if self._locals:
            for token in _LOCAL_TOKEN.findall(low):
                entry = self._locals.get(token)
                if entry is not None:
                    yield PiiMatch(PiiKind.EMAIL, how, *entry)
        if self._hashes:
            yield from self._digests(layer, low)
        if self._unspaced:
            compact = "".join(_WORD.findall(fold(layer)))
            for name, entry in self._unspaced:
                if name in compact:
                    yield PiiMatch(PiiKind.NAME, how, *entry)
        if self._full_names:
            yield from self._names(layer, how)
        if phones and self._numbers:
            yield from self._phones(self._without_digests(layer) if self._hashes else layer, how)

    def _without_digests(self, layer: str) -> str:
        """``layer`` with each known email digest blanked out.

        A digest's digits are the hash's, not a number: in a big book some
        32-hex Gravatar id holds, among its letters, the digits of some
        contact's number (a 20,000-contact demo found two).
        """
        def blank(match: re.Match[str]) -> str:
            run = match.group(0)
            return "#" * len(run) if self._hashes.get(run.lower()) is not None else run

        layer = _HEX_ANY_CASE.sub(blank, layer)
        spans = [(start, end) for start, end, _ in self._b64_digest_hits(layer)]
        if not spans:
            return layer
        chars = list(layer)
        for start, end in spans:
            chars[start:end] = "#" * (end - start)
        return "".join(chars)

    def _digests(self, layer: str, low: str) -> Iterator[PiiMatch]:
        for hexrun in _HEX.findall(low):
            hit = self._hashes.get(hexrun)
            if hit is not None:
                yield PiiMatch(PiiKind.EMAIL_HASH, hit[0], *hit[1])
        for _, _, hit in self._b64_digest_hits(layer):
            yield PiiMatch(PiiKind.EMAIL_HASH, hit[0], *hit[1])

    def _b64_digest_hits(
        self, layer: str
    ) -> Iterator[tuple[int, int, tuple[Encoding, _Entry]]]:
        """``(start, end, hit)`` of each known base64 digest in ``layer``.

        Only exact known digests count, so trying every start after a separator
        cannot flag a random token: at most a few lookups per separator.
        """
        for run in _B64_RUN.finditer(layer):
            text, offset = run.group(0), run.start()
            starts = [0, *(m.end() for m in _B64_SEPARATOR.finditer(text))]
            for start in starts:
                for length in _B64_DIGEST_LENGTHS:
                    if start + length > len(text):
                        continue
                    hit = self._b64_hashes.get(text[start : start + length])
                    if hit is not None:
                        yield offset + start, offset + start + length, hit
                        break

    def _emails(self, low: str, how: Encoding) -> Iterator[PiiMatch]:
        at = low.find("@")
        while at != -1:
            for length in self._domain_lengths:
                by_local_length = self._email_index.get(low[at + 1 : at + 1 + length])
                if by_local_length is None:
                    continue
                for local_length, locals_ in by_local_length.items():
                    if at < local_length:
                        continue
                    entry = locals_.get(low[at - local_length : at])
                    if entry is not None:
                        yield PiiMatch(PiiKind.EMAIL, how, *entry)
            at = low.find("@", at + 1)

    def _names(self, layer: str, how: Encoding) -> Iterator[PiiMatch]:
        words = _WORD.findall(fold(layer))
        for index, word in enumerate(words):
            entry = self._tokens.get(word)
            if entry is not None:
                yield PiiMatch(PiiKind.NAME, how, *entry)
            for full, full_entry in self._full_names.get(word, ()):
                if tuple(words[index : index + len(full)]) == full:
                    yield PiiMatch(PiiKind.NAME, how, *full_entry)

    def _phones(self, layer: str, how: Encoding) -> Iterator[PiiMatch]:
        shortest = self._number_lengths[0]
        for run in _DIGIT_RUN.findall(layer):
            digits = _NOT_DIGIT.sub("", run) if len(run) >= shortest else ""
            for length in self._number_lengths:
                if length > len(digits):
                    break
                for start in range(len(digits) - length + 1):
                    entry = self._numbers.get(digits[start : start + length])
                    if entry is not None:
                        yield PiiMatch(PiiKind.PHONE, how, *entry)

    def redact_path(self, path: str) -> str:
        """``path`` with each segment that carries PII replaced by what it carries.

        >>> detector.redact_path("/u/ann@example.com/avatar")  # doctest: +SKIP
        '/u/[email]/avatar'
        """
        if self.empty:
            return path
        found = self.scan(path)
        if not found:
            return path
        masked = "/".join(_masked(segment, self.scan(segment)) for segment in path.split("/"))
        if self.scan(masked) or masked == path:
            # The value spans segments (``/contacts/215/555/2671``): no segment
            # alone carries it, so the whole path goes.
            return "/" + _masked("*", found)
        return masked


def _domain_forms(domain: str) -> set[str]:
    """The domain as written, in punycode (``xn--``) and in Unicode."""
    forms = {domain}
    with contextlib.suppress(UnicodeError):
        forms.add(domain.encode("idna").decode("ascii"))
    with contextlib.suppress(UnicodeError):
        forms.add(domain.encode("ascii").decode("idna").lower())
    return forms


def _masked(segment: str, matches: tuple[PiiMatch, ...]) -> str:
    if not segment or not matches:
        return segment
    return "[" + ", ".join(sorted({m.kind.value for m in matches})) + "]"

