"""The simulator's deterministic book catalogue and its deal finder.

``generation`` draws the products, ``offers`` holds their listings and the market that moves
them, ``product`` answers for one of them at a given Keepa minute, ``stats`` derives Keepa's
``stats`` object, ``sellers`` the marketplace's sellers; here the products are looked up by
ASIN and turned into Keepa's deal objects.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from deals.keepa.analytics import div_half_even
from deals.keepa.facts import AMAZON, CSV_SLOTS, DAY, NEW, SALES, US_BOOKS, USED
from keepasim.catalogue.generation import FUTURE, VERIFIABLE_SHARE, build_product, months_around
from keepasim.catalogue.product import CatalogueProduct
from keepasim.catalogue.sellers import Seller, build_sellers
from keepasim.catalogue.stats import window_mean


class Catalogue:
    """The products of one (seed, size, anchor), looked up by ASIN, their sellers, and the
    deal finder."""

    def __init__(
        self, products: list[CatalogueProduct], anchor: int, sellers: dict[str, Seller] | None = None
    ):
        self.products = products
        self.anchor = anchor
        self.by_asin = {p.asin: p for p in products}
        self.sellers = sellers or {}

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
                    row_pct[index] = div_half_even(100 * (mean - v[-1]), mean)
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
            "rootCat": US_BOOKS,
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
def build_catalogue(
    seed: int, count: int, anchor: int, verifiable_share: float = VERIFIABLE_SHARE
) -> Catalogue:
    """Deterministic for its arguments; cached because tests start many simulators."""
    months = months_around(anchor)
    products = [build_product(seed, i, anchor, months, verifiable_share) for i in range(count)]
    return Catalogue(products, anchor, build_sellers(seed, anchor, anchor + FUTURE))
