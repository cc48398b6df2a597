"""One catalogue product: its full histories, and what Keepa would answer about it at a
given Keepa minute (histories run into the future and are revealed as the clock advances)."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any

from deals.keepa.facts import (
    AMAZON,
    COUNT_NEW,
    COUNT_USED,
    CSV_SLOTS,
    DAY,
    NEW,
    TRIPLE_SLOTS,
    US_BOOKS,
    USED,
)
from keepasim.catalogue.stats import compute_stats


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
            "rootCategory": US_BOOKS,
            "categories": list(self.categories),
            "categoryTree": [{"catId": US_BOOKS, "name": "Books"}],
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
