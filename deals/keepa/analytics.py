"""What a product's Keepa history says it sells for: pure functions over a ``ProductSnapshot``.

**Inferred sales** (the predecessor's definition): an offer-count drop, in New (``csv[11]``)
or Used (``csv[12]``), confirmed by a sales-rank drop (``csv[3]``) within 240 hours after it,
over the last two years. Its price is the listing price (New or Used, matching the offer
count) in force just before the drop: when the cheapest copy sells, Keepa records the count
drop and the next copy's price at the same minute, and the sale happened at the old price.
Outliers outside ``[Q1 - 1.5 IQR, Q3 + 1.5 IQR]`` are removed (quartiles by linear
interpolation between order statistics, as numpy's default; computed exactly with fractions).

**1yr Avg**: mean of the cleaned sales of the last 365 days; else Keepa's ``stats.avg365``
for Used; else nothing (the deal is incomplete).

**List at**: the cleaned sales grouped by calendar month; the peak month is the one with the
highest median (ties: more sales, then the earlier month); its mode price, or its median if
there is no single mode; the median of all sales when there are fewer than 3. Capped at 90%
of the lowest of Amazon's current, 180-day and 365-day average prices (those that exist).
Above $1,500 it is rejected (incomplete, with the reason); above 3x the current Used price it
is flagged suspicious. There is no fallback to listing averages.

**Trough** (the time to buy): of the same months, the one with the lowest median (ties: more
sales, then the earlier month) and that median; none with fewer than 3 sales, as for the peak.

**Deal trust** (the predecessor's "Deal Trust"): of the offer-count drops of the last two
years (New and Used), the percentage a sales-rank drop confirmed as a sale; none without a
drop. A high share means the offer counts move because copies sell, not because sellers
withdraw them.

Money is integer cents. Every division (means, even-count medians, the 90% cap) rounds
half to even, to the cent.
"""

from __future__ import annotations

import calendar
import math
from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from functools import lru_cache

from deals.keepa.facts import (
    AMAZON,
    COUNT_NEW,
    COUNT_USED,
    DAY,
    KEEPA_EPOCH_OFFSET_MINUTES,
    NEW,
    SALES,
    USED,
    datetime_to_keepa_minutes,
    keepa_minutes_to_datetime,
)
from deals.keepa.product import ProductSnapshot, Series

CONFIRM_WINDOW = 240 * 60
SALES_LOOKBACK = 730 * DAY
ONE_YEAR = 365 * DAY
LIST_AT_LIMIT_CENTS = 150_000
SUSPICIOUS_MULTIPLE = 3
SPARKLINE_POINTS = 60
CHART_POINTS = 120  # per series of the deal view's charts: a point every six days over two years
CHART_SALES = 500  # the most inferred sales the deal view marks


def div_half_even(numerator: int, denominator: int) -> int:
    """Integer division rounding half to even (banker's rounding), for positive divisors."""
    quotient, remainder = divmod(numerator, denominator)
    twice = 2 * remainder
    if twice > denominator or (twice == denominator and quotient % 2 == 1):
        quotient += 1
    return quotient


def median_cents(prices: list[int]) -> int:
    ordered = sorted(prices)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return div_half_even(ordered[middle - 1] + ordered[middle], 2)


def mean_cents(prices: list[int]) -> int:
    return div_half_even(sum(prices), len(prices))


def _quartile(ordered: list[int], fraction: Fraction) -> Fraction:
    position = fraction * (len(ordered) - 1)
    low = int(position)
    if low + 1 >= len(ordered):
        return Fraction(ordered[low])
    return ordered[low] + (ordered[low + 1] - ordered[low]) * (position - low)


def remove_outliers(prices: list[int]) -> tuple[list[int], list[int]]:
    """(kept, removed) by the 1.5 IQR rule; order preserved."""
    if len(prices) < 2:
        return list(prices), []
    ordered = sorted(prices)
    q1, q3 = _quartile(ordered, Fraction(1, 4)), _quartile(ordered, Fraction(3, 4))
    spread = (q3 - q1) * Fraction(3, 2)
    # Prices are integers, so the exact fractional bounds tighten to integers (fast compares).
    low, high = math.ceil(q1 - spread), math.floor(q3 + spread)
    kept = [p for p in prices if low <= p <= high]
    removed = [p for p in prices if not low <= p <= high]
    return kept, removed


