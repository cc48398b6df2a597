"""Keepa's live offers, used buy box and sellers -> small typed values. Never raises, whatever
the input.

This is what verification reads from ``/product?offers=N&only-live-offers=1`` and ``/seller``.
Keepa's markers keep their meaning: a price of ``-1`` is "no offer", ``-2`` "unknown"; a
shipping of ``-1`` "not shippable"; a stats field of ``-2`` "needs the offers parameter".
They become ``None``; anything else missing, of the wrong type or inconsistent becomes ``None``
or an excluded offer plus a line in ``problems``. So a price here is always one Keepa stated,
never a guess. Money is integer cents, times aware UTC datetimes.

``offers`` holds past offers too: ``liveOffersOrder`` (indices into it, in the order Amazon
lists them; an index may repeat when a cheaper duplicate stands for a dearer one) names the
live ones. ``offersSuccessful: false`` means Keepa could not fetch them: none is live then.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from deals.keepa.facts import (
    CONDITION_NAMES,
    NOT_SHIPPABLE,
    PRICE_UNKNOWN,
    USED_CONDITIONS,
    keepa_minutes_to_datetime,
)

NO_OFFER = -1  # a price: no offer at that time; a stats count: no data
NEEDS_OFFERS = -2  # a stats field Keepa fills only when offers were asked for
_NO_SELLER = ("-1", "-2")  # how Keepa's buy box fields say "no seller" in a string field
# Keepa minutes that map to years 2011..2100 (as in product.py): anything else is not a time.
_MAX_MINUTES = 47_000_000


def _is_int(value: Any) -> bool:
    return type(value) is int


def _is(value: Any, *markers: int) -> bool:
    """Whether ``value`` is one of Keepa's integer markers (never a bool or float lookalike)."""
    return _is_int(value) and value in markers


def _minutes(value: Any) -> datetime | None:
    if _is_int(value) and 0 < value < _MAX_MINUTES:
        return keepa_minutes_to_datetime(value)
    return None


