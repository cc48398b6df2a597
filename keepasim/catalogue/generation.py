"""Drawing the catalogue's products: Keepa-shaped books with 3-year histories.

Each product is drawn from its own ``random.Random(seed, index)`` so it does not depend on
how many products were asked for. Histories are consistent with how inferred sales work:
every used (or new) sale lowers the offer count at the sale minute and the sales rank drops
within a day or so; listing prices are piecewise constant and sales happen at the price in
force. Textbooks sell more, and dearer, in January and August. About 45% of the ordinary
products end with a fresh cheap used listing (the deals the pipeline should find); one
product in ten is deliberately awkward (no used history, no sales, a short history, absurd
prices, or no history at all).
"""

from __future__ import annotations

import math
import random

from deals.keepa.facts import (
    AMAZON,
    COUNT_NEW,
    COUNT_REVIEWS,
    COUNT_USED,
    CSV_SLOTS,
    DAY,
    LISTPRICE,
    NEW,
    RATING,
    SALES,
    US_TEXTBOOKS,
    USED,
    USED_GOOD_SHIPPING,
    keepa_minutes_to_datetime,
)
from keepasim.catalogue.product import CatalogueProduct

YEAR = 365 * DAY
AWKWARD_KINDS = ("no_used", "no_sales", "short", "absurd", "empty")
# Histories run this far past the catalogue's start time and are revealed as the clock
# advances, so prices move, books sell and new deals appear during a demo or a long test.
FUTURE = 30 * DAY

_SUBJECTS = {
    "Calculus": 13946,
    "Organic Chemistry": 13947,
    "Microeconomics": 13948,
    "Anatomy and Physiology": 13949,
    "Statistics": 13950,
    "Linear Algebra": 13951,
    "Psychology": 13952,
    "Nursing Fundamentals": 13953,
    "Accounting": 13954,
    "World History": 13955,
    "Physics": 13956,
    "Biology": 13957,
}
_TEXTBOOK_PATTERNS = (
    "{s}: Early Transcendentals, {e} Edition",
    "Principles of {s}, {e} Edition",
    "{s} in Focus ({e} Edition)",
    "Essentials of {s}, {e} Edition",
    "Introduction to {s}, {e} Edition",
)
_TRADE_WORDS = (
    "River", "Winter", "Garden", "Silent", "Lost", "Golden", "Night", "Harbor", "Glass", "Summer",
    "Stone", "Letters", "Secret", "Kingdom", "Light", "Shadow",
)  # fmt: skip
_TRADE_PATTERNS = ("The {a} {b}", "A {a} of {b}", "{a} and {b}", "The Last {a}")
_EDITIONS = ("2nd", "3rd", "4th", "5th", "6th", "7th", "8th", "9th", "10th", "11th", "12th")

# Textbook demand and prices peak when semesters start (January, August).
_TEXTBOOK_RATE = {
    1: 2.4,
    2: 0.9,
    3: 0.6,
    4: 0.5,
    5: 0.5,
    6: 0.5,
    7: 0.8,
    8: 2.8,
    9: 1.5,
    10: 0.7,
    11: 0.6,
    12: 1.1,
}
_TEXTBOOK_PRICE = {1: 1.24, 8: 1.30, 9: 1.10, 12: 1.04}
_TRADE_RATE = {11: 1.3, 12: 1.6}
_TRADE_PRICE = {12: 1.05}


def _isbn10(rng: random.Random) -> str:
    digits = [rng.randrange(10) for _ in range(9)]
    digits[0] = rng.choice((0, 1))
    check = (11 - sum((10 - i) * d for i, d in enumerate(digits)) % 11) % 11
    return "".join(map(str, digits)) + ("X" if check == 10 else str(check))