@dataclass(frozen=True)
class InferredSale:
    at_minutes: int
    price_cents: int
    condition: str  # "new" or "used"

    @property
    def at(self) -> datetime:
        return keepa_minutes_to_datetime(self.at_minutes)


@dataclass(frozen=True)
class ProductAnalysis:
    asin: str | None
    one_year_avg_cents: int | None
    one_year_avg_source: str | None  # "sales" or "stats.avg365"
    list_at_cents: int | None
    list_at_suspicious: bool
    list_at_capped: bool
    amazon_ceiling_cents: int | None
    price_now_cents: int | None
    peak_season: str | None
    trough_season: str | None
    expected_trough_cents: int | None
    deal_trust_percent: Decimal | None
    sales_rank: int | None
    sales_rank_drops_30: int | None
    used_offer_count: int | None
    amazon_sells: bool
    fba_fee_cents: int | None
    referral_percent: Decimal | None
    keepa_updated_at: datetime | None
    used_price_history: list[list[int]]
    inferred_sales_count: int
    outliers_removed: int
    incomplete_reasons: list[str] = field(default_factory=list)
    sales: tuple[InferredSale, ...] = ()
    #: The deal view's charts: ``chart_history``.
    chart: dict = field(default_factory=dict)
    #: How List at came about, for the deal view: ``list_at_basis``.
    list_at_basis: dict = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return not self.incomplete_reasons


def infer_sales(snapshot: ProductSnapshot, now_minutes: int) -> list[InferredSale]:
    """Offer-count drops confirmed by a rank drop within 240 h, in the last two years."""
    return _sales_of(offer_count_drops(snapshot, now_minutes))


def _sales_of(drops: list[OfferCountDrop]) -> list[InferredSale]:
    sales = [
        InferredSale(drop.at_minutes, drop.price_cents, drop.condition)
        for drop in drops
        if drop.confirmed and drop.price_cents
    ]
    sales.sort(key=lambda s: s.at_minutes)
    return sales


@dataclass(frozen=True)
class OfferCountDrop:
    at_minutes: int
    condition: str  # "new" or "used"
    confirmed: bool  # a sales-rank drop followed within 240 h
    price_cents: int | None  # the listing price just before; None when Keepa had none


def offer_count_drops(snapshot: ProductSnapshot, now_minutes: int) -> list[OfferCountDrop]:
    """Every New and Used offer-count drop of the last two years, confirmed or not: the
    sales are the confirmed ones with a price, the deal trust their share of all."""
    rank = snapshot.slot(SALES)
    rank_values = rank.values
    drop_times = [
        rank.times[j] for j in range(1, len(rank_values)) if 0 < rank_values[j] < rank_values[j - 1]
    ]
    since = now_minutes - SALES_LOOKBACK
    drops = []
    for count_slot, price_slot, condition in ((COUNT_USED, USED, "used"), (COUNT_NEW, NEW, "new")):
        counts, prices = snapshot.slot(count_slot), snapshot.slot(price_slot)
        times, values = counts.times, counts.values
        for j in range(max(1, bisect_left(times, since)), len(times)):
            before, after = values[j - 1], values[j]
            if not 0 <= after < before:
                continue
            at = times[j]
            if at > now_minutes:
                break
            k = bisect_left(drop_times, at)
            confirmed = k < len(drop_times) and drop_times[k] <= at + CONFIRM_WINDOW
            i = bisect_left(prices.times, at) - 1
            if i < 0:
                i = bisect_right(prices.times, at) - 1
            price = prices.values[i] if i >= 0 and prices.values[i] > 0 else None
            drops.append(OfferCountDrop(at, condition, confirmed, price))
    return drops


def deal_trust(drops: list[OfferCountDrop]) -> Decimal | None:
    """Confirmed drops as a percentage of all, to the cent of a percent (half to even)."""
    if not drops:
        return None
    confirmed = sum(1 for drop in drops if drop.confirmed)
    return (Decimal(100 * confirmed) / len(drops)).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)


