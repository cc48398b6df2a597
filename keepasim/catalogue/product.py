"""One catalogue product: its full histories, and what Keepa would answer about it at a
given Keepa minute (histories run into the future and are revealed as the clock advances)."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any

from deals.keepa.facts import AMAZON, CSV_SLOTS, DAY, NEW, TRIPLE_SLOTS, US_BOOKS, USED
from keepasim.catalogue.offers import BUY_BOX_SLOTS, Listing, buy_box_winner, page_order
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
    listings: list[Listing] = field(default_factory=list, repr=False)
    buy_box_csv: dict[int, list[int]] = field(default_factory=dict, repr=False)
    used_buy_box_history: list[str] = field(default_factory=list, repr=False)
    buy_box_seller_history: list[str] = field(default_factory=list, repr=False)
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

    def live_offers(self, now: int) -> list[Listing]:
        """The copies listed at ``now``, in the order of Amazon's offer page."""
        live = [listing for listing in self.listings if listing.live_at(now)]
        live.sort(key=lambda listing: page_order(listing, now))
        return live

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

    def _buy_box_csv_at(self, index: int, now: int) -> list[int] | None:
        entry = self.buy_box_csv.get(index)
        if not entry:
            return None
        return entry[: 3 * bisect_right(entry[0::3], now)] or None

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
        only_live_offers: bool = False,
        offers_failed: bool = False,
    ) -> dict[str, Any]:
        """Keepa's product object. With ``offers`` (up to that many live offers, page order)
        or ``buybox`` it also carries the buy boxes: csv 18 and 32, their histories, the
        ``buyBoxUsed*`` fields and, in ``stats``, the fields that need offers. A failed offers
        fetch (``offers_failed``) has no offers and ``offersSuccessful`` false."""
        csv = self.csv_at(now)
        with_buy_box = (offers and not offers_failed) if offers else buybox
        if with_buy_box:
            for index in BUY_BOX_SLOTS:
                csv[index] = self._buy_box_csv_at(index, now)
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
            product["offersSuccessful"] = not offers_failed
        if offers and not offers_failed:
            live = self.live_offers(now)
            retrieved = live[:offers]
            shown = list(retrieved)
            if not only_live_offers:
                gone = [item for item in self.listings if item.gone_at is not None and item.gone_at <= now]
                shown += sorted(gone, key=lambda item: -item.gone_at)[:offers]
            shown.sort(key=lambda item: item.offer_id)
            position = {item.offer_id: index for index, item in enumerate(shown)}
            product["offers"] = [item.to_json(now) for item in shown]
            product["liveOffersOrder"] = [position[item.offer_id] for item in retrieved]
            if stats_days:
                product["stats"].update(_offer_stats(live, retrieved, now))
        if with_buy_box:
            used_box = self.used_buy_box(now)
            product["buyBoxSellerIdHistory"] = _known_history(self.buy_box_seller_history, 2, now)
            product["buyBoxUsedHistory"] = _known_history(self.used_buy_box_history, 4, now)
            product.update(used_box)
            if stats_days:
                product["stats"].update(used_box)
                product["stats"].update(self._buy_box_stats(now))
        return product

    def offers_found(self, offers: int, now: int) -> int:
        """Live offers an ``offers=N`` call retrieves (what Keepa charges pages for)."""
        return min(offers, sum(1 for listing in self.listings if listing.live_at(now)))

    def used_buy_box(self, now: int) -> dict[str, Any]:
        """Keepa's ``buyBoxUsed*`` fields: the cheapest buyable used copy now (-1/None if none)."""
        winner = buy_box_winner(
            [item for item in self.listings if item.group == "used" and item.live_at(now)], now
        )
        if winner is None:
            return {
                "buyBoxUsedPrice": -1,
                "buyBoxUsedShipping": -1,
                "buyBoxUsedCondition": None,
                "buyBoxUsedSellerId": None,
                "buyBoxUsedIsFBA": None,
            }
        return {
            "buyBoxUsedPrice": winner.price_at(now),
            "buyBoxUsedShipping": winner.shipping,
            "buyBoxUsedCondition": winner.condition,
            "buyBoxUsedSellerId": winner.seller_id,
            "buyBoxUsedIsFBA": winner.is_fba,
        }

    def _buy_box_stats(self, now: int) -> dict[str, Any]:
        """The new buy box in ``stats`` (Keepa's ``buyBox*``), won by the cheapest buyable new copy."""
        winner = buy_box_winner(
            [item for item in self.listings if item.group == "new" and item.live_at(now)], now
        )
        if winner is None:
            return {
                "buyBoxPrice": -1,
                "buyBoxShipping": -1,
                "buyBoxSellerId": None,
                "buyBoxIsUnqualified": True,
            }
        return {
            "buyBoxPrice": winner.price_at(now),
            "buyBoxShipping": winner.shipping,
            "buyBoxSellerId": winner.seller_id,
            "buyBoxIsUnqualified": False,
            "buyBoxIsShippable": True,
            "buyBoxIsPreorder": False,
            "buyBoxIsFBA": winner.is_fba,
            "buyBoxIsAmazon": winner.is_amazon,
            "buyBoxIsMAP": False,
            "buyBoxIsUsed": False,
        }


def _offer_stats(live: list[Listing], retrieved: list[Listing], now: int) -> dict[str, Any]:
    """The ``stats`` counts only an offers call fills in."""
    return {
        "totalOfferCount": len(live),
        "retrievedOfferCount": len(retrieved),
        "offerCountFBA": sum(1 for item in retrieved if item.is_fba),
        "offerCountFBM": sum(1 for item in retrieved if not item.is_fba),
        "lastOffersUpdate": now,
    }


def _known_history(flat: list[str], step: int, now: int) -> list[str]:
    """A string history (``minute, ...`` records) up to ``now``."""
    known = bisect_right([int(t) for t in flat[0::step]], now)
    return flat[: step * known]


def _trim(entry: list[int] | None, index: int, since: int) -> list[int] | None:
    """Keep the points after ``since`` plus the one in force at ``since`` (as Keepa's ``days``)."""
    if not entry:
        return entry
    step = 3 if index in TRIPLE_SLOTS else 2
    times = entry[0::step]
    first = max(0, bisect_right(times, since) - 1)
    return entry[first * step :]
