"""The simulator's deterministic book catalogue: Keepa-shaped products with 3-year histories.

Each product is drawn from its own ``random.Random(seed, index)`` so it does not depend on
how many products were asked for. Histories are consistent with how inferred sales work:
every used (or new) sale lowers the offer count at the sale minute and the sales rank drops
within a day or so; listing prices are piecewise constant and sales happen at the price in
force. Textbooks sell more, and dearer, in January and August. About 45% of the ordinary
products end with a fresh cheap used listing (the deals the pipeline should find); one
product in ten is deliberately awkward (no used history, no sales, a short history, absurd
prices, or no history at all).

``compute_stats`` derives Keepa's ``stats`` object from the histories the way Keepa does:
time-weighted means that skip negative (no offer) stretches.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from deals.keepa.product import CSV_SLOTS, TRIPLE_SLOTS, keepa_minutes_to_datetime

DAY = 24 * 60
YEAR = 365 * DAY
BOOKS_ROOT_CATEGORY = 283155
TEXTBOOKS_CATEGORY = 465600
AMAZON, NEW, USED, SALES, LISTPRICE = 0, 1, 2, 3, 4
COUNT_NEW, COUNT_USED, RATING, COUNT_REVIEWS, USED_GOOD_SHIPPING = 11, 12, 16, 17, 21
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


def unix_to_keepa_minutes(seconds: float) -> int:
    return int(seconds // 60) - 21564000


def _isbn10(rng: random.Random) -> str:
    digits = [rng.randrange(10) for _ in range(9)]
    digits[0] = rng.choice((0, 1))
    check = (11 - sum((10 - i) * d for i, d in enumerate(digits)) % 11) % 11
    return "".join(map(str, digits)) + ("X" if check == 10 else str(check))


class _Months:
    """Month-of-year of a Keepa minute, by a day-indexed table (generation calls it a lot)."""

    def __init__(self, first: int, last: int):
        self.first_day = first // DAY
        self.by_day = [
            keepa_minutes_to_datetime(day * DAY).month for day in range(self.first_day, last // DAY + 1)
        ]

    def __call__(self, minute: int) -> int:
        return self.by_day[minute // DAY - self.first_day]


@dataclass
class CatalogueProduct:
    asin: str
    title: str
    kind: str
    categories: list[int]
    binding: str
    publication_date: int
    package_weight: int
    pick_and_pack_fee: int
    referral_percent: float
    tracking_since: int
    last_update: int
    csv: list[list[int] | None]
    _series: dict[int, tuple[list[int], list[int]]] = field(default_factory=dict, repr=False)

    def series(self, index: int, now: int) -> tuple[list[int], list[int]]:
        """(times, values) of one csv slot as known at ``now`` (histories run into the future so
        the catalogue keeps changing as the clock advances); triples summed as clients do."""
        times, values = self._full_series(index)
        known = bisect_right(times, now)
        if known == len(times):
            return times, values
        return times[:known], values[:known]

    def _full_series(self, index: int) -> tuple[list[int], list[int]]:
        cached = self._series.get(index)
        if cached is None:
            raw = self.csv[index] or []
            if index in TRIPLE_SLOTS:
                times = raw[0::3]
                values = [
                    p + s if p >= 0 and s >= 0 else -1 for p, s in zip(raw[1::3], raw[2::3], strict=False)
                ]
            else:
                times, values = raw[0::2], raw[1::2]
            cached = self._series[index] = (times, values)
        return cached

    def current(self, index: int, now: int) -> int:
        values = self.series(index, now)[1]
        return values[-1] if values else -1

    def offer_count(self, now: int) -> int:
        return max(0, self.current(COUNT_NEW, now)) + max(0, self.current(COUNT_USED, now))

    def csv_at(self, now: int) -> list[list[int] | None]:
        """The csv as Keepa would have it at ``now``: points after ``now`` are not known yet."""
        result: list[list[int] | None] = []
        for index, entry in enumerate(self.csv):
            if not entry:
                result.append(entry)
                continue
            step = 3 if index in TRIPLE_SLOTS else 2
            known = len(self.series(index, now)[0])
            result.append(entry if known * step == len(entry) else entry[: known * step] or None)
        return result

    def last_update_at(self, now: int) -> int:
        """Keepa re-checks each product on its own period (1 to 12 hours here)."""
        if now <= self.last_update:
            return self.last_update
        period = 60 + (int(self.asin[:9]) if self.asin[:9].isdigit() else 300) % 660
        return now - (now - self.last_update) % period

    def to_json(
        self,
        now: int,
        *,
        stats_days: int | None,
        history: bool,
        days: int | None,
        offers: int | None,
        buybox: bool,
    ) -> dict[str, Any]:
        csv = self.csv_at(now)
        if not history:
            csv = [None] * CSV_SLOTS
        elif days:
            csv = [_trim(entry, i, now - days * DAY) for i, entry in enumerate(csv)]
        last_change = max(
            (self.series(i, now)[0][-1] for i in (AMAZON, NEW, USED) if self.series(i, now)[0]),
            default=self.tracking_since,
        )
        product: dict[str, Any] = {
            "productType": 0,
            "asin": self.asin,
            "domainId": 1,
            "title": self.title,
            "trackingSince": self.tracking_since,
            "listedSince": self.tracking_since,
            "lastUpdate": self.last_update_at(now),
            "lastRatingUpdate": self.tracking_since,
            "lastPriceChange": last_change,
            "lastEbayUpdate": 0,
            "rootCategory": BOOKS_ROOT_CATEGORY,
            "categories": list(self.categories),
            "categoryTree": [{"catId": BOOKS_ROOT_CATEGORY, "name": "Books"}],
            "parentAsin": None,
            "imagesCSV": f"{self.asin}.jpg",
            "manufacturer": "Example Press",
            "publicationDate": self.publication_date,
            "binding": self.binding,
            "productGroup": "Book",
            "numberOfItems": 1,
            "numberOfPages": 200 + int(self.asin[-3:-1].replace("X", "0") or 0) * 7,
            "packageWeight": self.package_weight,
            "itemWeight": self.package_weight - 40,
            "packageHeight": 30,
            "packageLength": 250,
            "packageWidth": 190,
            "fbaFees": {"pickAndPackFee": self.pick_and_pack_fee, "storageFee": 12, "storageFeeTax": 0},
            "referralFeePercent": int(self.referral_percent),
            "referralFeePercentage": self.referral_percent,
            "eanList": [f"978{self.asin[:9]}"] if self.asin[:9].isdigit() else None,
            "upcList": None,
            "csv": csv,
            "offers": None,
            "liveOffersOrder": None,
            "buyBoxSellerIdHistory": None,
            "isAdultProduct": False,
            "newPriceIsMAP": False,
            "availabilityAmazon": 0 if self.current(AMAZON, now) > 0 else -1,
        }
        if stats_days:
            product["stats"] = compute_stats(self, now, stats_days)
        if offers:
            product["offers"], product["liveOffersOrder"] = self._offers(now, offers)
        if buybox and not offers:
            product["buyBoxSellerIdHistory"] = []
        return product

    def offers_found(self, offers: int, now: int) -> int:
        return min(offers, self.offer_count(now))

    def _offers(self, now: int, limit: int) -> tuple[list[dict], list[int]]:
        found = self.offers_found(limit, now)
        used_price = max(0, self.current(USED, now))
        new_price = max(0, self.current(NEW, now))
        used_count = max(0, self.current(COUNT_USED, now))
        result = []
        for n in range(found):
            is_used = n < used_count
            price = (used_price if is_used else new_price) + 25 * n
            result.append(
                {
                    "offerId": n,
                    "sellerId": f"A{self.asin}{n:03d}",
                    "condition": 3 if is_used else 1,
                    "isFBA": n % 3 == 0,
                    "isPrime": n % 3 == 0,
                    "lastSeen": now,
                    "offerCSV": [now - DAY, price, 0 if n % 3 == 0 else 399],
                }
            )
        return result, list(range(found))


def _trim(entry: list[int] | None, index: int, since: int) -> list[int] | None:
    """Keep the points after ``since`` plus the one in force at ``since`` (as Keepa's ``days``)."""
    if not entry:
        return entry
    step = 3 if index in TRIPLE_SLOTS else 2
    times = entry[0::step]
    first = max(0, bisect_right(times, since) - 1)
    return entry[first * step :]


# --- stats ----------------------------------------------------------------------------


def _div_half_even(numerator: int, denominator: int) -> int:
    quotient, remainder = divmod(numerator, denominator)
    twice = 2 * remainder
    if twice > denominator or (twice == denominator and quotient % 2 == 1):
        quotient += 1
    return quotient


def window_mean(times: list[int], values: list[int], start: int, now: int) -> int:
    """Time-weighted mean over [start, now], skipping stretches with a negative value; -1 if
    there is no stretch with a value."""
    n = len(times)
    if not n:
        return -1
    area = duration = 0
    for j in range(max(0, bisect_right(times, start) - 1), n):
        value = values[j]
        if value < 0:
            continue
        seg_start = times[j] if times[j] > start else start
        seg_end = times[j + 1] if j + 1 < n else now
        if seg_end > seg_start:
            area += value * (seg_end - seg_start)
            duration += seg_end - seg_start
    return _div_half_even(area, duration) if duration else -1


def _extreme(times: list[int], values: list[int], start: int, pick_max: bool) -> list[int] | None:
    best: list[int] | None = None
    for j in range(max(0, bisect_right(times, start) - 1), len(times)):
        value = values[j]
        if value < 0:
            continue
        if best is None or (value > best[1] if pick_max else value < best[1]):
            best = [max(times[j], start), value]
    return best


def _out_of_stock_percent(times: list[int], values: list[int], start: int, now: int) -> int:
    if not times:
        return -1
    missing = total = 0
    for j in range(max(0, bisect_right(times, start) - 1), len(times)):
        seg_start = max(times[j], start)
        seg_end = times[j + 1] if j + 1 < len(times) else now
        if seg_end > seg_start:
            total += seg_end - seg_start
            if values[j] < 0:
                missing += seg_end - seg_start
    return _div_half_even(100 * missing, total) if total else -1


def rank_drops(times: list[int], values: list[int], start: int) -> int:
    first = max(1, bisect_left(times, start))
    return sum(1 for j in range(first, len(times)) if 0 < values[j] < values[j - 1] and values[j - 1] > 0)


def compute_stats(product: CatalogueProduct, now: int, days: int) -> dict[str, Any]:
    """Keepa's ``stats`` object for the last ``days`` days (arrays indexed like ``csv``)."""
    empty_int = [-1] * CSV_SLOTS
    stats: dict[str, Any] = {
        "current": list(empty_int),
        "avg": list(empty_int),
        "avg30": list(empty_int),
        "avg90": list(empty_int),
        "avg180": list(empty_int),
        "avg365": list(empty_int),
        "atIntervalStart": list(empty_int),
        "min": [None] * CSV_SLOTS,
        "max": [None] * CSV_SLOTS,
        "minInInterval": [None] * CSV_SLOTS,
        "maxInInterval": [None] * CSV_SLOTS,
        "outOfStockPercentageInInterval": list(empty_int),
        "outOfStockPercentage30": list(empty_int),
        "outOfStockPercentage90": list(empty_int),
    }
    interval = now - days * DAY
    for index, entry in enumerate(product.csv):
        if not entry:
            continue
        times, values = product.series(index, now)
        if not times:
            continue
        stats["current"][index] = values[-1]
        for name, span in (("avg", days), ("avg30", 30), ("avg90", 90), ("avg180", 180), ("avg365", 365)):
            stats[name][index] = window_mean(times, values, now - span * DAY, now)
        at_start = bisect_right(times, interval) - 1
        stats["atIntervalStart"][index] = values[at_start] if at_start >= 0 else -1
        stats["min"][index] = _extreme(times, values, times[0], pick_max=False)
        stats["max"][index] = _extreme(times, values, times[0], pick_max=True)
        stats["minInInterval"][index] = _extreme(times, values, interval, pick_max=False)
        stats["maxInInterval"][index] = _extreme(times, values, interval, pick_max=True)
        stats["outOfStockPercentageInInterval"][index] = _out_of_stock_percent(times, values, interval, now)
        stats["outOfStockPercentage30"][index] = _out_of_stock_percent(times, values, now - 30 * DAY, now)
        stats["outOfStockPercentage90"][index] = _out_of_stock_percent(times, values, now - 90 * DAY, now)
    rank_times, rank_values = product.series(SALES, now)
    for span in (30, 90, 180, 365):
        stats[f"salesRankDrops{span}"] = (
            rank_drops(rank_times, rank_values, now - span * DAY) if rank_times else -1
        )
    stats.update(
        {
            "totalOfferCount": -2,
            "offerCountFBA": -2,
            "offerCountFBM": -2,
            "retrievedOfferCount": -2,
            "buyBoxPrice": -2,
            "buyBoxShipping": -2,
            "buyBoxIsUnqualified": None,
            "buyBoxIsShippable": None,
            "buyBoxIsPreorder": None,
            "buyBoxIsFBA": None,
            "buyBoxIsAmazon": None,
            "buyBoxIsMAP": None,
            "buyBoxIsUsed": None,
            "lightningDealInfo": None,
            "isAddonItem": None,
            "lastOffersUpdate": -1,
            "stockAmazon": -2,
            "stockBuyBox": -2,
        }
    )
    return stats


# --- generation -----------------------------------------------------------------------


class _Builder:
    """Draws one product. All randomness comes from ``rng``; times are Keepa minutes."""

    def __init__(self, rng: random.Random, anchor: int, months: _Months, kind: str):
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


def _months_around(anchor: int) -> _Months:
    return _Months(anchor - 3 * YEAR - 10 * DAY, anchor + 2 * YEAR)


def build_product(seed: int, index: int, anchor: int, months: _Months | None = None) -> CatalogueProduct:
    """Product ``index`` of catalogue ``seed`` (independent of the catalogue's size)."""
    months = months or _months_around(anchor)
    rng = random.Random(seed * 1_000_003 + index)
    kind = AWKWARD_KINDS[(index // 10) % len(AWKWARD_KINDS)] if index % 10 == 9 else "ordinary"
    asin = _isbn10(rng)
    builder = _Builder(rng, anchor, months, kind)
    csv = builder.build()
    title, subject_category = _title(rng, builder.textbook)
    categories = [TEXTBOOKS_CATEGORY, subject_category] if builder.textbook else [subject_category]
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


class Catalogue:
    """The products of one (seed, size, anchor), looked up by ASIN, plus the deal finder."""

    def __init__(self, products: list[CatalogueProduct], anchor: int):
        self.products = products
        self.anchor = anchor
        self.by_asin = {p.asin: p for p in products}

    def __len__(self) -> int:
        return len(self.products)

    def __iter__(self):
        return iter(self.products)

    def get(self, asin: str) -> CatalogueProduct | None:
        return self.by_asin.get(asin)

    def deal(self, product: CatalogueProduct, price_type: int, now: int) -> dict[str, Any] | None:
        """Keepa's deal object for one product and price type, or None if it did not drop.

        ``delta``/``deltaPercent`` are positive for a drop (average minus current), indexed
        [date range][price type] like Keepa's: day (48 h, as Keepa notes), week, month, 90 days.
        """
        times, values = product.series(price_type, now)
        if not times or values[-1] <= 0:
            return None
        current = [product.current(i, now) if product.csv[i] else -1 for i in range(CSV_SLOTS)]
        avg, delta, delta_percent = [], [], []
        dropped = False
        for span in (2 * DAY, 7 * DAY, 31 * DAY, 90 * DAY):
            row_avg, row_delta, row_pct = [-1] * CSV_SLOTS, [0] * CSV_SLOTS, [0] * CSV_SLOTS
            for index in {price_type, AMAZON, NEW, USED, SALES}:
                if not product.csv[index]:
                    continue
                t, v = product.series(index, now)
                mean = window_mean(t, v, now - span, now)
                row_avg[index] = mean
                if mean > 0 and v[-1] > 0:
                    row_delta[index] = mean - v[-1]
                    row_pct[index] = _div_half_even(100 * (mean - v[-1]), mean)
            dropped = dropped or row_pct[price_type] > 0
            avg.append(row_avg)
            delta.append(row_delta)
            delta_percent.append(row_pct)
        if not dropped:
            return None
        last_change = times[-1]
        return {
            "asin": product.asin,
            "parentAsin": None,
            "title": product.title,
            "rootCat": BOOKS_ROOT_CATEGORY,
            "categories": list(product.categories),
            "image": [ord(c) for c in f"{product.asin}.jpg"],
            "current": current,
            "avg": avg,
            "delta": delta,
            "deltaPercent": delta_percent,
            "deltaLast": [0] * CSV_SLOTS,
            "creationDate": last_change,
            "lastUpdate": product.last_update_at(now),
            "lightningEnd": 0,
            "minRating": -1,
            "warehouseCondition": 0,
            "warehouseConditionComment": None,
        }


@lru_cache(maxsize=8)
def build_catalogue(seed: int, count: int, anchor: int) -> Catalogue:
    """Deterministic for (seed, count, anchor); cached because tests start many simulators."""
    months = _months_around(anchor)
    return Catalogue([build_product(seed, i, anchor, months) for i in range(count)], anchor)