def analyse(snapshot: ProductSnapshot, *, now: datetime) -> ProductAnalysis:
    now_minutes = datetime_to_keepa_minutes(now)
    reasons: list[str] = []
    if snapshot.asin is None:
        reasons.append("the product has no ASIN")
    stats = snapshot.stats

    drops = offer_count_drops(snapshot, now_minutes)
    sales = _sales_of(drops)
    _kept, removed = remove_outliers([s.price_cents for s in sales])
    removed_left = Counter(removed)
    clean: list[InferredSale] = []
    for sale in sales:
        if removed_left[sale.price_cents]:
            removed_left[sale.price_cents] -= 1
        else:
            clean.append(sale)

    recent = [s.price_cents for s in clean if s.at_minutes >= now_minutes - ONE_YEAR]
    one_year_avg: int | None = None
    avg_source = None
    if recent:
        one_year_avg, avg_source = mean_cents(recent), "sales"
    elif stats is not None and stats.avg365.get(USED, 0) > 0:
        one_year_avg, avg_source = stats.avg365[USED], "stats.avg365"
    else:
        reasons.append("no inferred sale in the last 365 days and no Used 365-day average: no 1yr Avg")

    price_now = snapshot.used_price_cents
    if not price_now:
        price_now = None
        reasons.append("no current Used price")

    list_at, peak_season = _list_at_from_sales(clean)
    trough_season, trough_cents = _trough(clean)
    if list_at is None:
        reasons.append("no inferred sale in the last two years: no List at")
    from_sales = list_at
    ceiling = _amazon_ceiling(snapshot)
    capped = False
    if list_at is not None and ceiling is not None and list_at > ceiling:
        list_at, capped = ceiling, True
    if list_at is not None and list_at > LIST_AT_LIMIT_CENTS:
        reasons.append(f"List at ${list_at / 100:,.2f} is above the $1,500 limit")
        list_at = None
    suspicious = bool(list_at and price_now and list_at > SUSPICIOUS_MULTIPLE * price_now)

    drops_30 = stats.sales_rank_drops30 if stats is not None else None
    if drops_30 is None and snapshot.slot(SALES).times:
        drops_30 = _rank_drops_since(snapshot, now_minutes - 30 * DAY)

    return ProductAnalysis(
        asin=snapshot.asin,
        one_year_avg_cents=one_year_avg,
        one_year_avg_source=avg_source,
        list_at_cents=list_at,
        list_at_suspicious=suspicious,
        list_at_capped=capped,
        amazon_ceiling_cents=ceiling,
        price_now_cents=price_now,
        peak_season=peak_season,
        trough_season=trough_season,
        expected_trough_cents=trough_cents,
        deal_trust_percent=deal_trust(drops),
        sales_rank=snapshot.sales_rank or None,
        sales_rank_drops_30=drops_30,
        used_offer_count=snapshot.used_offer_count,
        amazon_sells=(snapshot.amazon_price_cents or 0) > 0,
        fba_fee_cents=snapshot.fba_fee_cents,
        referral_percent=snapshot.referral_percent,
        keepa_updated_at=snapshot.last_update,
        used_price_history=_sparkline(snapshot, now_minutes),
        inferred_sales_count=len(clean),
        outliers_removed=len(removed),
        incomplete_reasons=reasons,
        sales=tuple(clean),
        chart=chart_history(snapshot, clean, now_minutes),
        list_at_basis={
            "sales": len(clean),
            "sales_last_year": len(recent),
            "outliers_removed": len(removed),
            "one_year_avg_source": avg_source,
            "peak_month": peak_season,
            "from_sales_cents": from_sales,
            "amazon_ceiling_cents": ceiling,
            "capped": capped,
        },
    )


