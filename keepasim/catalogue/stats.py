"""Keepa's ``stats`` object, derived from a product's histories the way Keepa does:
time-weighted means that skip negative (no offer) stretches."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from typing import TYPE_CHECKING, Any

from deals.keepa.analytics import div_half_even
from deals.keepa.facts import CSV_SLOTS, DAY, SALES

if TYPE_CHECKING:
    from keepasim.catalogue.product import CatalogueProduct


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
    return div_half_even(area, duration) if duration else -1


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
    return div_half_even(100 * missing, total) if total else -1


def rank_drops(times: list[int], values: list[int], start: int) -> int:
    first = max(1, bisect_left(times, start))
    return sum(1 for j in range(first, len(times)) if 0 < values[j] < values[j - 1] and values[j - 1] > 0)


def compute_stats(product: CatalogueProduct, now: int, days: int) -> dict[str, Any]:
    """Keepa's ``stats`` object for the last ``days`` days (arrays indexed like ``csv``); the
    fields that need offers (or the buy box) are -2 or None here, and ``product`` fills them."""
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
            "buyBoxSellerId": None,
            "buyBoxUsedPrice": -2,
            "buyBoxUsedShipping": -2,
            "buyBoxUsedCondition": None,
            "buyBoxUsedSellerId": None,
            "buyBoxUsedIsFBA": None,
            "lightningDealInfo": None,
            "isAddonItem": None,
            "lastOffersUpdate": -1,
            "stockAmazon": -2,
            "stockBuyBox": -2,
        }
    )
    return stats
