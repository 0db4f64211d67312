"""List, page and search a 50,000-contact book through the contacts gateway.

Targets (issue 2): a full paged pass under 100 ms; search by number under
5 ms once the index is built. Catalog and index builds are reported apart,
since they happen once per generation (again after a revoke).

``python -m benchmarks contacts``
"""

from __future__ import annotations

import functools
import random
import statistics
import time
from collections.abc import Callable

from n2net_privacy.contacts import ContactsGateway, InMemoryAddressBook
from n2net_privacy.contacts.index import Catalog
from n2net_privacy.permissions.status import Permission, PermissionChange, PermissionStatus
from n2net_privacy.testing.synthetic import synthetic_address_book

BOOK_SIZE = 50_000
REPEATS = 15


class _Granted:
    """A permission view that always grants: only the gateway is measured."""

    def __init__(self, status: PermissionStatus = PermissionStatus.GRANTED) -> None:
        self._status = status
        self.selection: frozenset[str] | None = None

    def status(self, permission: Permission) -> PermissionStatus:
        return self._status

    def selected_ids(self, permission: Permission) -> frozenset[str] | None:
        return self.selection

    def subscribe(self, listener: Callable[[PermissionChange], None]) -> Callable[[], None]:
        return lambda: None


def _median_ms(run: Callable[[], object], repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def _full_pass(gateway: ContactsGateway, page_size: int, fields: set[str] | None = None) -> int:
    seen = 0
    offset: int | None = 0
    while offset is not None:
        page = gateway.list_contacts(offset=offset, limit=page_size, fields=fields)
        seen += len(page.items)
        offset = page.next_offset
    return seen


def _report(label: str, value_ms: float, target_ms: float | None = None) -> None:
    verdict = ""
    if target_ms is not None:
        verdict = f"  (target < {target_ms:g} ms: {'ok' if value_ms < target_ms else 'MISSED'})"
    print(f"{label:<48} {value_ms:9.3f} ms{verdict}", flush=True)


def main() -> None:
    started = time.perf_counter()
    contacts = synthetic_address_book(BOOK_SIZE, seed=2024)
    print(f"generated {BOOK_SIZE} synthetic contacts in {time.perf_counter() - started:.1f}s")
    book = InMemoryAddressBook(contacts)
    snapshot = book.snapshot()

    _report(
        "catalog build (sort + id map), median",
        _median_ms(lambda: Catalog(snapshot.contacts, version=0, selection=None), repeats=5),
    )

    def build_indexes() -> None:
        Catalog(snapshot.contacts, version=0, selection=None).build_indexes()

    _report("catalog + all three indexes, median", _median_ms(build_indexes, repeats=5))

    gateway = ContactsGateway(book, _Granted())
    assert _full_pass(gateway, 500) == BOOK_SIZE
    for page_size in (100, 500, 1000):
        _report(
            f"full paged pass, page size {page_size}",
            _median_ms(functools.partial(_full_pass, gateway, page_size)),
            100,
        )
    started = time.perf_counter()
    _full_pass(gateway, 500, {"name"})
    _report("first pass with fields={name} (projects 50k)", (time.perf_counter() - started) * 1000)
    _report(
        "full paged pass, page size 500, fields={name}",
        _median_ms(lambda: _full_pass(gateway, 500, {"name"})),
        100,
    )

    rng = random.Random(7)
    sample = rng.sample(contacts, 200)
    numbers = [c.phones[0].number for c in sample if c.phones]
    emails = [c.emails[0].upper() for c in sample if c.emails]
    names = [c.display_name.split()[-1][:4].lower() for c in sample]
    for query in numbers:
        assert gateway.search_by_number(query).total >= 1

    def per_query(search: Callable[[str], object], queries: list[str]) -> float:
        return _median_ms(lambda: [search(q) for q in queries]) / len(queries)

    _report(
        "search by number, per query (index built)", per_query(gateway.search_by_number, numbers), 5
    )
    _report("search by email, per query", per_query(gateway.search_by_email, emails))
    _report(
        "search by name (4-letter substring), per query", per_query(gateway.search_by_name, names)
    )

    limited = _Granted(PermissionStatus.LIMITED)
    limited.selection = frozenset(c.id for c in contacts[::10])
    limited_gateway = ContactsGateway(book, limited)
    _full_pass(limited_gateway, 500)
    _report(
        f"LIMITED ({len(limited.selection)} selected): full paged pass",
        _median_ms(lambda: _full_pass(limited_gateway, 500)),
    )


if __name__ == "__main__":
    main()