def _list_at_from_sales(clean: list[InferredSale]) -> tuple[int | None, str | None]:
    """(List at before the Amazon cap, peak month name)."""
    if not clean:
        return None, None
    if len(clean) < 3:
        return median_cents([s.price_cents for s in clean]), None
    by_month: dict[int, list[int]] = defaultdict(list)
    for sale in clean:
        by_month[_month_of_day(sale.at_minutes // DAY)].append(sale.price_cents)
    medians = {month: median_cents(prices) for month, prices in by_month.items()}
    peak = max(by_month, key=lambda m: (medians[m], len(by_month[m]), -m))
    prices = by_month[peak]
    counts = Counter(prices).most_common()
    single_mode = len(counts) == 1 or counts[0][1] > counts[1][1]
    return (counts[0][0] if single_mode else medians[peak]), calendar.month_name[peak]


def _trough(clean: list[InferredSale]) -> tuple[str | None, int | None]:
    """(cheapest month's name, its median price): when to buy. Needs 3 sales, as the peak does."""
    if len(clean) < 3:
        return None, None
    by_month: dict[int, list[int]] = defaultdict(list)
    for sale in clean:
        by_month[_month_of_day(sale.at_minutes // DAY)].append(sale.price_cents)
    medians = {month: median_cents(prices) for month, prices in by_month.items()}
    trough = min(by_month, key=lambda m: (medians[m], -len(by_month[m]), m))
    return calendar.month_name[trough], medians[trough]


@lru_cache(maxsize=4096)
def _month_of_day(keepa_day: int) -> int:
    """Calendar month of a Keepa day; cached, as every product's sales fall in the same two years."""
    return keepa_minutes_to_datetime(keepa_day * DAY).month


def _amazon_ceiling(snapshot: ProductSnapshot) -> int | None:
    """90% of the lowest of Amazon's current / 180-day / 365-day average, if any exists."""
    candidates = [snapshot.amazon_price_cents]
    if snapshot.stats is not None:
        candidates += [snapshot.stats.avg180.get(AMAZON), snapshot.stats.avg365.get(AMAZON)]
    prices = [p for p in candidates if p and p > 0]
    return div_half_even(min(prices) * 9, 10) if prices else None


def _rank_drops_since(snapshot: ProductSnapshot, since: int) -> int:
    rank = snapshot.slot(SALES)
    first = max(1, bisect_left(rank.times, since))
    values = rank.values
    return sum(1 for j in range(first, len(values)) if 0 < values[j] < values[j - 1])


def _sparkline(snapshot: ProductSnapshot, now_minutes: int) -> list[list[int]]:
    """[unix_seconds, cents] of the Used price over the last year, at most 60 points."""
    used = snapshot.slot(USED)
    since = now_minutes - ONE_YEAR
    start = bisect_right(used.times, since)
    points = []
    if start > 0 and used.values[start - 1] >= 0:
        points.append((since, used.values[start - 1]))
    points += [
        (t, v)
        for t, v in zip(used.times[start:], used.values[start:], strict=True)
        if v >= 0 and t <= now_minutes
    ]
    if len(points) > SPARKLINE_POINTS:
        last = len(points) - 1
        points = [points[i * last // (SPARKLINE_POINTS - 1)] for i in range(SPARKLINE_POINTS)]
    return [[(t + KEEPA_EPOCH_OFFSET_MINUTES) * 60, v] for t, v in points]


def chart_history(snapshot: ProductSnapshot, sales: list[InferredSale], now_minutes: int) -> dict:
    """The deal view's charts over the sales lookback (two years): the used, new and Amazon
    prices and the sales rank as ``[unix seconds, value or None]`` (None: no offer, a gap in
    the line), at most ``CHART_POINTS`` each, and the inferred sales as
    ``[unix seconds, cents, "used" | "new"]``, the most recent ``CHART_SALES``."""
    since = now_minutes - SALES_LOOKBACK
    series = {
        name: _chart_series(snapshot.slot(slot), since, now_minutes)
        for name, slot in (("used", USED), ("new", NEW), ("amazon", AMAZON), ("rank", SALES))
    }
    marked = [s for s in sales if since <= s.at_minutes <= now_minutes][-CHART_SALES:]
    series["sales"] = [[_unix(s.at_minutes), s.price_cents, s.condition] for s in marked]
    return series


def _chart_series(series: Series, since: int, now_minutes: int) -> list[list[int | None]]:
    start = bisect_right(series.times, since)
    points: list[tuple[int, int]] = []
    if start > 0:
        points.append((since, series.values[start - 1]))  # the value in force when the window opens
    points += [
        (t, v) for t, v in zip(series.times[start:], series.values[start:], strict=True) if t <= now_minutes
    ]
    if len(points) > CHART_POINTS:
        last = len(points) - 1
        points = [points[i * last // (CHART_POINTS - 1)] for i in range(CHART_POINTS)]
    return [[_unix(t), v if v >= 0 else None] for t, v in points]


def _unix(keepa_minutes: int) -> int:
    return (keepa_minutes + KEEPA_EPOCH_OFFSET_MINUTES) * 60
