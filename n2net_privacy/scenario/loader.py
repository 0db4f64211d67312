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

__all__ = ["LoadedScenario", "load_scenario", "parse_scenario"]

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


def _read_book(spec: AddressBookSpec, base_dir: Path) -> tuple[Contact, ...]:
    if spec.synthetic is not None:
        return tuple(synthetic_address_book(spec.synthetic.count, seed=spec.synthetic.seed))
    if spec.contacts is not None:
        return spec.contacts
    assert spec.path is not None  # the model guarantees exactly one source
    path = base_dir / spec.path
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
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise ScenarioError(f"cannot read the scenario file ({exc.strerror})") from None
    return parse_scenario(decode_text(data), base_dir=file.parent, source=str(file))
