"""Keepa product JSON -> a plain, typed snapshot. Never raises, whatever the input.

Anything missing or malformed becomes ``None`` (or an empty history) and a line in
``problems``, so the analysis can say why a deal is incomplete instead of crashing a job.
Histories are kept in Keepa minutes (cheap integers, what the analytics work in); ``history()``
gives the (datetime, value) view. ``-1`` ("no offer") is kept in the raw series and dropped
from the derived "current" values. Shipping-type slots (triples) are read as price + shipping.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from deals.keepa.facts import (
    AMAZON,
    COUNT_NEW,
    COUNT_USED,
    CSV_NAMES,
    CSV_SLOTS,
    NEW,
    SALES,
    TRIPLE_SLOTS,
    USED,
    keepa_minutes_to_datetime,
)

STAT_ARRAYS = ("current", "avg", "avg30", "avg90", "avg180", "avg365")
# Keepa minutes that map to years 2011..2100: anything else is garbage, not a time.
_MAX_MINUTES = 47_000_000


def _is_int(value: Any) -> bool:
    return type(value) is int


@dataclass(frozen=True)
class Series:
    """One csv slot: parallel lists of Keepa minutes and values (-1 = no offer)."""

    times: list[int]
    values: list[int]

    def __len__(self) -> int:
        return len(self.times)

    def last(self) -> int | None:
        """The latest value, or None when there is none or it is "no offer"."""
        if self.values and self.values[-1] >= 0:
            return self.values[-1]
        return None


EMPTY_SERIES = Series([], [])


@dataclass(frozen=True)
class Stats:
    """Keepa's ``stats`` object: per-slot values (None where Keepa had -1/-2 or nothing)."""

    current: dict[int, int] = field(default_factory=dict)
    avg: dict[int, int] = field(default_factory=dict)
    avg30: dict[int, int] = field(default_factory=dict)
    avg90: dict[int, int] = field(default_factory=dict)
    avg180: dict[int, int] = field(default_factory=dict)
    avg365: dict[int, int] = field(default_factory=dict)
    min: dict[int, tuple[datetime, int]] = field(default_factory=dict)
    max: dict[int, tuple[datetime, int]] = field(default_factory=dict)
    sales_rank_drops30: int | None = None
    sales_rank_drops90: int | None = None
    sales_rank_drops180: int | None = None
    sales_rank_drops365: int | None = None


@dataclass
class ProductSnapshot:
    asin: str | None = None
    title: str | None = None
    root_category: int | None = None
    categories: list[int] = field(default_factory=list)
    binding: str | None = None
    publication_date: int | None = None
    package_weight_grams: int | None = None
    image: str | None = None
    series: dict[int, Series] = field(default_factory=dict)
    stats: Stats | None = None
    fba_fee_cents: int | None = None
    referral_percent: Decimal | None = None
    last_update: datetime | None = None
    last_price_change: datetime | None = None
    tracking_since: datetime | None = None
    problems: list[str] = field(default_factory=list)

    def slot(self, index: int) -> Series:
        return self.series.get(index, EMPTY_SERIES)

    def history(self, index: int) -> list[tuple[datetime, int]]:
        """(UTC datetime, value) pairs of one slot; -1 kept (it means "no offer" then)."""
        series = self.slot(index)
        return [(keepa_minutes_to_datetime(t), v) for t, v in zip(series.times, series.values, strict=False)]

    def _now_value(self, index: int) -> int | None:
        """Keepa's own "current" from stats when present, else the last history point."""
        if self.stats is not None and index in self.stats.current:
            return self.stats.current[index]
        if self.stats is not None and self.stats.current:
            return None  # stats present and explicit -1: no current value
        return self.slot(index).last()

    @property
    def amazon_price_cents(self) -> int | None:
        return self._now_value(AMAZON)

    @property
    def new_price_cents(self) -> int | None:
        return self._now_value(NEW)

    @property
    def used_price_cents(self) -> int | None:
        return self._now_value(USED)

    @property
    def sales_rank(self) -> int | None:
        return self._now_value(SALES)

    @property
    def used_offer_count(self) -> int | None:
        return self._now_value(COUNT_USED)

    @property
    def new_offer_count(self) -> int | None:
        return self._now_value(COUNT_NEW)