class Months:
    """Month-of-year of a Keepa minute, by a day-indexed table (generation calls it a lot)."""

    def __init__(self, first: int, last: int):
        self.first_day = first // DAY
        self.by_day = [
            keepa_minutes_to_datetime(day * DAY).month for day in range(self.first_day, last // DAY + 1)
        ]

    def __call__(self, minute: int) -> int:
        return self.by_day[minute // DAY - self.first_day]


class _Builder:
    """Draws one product. All randomness comes from ``rng``; times are Keepa minutes."""

    def __init__(self, rng: random.Random, anchor: int, months: Months, kind: str):
        self.rng = rng
        self.anchor = anchor
        self.months = months
        self.kind = kind
        self.horizon = anchor + FUTURE
        self.textbook = kind == "absurd" or rng.random() < 0.65
        if kind == "short":
            self.start = anchor - rng.randint(6, 20) * DAY
        else:
            self.start = anchor - 3 * YEAR + rng.randint(0, 5 * DAY)
        rate_table = _TEXTBOOK_RATE if self.textbook else _TRADE_RATE
        self.rate_of = [rate_table.get(m, 1.0 if not self.textbook else 0.7) for m in range(13)]
        price_table = _TEXTBOOK_PRICE if self.textbook else _TRADE_PRICE
        self.price_of = [price_table.get(m, 0.96 if self.textbook else 1.0) for m in range(13)]
        if kind == "absurd":
            self.base = rng.randint(210_000, 800_000)
        elif self.textbook:
            self.base = int(math.exp(rng.uniform(math.log(2_800), math.log(14_000))))
        else:
            self.base = rng.randint(1_100, 3_800)
        self.used_rate = rng.uniform(14, 48) if self.textbook else rng.uniform(6, 30)
        if rng.random() < 0.08:
            self.used_rate = rng.uniform(0.4, 1.2)  # sparse sellers: one or two sales a year
        self.new_rate = self.used_rate * rng.uniform(0.08, 0.25)

    def _price(self, t: int, factor: float, spread: float = 0.12) -> int:
        jitter = 1 - spread + 2 * spread * self.rng.random()
        cents = self.base * factor * self.price_of[self.months(t)] * jitter
        return max(99, int(cents) // 100 * 100 + 99 if cents > 500 else int(cents))

    def _changes(self, mean_days: float, until: int) -> list[int]:
        times, t = [], self.start
        while t < until:
            times.append(t)
            t += 30 + int(self.rng.expovariate(1 / (mean_days * DAY)))
        return times

    def _sale_times(self, rate_per_year: float, until: int) -> list[int]:
        """Seasonal Poisson process by thinning."""
        if self.kind == "no_sales" or rate_per_year <= 0:
            return []
        peak = max(self.rate_of[1:])
        lam = rate_per_year * peak / YEAR
        times, t = [], self.start
        while True:
            t += max(1, int(self.rng.expovariate(lam)))
            if t >= until:
                return times
            if self.rng.random() * peak < self.rate_of[self.months(t)]:
                times.append(t)

    def _counts(
        self, sales: list[int], rate: float, until: int, start_count: int
    ) -> tuple[list[int], list[int]]:
        """Offer-count history: sales take one listing away, new listings arrive, a few are
        withdrawn without a sale. Returns (flat csv, sale times that really happened)."""
        rng = self.rng
        events = [(t, -1, True) for t in sales]
        arrivals = rate * 1.05 + 1
        t = self.start
        while True:
            t += max(1, int(rng.expovariate(arrivals / YEAR)))
            if t >= until:
                break
            events.append((t, 1 if rng.random() < 0.9 else -1, False))
        events.sort()
        count, last_t = start_count, self.start
        flat = [self.start, count]
        happened = []
        for t, delta, is_sale in events:
            if delta < 0 and count <= (0 if is_sale else 1):
                continue
            count += delta
            t = max(t, last_t + 1)
            flat += (t, count)
            last_t = t
            if is_sale:
                happened.append(t)
        return flat, happened

    def _prices(self, factor: float, mean_days: float, until: int, spread: float = 0.12) -> list[int]:
        flat: list[int] = []
        for t in self._changes(mean_days, until):
            flat += (t, self._price(t, factor, spread))
        return flat

    def _rank(self, sale_times: list[int]) -> list[int]:
        rng, horizon = self.rng, self.horizon
        base = int(2_500_000 / (self.used_rate + self.new_rate + 0.5) * rng.uniform(0.7, 1.3))
        ceiling = base * 3
        rank, t = base, self.start
        flat = [t, rank]
        drops = sorted(s + rng.randint(20, 30 * 60) for s in sale_times)
        drops.append(horizon + YEAR)  # sentinel: drift until the horizon after the last sale
        for drop in drops:
            while True:
                t += 2 * DAY + int(rng.random() * 3 * DAY)
                if t >= drop or t >= horizon:
                    break
                rank = int(rank * (1.04 + 0.14 * rng.random()))
                if rank > ceiling:
                    rank = ceiling
                flat += (t, rank)
            if drop >= horizon:
                break
            t = max(drop, flat[-2] + 1)
            target = int(base * rng.uniform(0.12, 0.45))
            rank = target if target < rank else max(int(base * 0.05), int(rank * 0.9))
            flat += (t, rank)
        return flat

    def build(self) -> list[list[int] | None]:
        rng, anchor, horizon = self.rng, self.anchor, self.horizon
        csv: list[list[int] | None] = [None] * CSV_SLOTS
        if self.kind == "empty":
            return csv
        # A cheap used copy is listed: already (45%), or later as the clock runs (25%).
        roll, deal_at = rng.random(), None
        if self.kind == "ordinary" and roll < 0.45:
            deal_at = anchor - rng.randint(60, 3 * DAY)
        elif self.kind == "ordinary" and roll < 0.7:
            deal_at = anchor + rng.randint(60, FUTURE)
        used_until = horizon if deal_at is None else deal_at
        has_used = self.kind != "no_used"

        used = self._prices(1.0, 5.0, used_until) if has_used else []
        if deal_at is not None:
            used += (deal_at, max(199, int(self.base * rng.uniform(0.3, 0.55)) // 100 * 100 + 49))
        used_sales = self._sale_times(self.used_rate, used_until) if has_used else []
        new_sales = self._sale_times(self.new_rate, horizon)
        all_sales = []
        if has_used:
            csv[USED] = used
            csv[USED_GOOD_SHIPPING] = [v for i in range(0, len(used), 2) for v in (used[i], used[i + 1], 399)]
            csv[COUNT_USED], used_sales = self._counts(
                used_sales, self.used_rate, horizon, rng.randint(2, 14)
            )
            all_sales += used_sales
        csv[NEW] = self._prices(1.55, 8.0, horizon, spread=0.08)
        csv[COUNT_NEW], new_sales = self._counts(new_sales, self.new_rate, horizon, rng.randint(1, 6))
        all_sales += new_sales
        if self.kind != "absurd" and rng.random() < 0.55:
            cheap = rng.random() < 0.18  # Amazon itself sells cheaply: List at hits the ceiling
            amazon = self._prices(
                rng.uniform(0.95, 1.1) if cheap else rng.uniform(1.6, 2.1), 25.0, horizon, 0.05
            )
            for j in range(1, len(amazon) - 2, 2):
                if rng.random() < 0.12:
                    amazon[j] = -1
            csv[AMAZON] = amazon
        csv[SALES] = self._rank(sorted(all_sales))
        csv[LISTPRICE] = [self.start, int(self.base * 2.2) // 100 * 100 + 99]
        csv[RATING] = [self.start, rng.randint(36, 49)]
        csv[COUNT_REVIEWS] = [
            self.start,
            rng.randint(0, 40),
            anchor - rng.randint(1, 300) * DAY,
            rng.randint(41, 400),
        ]
        return csv


def _title(rng: random.Random, textbook: bool) -> tuple[str, int]:
    if textbook:
        subject = rng.choice(list(_SUBJECTS))
        pattern = rng.choice(_TEXTBOOK_PATTERNS)
        return pattern.format(s=subject, e=rng.choice(_EDITIONS)), _SUBJECTS[subject]
    a, b = rng.sample(_TRADE_WORDS, 2)
    return rng.choice(_TRADE_PATTERNS).format(a=a, b=b) + ": A Novel", 17


def months_around(anchor: int) -> Months:
    return Months(anchor - 3 * YEAR - 10 * DAY, anchor + 2 * YEAR)


def build_product(seed: int, index: int, anchor: int, months: Months | None = None) -> CatalogueProduct:
    """Product ``index`` of catalogue ``seed`` (independent of the catalogue's size)."""
    months = months or months_around(anchor)
    rng = random.Random(seed * 1_000_003 + index)
    kind = AWKWARD_KINDS[(index // 10) % len(AWKWARD_KINDS)] if index % 10 == 9 else "ordinary"
    asin = _isbn10(rng)
    builder = _Builder(rng, anchor, months, kind)
    csv = builder.build()
    title, subject_category = _title(rng, builder.textbook)
    categories = [US_TEXTBOOKS, subject_category] if builder.textbook else [subject_category]
    weight = rng.randint(250, 1_900)
    return CatalogueProduct(
        asin=asin,
        title=title,
        kind=kind,
        categories=categories,
        binding=rng.choice(("Paperback", "Hardcover", "Paperback", "Loose Leaf")),
        publication_date=rng.randint(2008, 2025) * 10_000 + rng.randint(1, 12) * 100 + rng.randint(1, 28),
        package_weight=weight,
        pick_and_pack_fee=306 + weight // 200 * 45,
        referral_percent=15.0,
        tracking_since=builder.start,
        last_update=anchor - rng.randint(5, 600),
        csv=csv,
    )