def _text(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _shown(value: Any) -> str:
    """A short rendering of a bad value for a problem line (bad input can be huge)."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# --- offers -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Offer:
    """One marketplace offer as its latest ``offerCSV`` triple states it."""

    offer_id: int | None
    seller_id: str
    condition: int  # a key of ``CONDITION_NAMES``
    is_fba: bool
    is_prime: bool
    is_amazon: bool
    priced_at: datetime  # the time of the latest triple
    price_cents: int | None  # None: no offer (-1) or unknown (-2)
    shipping_cents: int | None  # None: not shippable (-1) or unknown (-2)
    shippable: bool  # False when Keepa says shipping -1 or isShippable false
    last_seen: datetime | None

    @property
    def condition_name(self) -> str:
        return CONDITION_NAMES[self.condition]

    @property
    def is_used(self) -> bool:
        return self.condition in USED_CONDITIONS

    @property
    def is_buyable(self) -> bool:
        """Shippable with a known price: FBA ships at no extra cost, any other offer needs a
        known shipping too, or its buy price would be a guess."""
        return (
            self.price_cents is not None
            and self.shippable
            and (self.is_fba or self.shipping_cents is not None)
        )

    @property
    def total_cents(self) -> int | None:
        """What a buyer pays: the item plus its shipping (FBA adds none); None unless buyable."""
        if self.price_cents is None or not self.is_buyable:
            return None
        return self.price_cents + (0 if self.is_fba or self.shipping_cents is None else self.shipping_cents)


@dataclass(frozen=True)
class UsedBuyBox:
    """Keepa's used buy box (``stats.buyBoxUsed*``); it exists only with a stated price."""

    price_cents: int
    shipping_cents: int | None  # None: absent, -1 or -2
    condition: int | None  # 2-5, None when absent or not a used condition
    seller_id: str | None
    is_fba: bool | None

    @property
    def total_cents(self) -> int | None:
        """Item plus shipping (FBA adds none); None when the shipping is not known."""
        if self.is_fba:
            return self.price_cents
        if self.shipping_cents is None:
            return None
        return self.price_cents + self.shipping_cents


@dataclass(frozen=True)
class OfferStats:
    """The ``stats`` counts Keepa fills only when offers were asked for (None: -1, -2 or absent)."""

    total_offer_count: int | None = None  # all conditions, as Amazon counts them
    retrieved_offer_count: int | None = None  # offers this call retrieved
    offer_count_fba: int | None = None  # retrieved live FBA offers
    offer_count_fbm: int | None = None  # retrieved live merchant-fulfilled offers
    last_offers_update: datetime | None = None


@dataclass(frozen=True)
class ProductOffers:
    asin: str | None = None
    offers: tuple[Offer, ...] = ()  # the live ones, in Keepa's ``liveOffersOrder``
    used_buy_box: UsedBuyBox | None = None
    stats: OfferStats = field(default_factory=OfferStats)
    problems: tuple[str, ...] = ()

    @property
    def live_used_offers(self) -> int:
        """Live used offers (conditions 2-5) among those retrieved: at most ``offers`` asked."""
        return sum(1 for offer in self.offers if offer.is_used)


def parse_offers(raw: Any) -> ProductOffers:
    """One product object of an offers call -> its live offers, used buy box and counts."""
    if not isinstance(raw, dict):
        return ProductOffers(problems=(f"product is not a JSON object ({type(raw).__name__})",))
    problems: list[str] = []
    asin = _text(raw.get("asin"))
    if asin is None:
        problems.append("no ASIN")
    parsed = _parse_offer_list(raw.get("offers"), problems)
    live = _live(parsed, raw.get("liveOffersOrder"), problems)
    fetched = raw.get("offersSuccessful", True)
    if fetched is not True:
        problems.append(
            f"offersSuccessful is {_shown(fetched)}: Keepa could not fetch the offers; none is live"
        )
        live = []
    stats, buy_box = OfferStats(), None
    raw_stats = raw.get("stats")
    if raw_stats is None:
        problems.append("no stats: offer counts and the used buy box are unknown")
    elif not isinstance(raw_stats, dict):
        problems.append("stats is not an object")
    else:
        stats = _offer_stats(raw_stats, problems)
        buy_box = _used_buy_box(raw_stats, problems)
    return ProductOffers(
        asin=asin, offers=tuple(live), used_buy_box=buy_box, stats=stats, problems=tuple(problems)
    )


def _parse_offer_list(offers: Any, problems: list[str]) -> list[Offer | None]:
    """Every entry, parsed or None, so ``liveOffersOrder``'s indices still point at it."""
    if offers is None:
        problems.append("no offers array (were offers asked for?)")
        return []
    if not isinstance(offers, list):
        problems.append("offers is not a list")
        return []
    return [_parse_offer(index, entry, problems) for index, entry in enumerate(offers)]


def _parse_offer(index: int, raw: Any, problems: list[str]) -> Offer | None:
    where = f"offers[{index}]"
    if not isinstance(raw, dict):
        problems.append(f"{where} is not an object; excluded")
        return None
    seller_id = _text(raw.get("sellerId"))
    if seller_id is None:
        problems.append(f"{where} has no sellerId; excluded")
        return None
    condition = raw.get("condition")
    if not _is_int(condition) or condition not in CONDITION_NAMES:
        problems.append(f"{where} condition {_shown(condition)} is not 1-10; excluded")
        return None
    triple = _latest_triple(raw.get("offerCSV"))
    if triple is None:
        problems.append(f"{where} offerCSV is not a list of (time, price, shipping) triples; excluded")
        return None
    minute, price, shipping = triple
    priced_at = _minutes(minute)
    if priced_at is None:
        problems.append(f"{where} offerCSV time {minute} is not a Keepa time; excluded")
        return None
    if price not in (NO_OFFER, PRICE_UNKNOWN) and price <= 0:
        problems.append(f"{where} price {price} is neither a price nor -1/-2; excluded")
        return None
    if shipping not in (NOT_SHIPPABLE, PRICE_UNKNOWN) and shipping < 0:
        problems.append(f"{where} shipping {shipping} is neither a cost nor -1/-2; excluded")
        return None
    flags = {name: _flag(raw, name, where, problems) for name in ("isFBA", "isPrime", "isAmazon")}
    # Absent is shippable (older answers lack it); anything but true is the safe "not shippable".
    ships = raw.get("isShippable", True)
    if not isinstance(ships, bool):
        problems.append(f"{where} isShippable {_shown(ships)} is not a boolean; taken as false")
    last_seen = raw.get("lastSeen")
    if last_seen is not None and _minutes(last_seen) is None:
        problems.append(f"{where} lastSeen {_shown(last_seen)} is not a Keepa time")
    offer_id = raw.get("offerId")
    return Offer(
        offer_id=offer_id if _is_int(offer_id) and offer_id >= 0 else None,
        seller_id=seller_id,
        condition=condition,
        is_fba=flags["isFBA"],
        is_prime=flags["isPrime"],
        is_amazon=flags["isAmazon"],
        priced_at=priced_at,
        price_cents=price if price > 0 else None,
        shipping_cents=shipping if shipping >= 0 else None,
        shippable=shipping != NOT_SHIPPABLE and ships is True,
        last_seen=_minutes(last_seen),
    )


def _latest_triple(csv: Any) -> tuple[int, int, int] | None:
    """The offer now: the last of ``[minute, price, shipping, ...]``; a ragged list is not
    trusted, since which entries form the last triple is then a guess."""
    if not isinstance(csv, list) or not csv or len(csv) % 3 or not all(map(_is_int, csv)):
        return None
    return csv[-3], csv[-2], csv[-1]


def _flag(raw: dict, name: str, where: str, problems: list[str]) -> bool:
    """Absent is Keepa's false; a non-boolean counts as false (for ``isFBA`` that means the
    shipping is added, the dearer reading)."""
    value = raw.get(name, False)
    if isinstance(value, bool):
        return value
    problems.append(f"{where} {name} {_shown(value)} is not a boolean; taken as false")
    return False


def _live(parsed: list[Offer | None], order: Any, problems: list[str]) -> list[Offer]:
    """The offers ``liveOffersOrder`` names, each once, in its order; without it, every offer."""
    if order is None:
        found = [offer for offer in parsed if offer is not None]
        if found:
            problems.append("no liveOffersOrder: every offer taken as live")
        return found
    if not isinstance(order, list):
        problems.append("liveOffersOrder is not a list: no offer taken as live")
        return []
    live: list[Offer] = []
    seen: set[int] = set()
    for index in order:
        if not _is_int(index) or not 0 <= index < len(parsed):
            problems.append(f"liveOffersOrder entry {_shown(index)} is not an offer index")
            continue
        if index in seen:
            continue  # a cheaper duplicate standing for a dearer one (Keepa's documented case)
        seen.add(index)
        offer = parsed[index]
        if offer is not None:
            live.append(offer)
    return live


# --- stats that come with offers ------------------------------------------------------------


def _offer_stats(stats: dict, problems: list[str]) -> OfferStats:
    counts = {
        name: _count(stats.get(name), f"stats.{name}", problems)
        for name in ("totalOfferCount", "retrievedOfferCount", "offerCountFBA", "offerCountFBM")
    }
    return OfferStats(
        total_offer_count=counts["totalOfferCount"],
        retrieved_offer_count=counts["retrievedOfferCount"],
        offer_count_fba=counts["offerCountFBA"],
        offer_count_fbm=counts["offerCountFBM"],
        last_offers_update=_minutes(stats.get("lastOffersUpdate")),
    )


def _count(value: Any, where: str, problems: list[str]) -> int | None:
    """A count, or None: -1 (no data) and absent silently, -2 and nonsense with a problem."""
    if value is None or _is(value, NO_OFFER):
        return None
    if _is_int(value) and value >= 0:
        return value
    if _is(value, NEEDS_OFFERS):
        problems.append(f"{where} is -2: Keepa had no offers for it")
    else:
        problems.append(f"{where} {_shown(value)} is not a count")
    return None


def _used_buy_box(stats: dict, problems: list[str]) -> UsedBuyBox | None:
    price = stats.get("buyBoxUsedPrice")
    if price is None or _is(price, NO_OFFER, PRICE_UNKNOWN):
        return None  # no used buy box (or none known)
    if not _is_int(price) or price <= 0:
        problems.append(f"stats.buyBoxUsedPrice {_shown(price)} is not a price; no used buy box")
        return None
    shipping = stats.get("buyBoxUsedShipping")
    if not (_is_int(shipping) and shipping >= 0):
        if shipping is not None and not _is(shipping, NOT_SHIPPABLE, PRICE_UNKNOWN):
            problems.append(f"stats.buyBoxUsedShipping {_shown(shipping)} is not a cost")
        shipping = None
    condition = stats.get("buyBoxUsedCondition")
    if not (_is_int(condition) and condition in USED_CONDITIONS):
        if condition is not None:
            problems.append(f"stats.buyBoxUsedCondition {_shown(condition)} is not a used condition (2-5)")
        condition = None
    seller_id = _text(stats.get("buyBoxUsedSellerId"))
    if seller_id in _NO_SELLER:
        seller_id = None
    if seller_id is None:
        problems.append("the used buy box has no seller id")
    is_fba = stats.get("buyBoxUsedIsFBA")
    if is_fba is not None and not isinstance(is_fba, bool):
        problems.append(f"stats.buyBoxUsedIsFBA {_shown(is_fba)} is not a boolean")
        is_fba = None
    return UsedBuyBox(
        price_cents=price, shipping_cents=shipping, condition=condition, seller_id=seller_id, is_fba=is_fba
    )


# --- sellers ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seller:
    seller_id: str
    name: str | None
    rating_percent: int | None  # positive ratings, 0-100
    rating_count: int | None
    problems: tuple[str, ...] = ()


def parse_sellers(raw: Any) -> tuple[dict[str, Seller], list[str]]:
    """``/seller``'s ``sellers`` map (id -> seller object) -> the sellers found, by id.

    An id Keepa does not know is absent (or null): it is simply not in the result.
    """
    if raw is None:
        return {}, []
    if not isinstance(raw, dict):
        return {}, [f"sellers is not an object ({type(raw).__name__})"]
    sellers: dict[str, Seller] = {}
    problems: list[str] = []
    for key, value in raw.items():
        seller_id = _text(key)
        if value is None:
            continue
        if seller_id is None or not isinstance(value, dict):
            problems.append(f"sellers entry {_shown(key)} is not a seller id with a seller object; skipped")
            continue
        sellers[seller_id] = parse_seller(seller_id, value)
    return sellers, problems


def parse_seller(seller_id: str, raw: dict) -> Seller:
    """One seller object; ``seller_id`` is the id it was asked (and keyed) by."""
    problems: list[str] = []
    stated = raw.get("sellerId")
    if stated is not None and _text(stated) != seller_id:
        problems.append(f"sellerId {_shown(stated)} differs from its key; the key is kept")
    name = _text(raw.get("sellerName"))
    if name is None:
        problems.append("no seller name")
    rating_percent = _rating(raw.get("currentRating"), problems)
    rating_count = _rating_count(raw.get("currentRatingCount"), problems)
    if rating_count == 0 and rating_percent is not None:
        problems.append(f"a rating of {rating_percent}% from no ratings; rating dropped")
        rating_percent = None
    return Seller(
        seller_id=seller_id,
        name=name,
        rating_percent=rating_percent,
        rating_count=rating_count,
        problems=tuple(problems),
    )


def _rating(value: Any, problems: list[str]) -> int | None:
    if _is_int(value) and 0 <= value <= 100:
        return value
    if value is None:
        problems.append("no currentRating")
    elif _is(value, NO_OFFER):
        problems.append("no rating yet (currentRating -1)")
    else:
        problems.append(f"currentRating {_shown(value)} is not a percent 0-100")
    return None


def _rating_count(value: Any, problems: list[str]) -> int | None:
    if _is_int(value) and value >= 0:
        return value
    if value is None:
        problems.append("no currentRatingCount")
    else:
        problems.append(f"currentRatingCount {_shown(value)} is not a count")
    return None