def parse_product(raw: Any) -> ProductSnapshot:
    snapshot = ProductSnapshot()
    problems = snapshot.problems
    if not isinstance(raw, dict):
        problems.append(f"product is not a JSON object ({type(raw).__name__})")
        return snapshot
    snapshot.asin = _text(raw.get("asin"))
    if snapshot.asin is None:
        problems.append("no ASIN")
    snapshot.title = _text(raw.get("title"))
    if snapshot.title is None:
        problems.append("no title")
    snapshot.root_category = _positive_int(raw.get("rootCategory"))
    categories = raw.get("categories")
    if isinstance(categories, list):
        snapshot.categories = [c for c in categories if _is_int(c)]
    snapshot.binding = _text(raw.get("binding"))
    snapshot.publication_date = _positive_int(raw.get("publicationDate"))
    snapshot.package_weight_grams = _positive_int(raw.get("packageWeight"))
    images = _text(raw.get("imagesCSV"))
    snapshot.image = images.split(",")[0] if images else None
    fees = raw.get("fbaFees")
    if isinstance(fees, dict):
        snapshot.fba_fee_cents = _positive_int(fees.get("pickAndPackFee"))
    snapshot.referral_percent = _percent(raw.get("referralFeePercentage"), raw.get("referralFeePercent"))
    snapshot.last_update = _minutes(raw.get("lastUpdate"))
    snapshot.last_price_change = _minutes(raw.get("lastPriceChange"))
    snapshot.tracking_since = _minutes(raw.get("trackingSince"))
    snapshot.series = _parse_csv(raw.get("csv"), problems)
    if "stats" in raw and raw["stats"] is not None:
        snapshot.stats = _parse_stats(raw["stats"], problems)
    return snapshot


def _text(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _positive_int(value: Any) -> int | None:
    return value if _is_int(value) and value > 0 else None


def _minutes(value: Any) -> datetime | None:
    if _is_int(value) and 0 < value < _MAX_MINUTES:
        return keepa_minutes_to_datetime(value)
    return None


def _percent(*candidates: Any) -> Decimal | None:
    for value in candidates:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            continue
        try:
            percent = Decimal(str(value))
        except InvalidOperation:
            continue
        if percent.is_finite() and 0 < percent < 100:
            return percent
    return None


def _parse_csv(csv: Any, problems: list[str]) -> dict[int, Series]:
    if csv is None:
        problems.append("no csv history")
        return {}
    if not isinstance(csv, list):
        problems.append("csv is not a list")
        return {}
    series: dict[int, Series] = {}
    for index, entry in enumerate(csv[:CSV_SLOTS]):
        if entry is None:
            continue
        parsed = _parse_slot(index, entry, problems)
        if parsed is not None:
            series[index] = parsed
    return series


def _parse_slot(index: int, entry: Any, problems: list[str]) -> Series | None:
    name = CSV_NAMES[index]
    if not isinstance(entry, list):
        problems.append(f"csv[{index}] {name} is not a list")
        return None
    if not entry:
        return None
    step = 3 if index in TRIPLE_SLOTS else 2
    if set(map(type, entry)) != {int}:
        problems.append(f"csv[{index}] {name} has non-integer entries; slot ignored")
        return None
    usable = len(entry) - len(entry) % step
    if usable != len(entry):
        problems.append(f"csv[{index}] {name} has a trailing partial point; dropped")
    times = entry[0:usable:step]
    if step == 3:
        values = [
            p + s if p >= 0 and s >= 0 else (p if s < 0 <= p else -1)
            for p, s in zip(entry[1:usable:3], entry[2:usable:3], strict=False)
        ]
    else:
        values = entry[1:usable:2]
    if times and (min(times) <= 0 or max(times) >= _MAX_MINUTES):
        problems.append(f"csv[{index}] {name} has times outside 2011-2100; slot ignored")
        return None
    if times != sorted(times):
        problems.append(f"csv[{index}] {name} is not in time order; sorted")
        pairs = sorted(zip(times, values, strict=False), key=lambda p: p[0])
        times, values = [p[0] for p in pairs], [p[1] for p in pairs]
    return Series(times, values)


def _parse_stats(stats: Any, problems: list[str]) -> Stats | None:
    if not isinstance(stats, dict):
        problems.append("stats is not an object")
        return None
    arrays: dict[str, dict[int, int]] = {}
    for name in STAT_ARRAYS:
        values = stats.get(name)
        arrays[name] = {}
        if values is None:
            continue
        if not isinstance(values, list):
            problems.append(f"stats.{name} is not a list")
            continue
        arrays[name] = {i: v for i, v in enumerate(values[:CSV_SLOTS]) if _is_int(v) and v >= 0}
    extremes: dict[str, dict[int, tuple[datetime, int]]] = {"min": {}, "max": {}}
    for name in extremes:
        values = stats.get(name)
        if not isinstance(values, list):
            continue
        for i, pair in enumerate(values[:CSV_SLOTS]):
            if isinstance(pair, list) and len(pair) == 2 and all(map(_is_int, pair)) and pair[1] >= 0:
                moment = _minutes(pair[0])
                if moment is not None:
                    extremes[name][i] = (moment, pair[1])
    drops = {}
    for span in (30, 90, 180, 365):
        value = stats.get(f"salesRankDrops{span}")
        drops[span] = value if _is_int(value) and value >= 0 else None
    return Stats(
        **arrays,
        min=extremes["min"],
        max=extremes["max"],
        sales_rank_drops30=drops[30],
        sales_rank_drops90=drops[90],
        sales_rank_drops180=drops[180],
        sales_rank_drops365=drops[365],
    )
