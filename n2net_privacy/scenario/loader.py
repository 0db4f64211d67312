"""Load a scenario file: bytes, JSON, schema, address book, references, in that order.

Each stage that fails raises :class:`~n2net_privacy.errors.ScenarioError`
with the line of the problem, so ``n2net-privacy audit`` can print
``SCENARIO.json:LINE: what is wrong``. A scenario that loads is one the
runner can start; what remains possible at run time is a platform refusing
a step (see :mod:`~n2net_privacy.scenario.runner`).

>>> loaded = parse_scenario('''{"version": 1,
...   "platform": {"os": "android", "api_level": 34},
...   "address_book": {"synthetic": {"count": 5, "seed": 1}},
...   "steps": [{"step": "list_contacts"}]}''')
>>> len(loaded.book), loaded.step_line(0)
(5, 4)
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from n2net_privacy.contacts import Contact, JsonAddressBook, VCardAddressBook
from n2net_privacy.errors import AddressBookError, ConfigurationError, ScenarioError
from n2net_privacy.scenario.checks import scenario_problems
from n2net_privacy.scenario.locate import (
    JsonPath,
    JsonPositions,
    decode_text,
    parse_json,
    problem_at,
    schema_error,
)
from n2net_privacy.scenario.model import AddressBookSpec, Scenario
from n2net_privacy.testing.synthetic import synthetic_address_book

__all__ = [
    "MAX_BOOK_BYTES",
    "MAX_SCENARIO_BYTES",
    "LoadedScenario",
    "load_scenario",
    "parse_scenario",
    "read_book_file",
    "regular_file",
]

_VCARD_SUFFIXES = frozenset({".vcf", ".vcard"})


@dataclass(frozen=True)
class LoadedScenario:
    """A validated scenario with its address book, ready to run.

    ``source`` names the file in messages; ``positions`` keeps the line of
    every step so that a step refused at run time can still be pointed at.
    """

    scenario: Scenario
    book: tuple[Contact, ...]
    positions: JsonPositions
    source: str = "<scenario>"

    def step_line(self, index: int) -> int:
        """The line where step ``index`` (from 0) starts."""
        return self.positions.line_of(("steps", index))

    def line_of(self, path: JsonPath) -> int:
        return self.positions.line_of(path)


MAX_SCENARIO_BYTES = 4 * 1024 * 1024
"""A scenario file larger than this is refused unread."""
MAX_BOOK_BYTES = 64 * 1024 * 1024
"""An address book file larger than this is refused unread."""


def regular_file(path: Path, limit: int, what: str) -> str | None:
    """Why ``path`` cannot be read as ``what`` (not a regular file, too large), or None."""
    try:
        info = path.stat()
    except OSError as exc:
        return f"cannot read {what} ({exc.strerror})"
    if not stat.S_ISREG(info.st_mode):
        return f"{what} is not a regular file"
    if info.st_size > limit:
        return f"{what} is larger than {limit // (1024 * 1024)} MiB"
    return None


def _read_book(spec: AddressBookSpec, base_dir: Path) -> tuple[Contact, ...]:
    if spec.synthetic is not None:
        return tuple(synthetic_address_book(spec.synthetic.count, seed=spec.synthetic.seed))
    if spec.contacts is not None:
        return spec.contacts
    assert spec.path is not None  # the model guarantees exactly one source
    return read_book_file(base_dir / spec.path)


def read_book_file(path: Path) -> tuple[Contact, ...]:
    """The contacts of a vCard (``.vcf``, ``.vcard``) or JSON address book file.

    Raises :class:`ConfigurationError` for a path that is not a regular file
    or is over :data:`MAX_BOOK_BYTES`, and :class:`AddressBookError` for a
    malformed book; nothing is half-loaded.
    """
    problem = regular_file(path, MAX_BOOK_BYTES, "the address book")
    if problem is not None:
        raise ConfigurationError(problem)
    reader = VCardAddressBook if path.suffix.lower() in _VCARD_SUFFIXES else JsonAddressBook
    return reader(path).snapshot().contacts


def _duplicate_id(book: tuple[Contact, ...]) -> int | None:
    seen: set[str] = set()
    for index, contact in enumerate(book):
        if contact.id in seen:
            return index
        seen.add(contact.id)
    return None


def _load_book(scenario: Scenario, positions: JsonPositions, base_dir: Path) -> tuple[Contact, ...]:
    spec = scenario.address_book
    try:
        book = _read_book(spec, base_dir)
    except (AddressBookError, ConfigurationError) as exc:
        # Both messages are PII-free by contract: they name files, records and fields.
        what = f"cannot load the address book: {exc}"
        raise problem_at(positions, ("address_book", "path"), what) from None
    duplicate = _duplicate_id(book) if spec.contacts is not None else None
    if duplicate is not None:
        raise problem_at(
            positions,
            ("address_book", "contacts", duplicate, "id"),
            "duplicate contact id",
        )
    return book


def parse_scenario(
    text: str, *, base_dir: str | os.PathLike[str] = ".", source: str = "<scenario>"
) -> LoadedScenario:
    """Validate scenario ``text``; a book ``path`` is read relative to ``base_dir``."""
    document, positions = parse_json(text)
    try:
        scenario = Scenario.model_validate_json(text)
    except ValidationError as exc:
        raise schema_error(exc, document, positions) from None
    book = _load_book(scenario, positions, Path(base_dir))
    problems = scenario_problems(scenario, book)
    if problems:
        path, what = min(problems, key=lambda problem: positions.line_of(problem[0]))
        raise problem_at(positions, path, what)
    return LoadedScenario(scenario, book, positions, source)


def load_scenario(path: str | os.PathLike[str]) -> LoadedScenario:
    """Read and validate the scenario file at ``path``."""
    file = Path(path)
    problem = regular_file(file, MAX_SCENARIO_BYTES, "the scenario file")
    if problem is not None:
        raise ScenarioError(problem)
    try:
        with file.open("rb") as handle:
            data = handle.read(MAX_SCENARIO_BYTES + 1)
    except OSError as exc:
        raise ScenarioError(f"cannot read the scenario file ({exc.strerror})") from None
    if len(data) > MAX_SCENARIO_BYTES:  # it grew after the check
        raise ScenarioError(f"the scenario file is larger than {MAX_SCENARIO_BYTES} bytes")
    return parse_scenario(decode_text(data), base_dir=file.parent, source=str(file))
