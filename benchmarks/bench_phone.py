"""normalize_many against the plain phonenumbers loop, in one process.

The corpus: 20,000 numbers from US, GB, DE, FR, IN, BR and JP, in national,
international, E.164 and ``tel:`` forms, with 5% junk (words, emergency
numbers, short codes, stray digits, overlong text). Each region's slice is
normalized with that region, as a phone with that SIM would.

Reported, as medians over the rounds:

- cold: ``normalize_many`` with a fresh cache against ``parse`` +
  ``is_valid_number`` + ``format_number`` (target ratio <= 1.10);
- warm: the same slice fed twice through one ``normalize_many``; the time of
  the second pass against the raw loop (target >= 10x faster).

Times are CPU seconds of this process (``time.process_time``), so other work
on a shared machine skews them less than wall-clock time would.
"""

from __future__ import annotations

import gc
import random
import statistics
import time
from collections.abc import Callable

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

from n2net_privacy.phone import load_phone_metadata, normalize_many

REGIONS = ("US", "GB", "DE", "FR", "IN", "BR", "JP")
CORPUS_SIZE = 20_000
JUNK_SHARE = 0.05
ROUNDS = 9
SEED = 20240601

Corpus = list[tuple[str, list[str]]]

_FORMATS = (
    PhoneNumberFormat.NATIONAL,
    PhoneNumberFormat.INTERNATIONAL,
    PhoneNumberFormat.E164,
    PhoneNumberFormat.RFC3966,
)
_TYPES = (PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE, PhoneNumberType.TOLL_FREE)


def _junk(rng: random.Random, region: str) -> str:
    emergency = {"US": "911", "GB": "999", "DE": "112", "FR": "15", "IN": "112", "BR": "190"}
    choices: list[Callable[[], str]] = [
        lambda: rng.choice(["n/a", "unknown", "ask Bob", "", "-", "tbd", "see email"]),
        lambda: emergency.get(region, "110"),
        lambda: "".join(rng.choices("0123456789", k=rng.randint(1, 4))),
        lambda: "+" + "".join(rng.choices("0123456789", k=rng.randint(16, 20))),
        lambda: "+999 " + "".join(rng.choices("0123456789", k=8)),
        lambda: "call me " * 40,
    ]
    return rng.choice(choices)()


def _number(rng: random.Random, region: str) -> str:
    example = phonenumbers.example_number_for_type(region, rng.choice(_TYPES))
    if example is None:
        example = phonenumbers.example_number(region)
    assert example is not None
    nsn = phonenumbers.national_significant_number(example)
    tail = "".join(rng.choices("0123456789", k=min(4, len(nsn) - 2)))
    number = phonenumbers.PhoneNumber(
        country_code=example.country_code, national_number=int(nsn[: -len(tail)] + tail)
    )
    return phonenumbers.format_number(number, rng.choice(_FORMATS))


def build_corpus(size: int = CORPUS_SIZE, seed: int = SEED) -> Corpus:
    """The mixed corpus, grouped by the region it is normalized in."""
    rng = random.Random(seed)
    per_region = size // len(REGIONS)
    corpus: Corpus = []
    for index, region in enumerate(REGIONS):
        count = per_region if index < len(REGIONS) - 1 else size - per_region * index
        numbers = [
            _junk(rng, region) if rng.random() < JUNK_SHARE else _number(rng, region)
            for _ in range(count)
        ]
        corpus.append((region, numbers))
    return corpus


def raw_loop(numbers: list[str], region: str) -> list[str | None]:
    """What an app would write with phonenumbers alone."""
    out: list[str | None] = []
    for raw in numbers:
        try:
            number = phonenumbers.parse(raw, region)
        except NumberParseException:
            out.append(None)
            continue
        valid = phonenumbers.is_valid_number(number)
        out.append(phonenumbers.format_number(number, PhoneNumberFormat.E164) if valid else None)
    return out


def cold(numbers: list[str], region: str) -> list[str | None]:
    return [result.e164 for result in normalize_many(numbers, region)]


def warm_pass_seconds(numbers: list[str], region: str) -> float:
    """Seconds spent on the second half of a stream that holds the slice twice."""
    stream = normalize_many(numbers + numbers, region)
    for _ in range(len(numbers)):
        next(stream)
    started = time.process_time()
    for _ in stream:
        pass
    return time.process_time() - started


def _timed(run: Callable[[list[str], str], object], numbers: list[str], region: str) -> float:
    started = time.process_time()
    run(numbers, region)
    return time.process_time() - started


def one_round(corpus: Corpus, raw_first: bool) -> tuple[float, float, float]:
    """Seconds for (raw, cold, warm) over the corpus.

    Raw and cold run back to back on each region's slice, in alternating
    order, so a burst of load on a shared machine hits both alike.
    """
    raw = cold_total = warm = 0.0
    gc.collect()
    for region, numbers in corpus:
        if raw_first:
            raw += _timed(raw_loop, numbers, region)
            cold_total += _timed(cold, numbers, region)
        else:
            cold_total += _timed(cold, numbers, region)
            raw += _timed(raw_loop, numbers, region)
        warm += warm_pass_seconds(numbers, region)
    return raw, cold_total, warm


def main() -> None:
    load_phone_metadata()  # both sides then run on loaded metadata
    corpus = build_corpus()
    total = sum(len(numbers) for _, numbers in corpus)
    expected = [e for region, numbers in corpus for e in raw_loop(numbers, region)]
    got = [e for region, numbers in corpus for e in cold(numbers, region)]
    # Only valid numbers longer than E.164's 15 digits may differ; this corpus has none.
    differ = sum(1 for a, b in zip(expected, got, strict=True) if a != b)
    print(
        f"corpus: {total} numbers, {sum(e is not None for e in expected)} valid, "
        f"{differ} results differ from phonenumbers"
    )

    rounds = [one_round(corpus, raw_first=index % 2 == 0) for index in range(ROUNDS)]
    raw_times = [r for r, _, _ in rounds]
    cold_times = [c for _, c, _ in rounds]
    warm_times = [w for _, _, w in rounds]
    cold_ratio = statistics.median(c / r for c, r in zip(cold_times, raw_times, strict=True))
    warm_speedup = statistics.median(r / w for r, w in zip(raw_times, warm_times, strict=True))
    for label, seconds in [
        ("raw phonenumbers loop", raw_times),
        ("normalize_many, cold", cold_times),
        ("normalize_many, warm", warm_times),
    ]:
        print(f"{label:<22} median {statistics.median(seconds) * 1e6 / total:6.2f} us/number")
    print(f"cold / raw  median ratio {cold_ratio:.3f}   (target <= 1.10)")
    print(f"raw / warm  median speed-up {warm_speedup:.1f}x  (target >= 10x)")


if __name__ == "__main__":
    main()
