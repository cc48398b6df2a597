"""A product's offer listings and the market that moves them: the one source of truth for its
live offers, its used buy box and the offer-derived csv slots.

Every listing is drawn up front (seller, condition, fulfilment, shipping, price schedule,
withdrawal), then ``Market.run`` plays the product's history in time order: copies are
listed, repriced and withdrawn, and each sale takes the cheapest buyable copy (item plus
shipping) of its kind. The csv slots that describe offers (lowest price and count per kind,
the per-condition shipping triples, the buy boxes) are written from the same sweep, so at
any minute they agree with the listings live at that minute by construction.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Any

from deals.keepa.facts import (
    AMAZON_SELLER_ID,
    COLLECTIBLE_CONDITIONS,
    CONDITION_NEW,
    COUNT_NEW,
    COUNT_USED,
    NEW,
    NOT_SHIPPABLE,
    USED,
    USED_CONDITIONS,
)

COLLECTIBLE, COUNT_COLLECTIBLE = 5, 14
BUY_BOX_SHIPPING, BUY_BOX_USED_SHIPPING = 18, 32
# Per-condition "price including shipping" slots: used 19-22, collectible 23-26.
CONDITION_SHIPPING_SLOT = {2: 19, 3: 20, 4: 21, 5: 22, 7: 23, 8: 24, 9: 25, 10: 26}
# Slots Keepa sends only with ``offers`` or ``buybox`` (kept apart from the plain csv).
BUY_BOX_SLOTS = (BUY_BOX_SHIPPING, BUY_BOX_USED_SHIPPING)

_LIST, _REPRICE, _GONE, _SELL_THIS, _SALE, _SHORTAGE = range(6)
_USED_ORDER = tuple(sorted(USED_CONDITIONS))
_COLLECTIBLE_ORDER = tuple(sorted(COLLECTIBLE_CONDITIONS))


@dataclass(slots=True)
class Listing:
    """One seller's copy. ``prices`` holds the ``(minute, item price)`` points it had while
    listed (``-2`` throughout when Keepa cannot read its price); ``gone_at`` is when it sold
    or was withdrawn, None if it outlives the catalogue's horizon."""

    offer_id: int
    seller_id: str
    condition: int
    is_fba: bool
    shipping: int  # cents; 0 for FBA, -1 not shippable
    listed_at: int
    is_amazon: bool = False
    gone_at: int | None = None
    sold: bool = False
    prices: list[tuple[int, int]] = field(default_factory=list)
    # The drawn schedule, consumed by ``Market.run``.
    reprices: list[tuple[int, int]] = field(default_factory=list, repr=False)
    withdraw_at: int | None = field(default=None, repr=False)
    sell_at: int | None = field(default=None, repr=False)
    # Among copies at the same total: FBA first, then Amazon (set when the market runs).
    tie: int = field(default=0, repr=False)
    # A used copy's seller prices against the market, not far under the cheapest other copy
    # (the cheap copies and price cuts of ``generation`` are the deliberate exceptions).
    competes: bool = field(default=True, repr=False)

    @property
    def group(self) -> str:
        if self.condition in USED_CONDITIONS:
            return "used"
        return "new" if self.condition == CONDITION_NEW else "collectible"

    def live_at(self, now: int) -> bool:
        return self.listed_at <= now and (self.gone_at is None or now < self.gone_at)

    def price_at(self, now: int) -> int:
        """The item price in force at ``now`` (from the back: the market asks about its present)."""
        for t, value in reversed(self.prices):
            if t <= now:
                return value
        return self.prices[0][1]

    def offer_csv(self, now: int) -> list[int]:
        """Keepa's ``offerCSV``: ``[minute, price, shipping, ...]``, the last triple the offer now."""
        flat: list[int] = []
        for t, price in self.prices:
            if t > now:
                break
            flat += (t, price, self.shipping)
        return flat

    def to_json(self, now: int) -> dict[str, Any]:
        live = self.live_at(now)
        return {
            "offerId": self.offer_id,
            "lastSeen": now if live else self.gone_at,
            "sellerId": self.seller_id,
            "offerCSV": self.offer_csv(now if live else max(self.listed_at, self.gone_at - 1)),
            "condition": self.condition,
            "conditionComment": None,
            "isPrime": self.is_fba,
            "isMAP": False,
            "isShippable": self.shipping != NOT_SHIPPABLE,
            "isAddonItem": False,
            "isPreorder": False,
            "isWarehouseDeal": False,
            "isScam": False,
            "shipsFromChina": False,
            "isAmazon": self.is_amazon,
            "isFBA": self.is_fba,
            "isPrimeExcl": False,
            "minOrderQty": 0,
        }


def page_order(listing: Listing, now: int) -> tuple[int, int]:
    """Amazon's offer page: cheapest item plus shipping first, unknown prices last."""
    price = listing.price_at(now)
    if price < 0:
        return (1 << 40, listing.offer_id)
    return (price + max(0, listing.shipping), listing.offer_id)


def buy_box_winner(listings: list[Listing], now: int) -> Listing | None:
    """The cheapest buyable copy (item plus shipping), FBA and then Amazon winning ties."""
    return _cheapest(listings, [listing.price_at(now) for listing in listings])[0]


def _buy_key(listing: Listing, price: int) -> int | None:
    """One integer that orders buyable copies: total, then FBA, then Amazon, then offer id
    (a tuple per copy made the market sweep several times slower)."""
    if price < 0 or listing.shipping < 0:
        return None
    return ((price + listing.shipping) << 2 | listing.tie) << 20 | listing.offer_id


def _cheapest(listings: list[Listing], prices: list[int]) -> tuple[Listing | None, int | None]:
    best, best_key = None, None
    for listing, price in zip(listings, prices, strict=True):
        key = _buy_key(listing, price)
        if key is not None and (best_key is None or key < best_key):
            best, best_key = listing, key
    return best, best_key


@dataclass
class MarketHistory:
    csv: dict[int, list[int]]  # offer-derived slots of the plain csv
    buy_box_csv: dict[int, list[int]]  # slots 18 and 32, sent only with offers or buybox
    used_buy_box_history: list[str]  # ``buyBoxUsedHistory``: minute, seller, condition, FBA
    buy_box_seller_history: list[str]  # ``buyBoxSellerIdHistory``: minute, seller
    sales: list[int]  # minutes at which a copy really sold (the rank drops after them)


class Market:
    """Plays one product's listings in time order; see the module docstring."""

    def __init__(self, start: int):
        self.start = start
        self.listings: list[Listing] = []
        self._sales: list[tuple[int, str, int]] = []
        self._shortages: list[tuple[int, int]] = []

    def add(self, listing: Listing) -> Listing:
        self.listings.append(listing)
        return listing

    def add_sales(self, buyers: list[tuple[int, int]], group: str) -> None:
        """Buyers of ``group`` ("used" or "new"): ``(minute, the most they pay for item plus
        shipping)``. One who finds nothing buyable at that walks away (no sale, no rank drop)."""
        self._sales += ((t, group, limit) for t, limit in buyers)

    def add_shortage(self, at: int, back_at: int) -> None:
        """From ``at`` to ``back_at`` the cheaper used copies are away (their sellers pulled
        them: stranded stock, a vacation): only the dearest sixth of the shelf stays listed, so
        the used price jumps. They come back as new offers at their old prices."""
        self._shortages.append((at, back_at))

    def run(self) -> MarketHistory:
        self.listings.sort(key=lambda item: (item.listed_at, item.offer_id))
        for offer_id, listing in enumerate(self.listings):
            listing.offer_id = offer_id
            listing.tie = (not listing.is_fba) << 1 | (not listing.is_amazon)
        events: list[tuple[int, int, int, Any]] = []
        for listing in self.listings:
            events.append((listing.listed_at, _LIST, listing.offer_id, None))
            events += ((t, _REPRICE, listing.offer_id, price) for t, price in listing.reprices)
            if listing.withdraw_at is not None:
                events.append((listing.withdraw_at, _GONE, listing.offer_id, None))
            if listing.sell_at is not None:
                events.append((listing.sell_at, _SELL_THIS, listing.offer_id, None))
        events += ((t, _SALE, -1, (group, limit)) for t, group, limit in self._sales)
        events += ((t, _SHORTAGE, -1, back_at) for t, back_at in self._shortages)
        heapq.heapify(events)

        groups = {listing.group for listing in self.listings}
        pools = {group: _Pool() for group in ("used", "new", "collectible")}
        writer = _SlotWriter(groups)
        sales: list[int] = []
        while events:
            now = events[0][0]
            touched: set[str] = set()
            while events and events[0][0] == now:
                _, kind, offer_id, payload = heapq.heappop(events)
                if kind == _SHORTAGE:
                    for gone in pools["used"].shortage():
                        gone.gone_at = now
                        back = self._relist(gone, payload)
                        heapq.heappush(events, (back.listed_at, _LIST, back.offer_id, None))
                    touched.add("used")
                    continue
                if kind == _SALE:
                    group, limit = payload
                    sold = pools[group].sell(limit)
                    if sold is not None:
                        sales.append(now)
                        touched.add(group)
                        if not sold.is_amazon:
                            sold.gone_at, sold.sold = now, True
                    continue
                listing = self.listings[offer_id]
                pool = pools[listing.group]
                if kind == _LIST:
                    if listing.competes and listing.group == "used":
                        listing.prices[0] = (now, pool.competitive(listing, listing.prices[0][1]))
                    pool.add(listing)
                elif offer_id not in pool.live:
                    continue  # already sold or withdrawn
                elif kind == _REPRICE:
                    if listing.competes and listing.group == "used":
                        payload = pool.competitive(listing, payload)
                    if listing.prices[-1][1] == payload:
                        continue
                    listing.prices.append((now, payload))
                    pool.reprice(listing)
                else:
                    pool.remove(listing)
                    listing.gone_at = now
                    if kind == _SELL_THIS:
                        listing.sold = True
                        sales.append(now)
                touched.add(listing.group)
            for group in touched:
                writer.write(group, now, pools[group])
        for listing in self.listings:
            listing.reprices, listing.withdraw_at, listing.sell_at = [], None, None
        return MarketHistory(
            csv=writer.csv,
            buy_box_csv=writer.buy_box_csv,
            used_buy_box_history=writer.used_history,
            buy_box_seller_history=writer.seller_history,
            sales=sorted(sales),
        )

    def _relist(self, copy: Listing, at: int) -> Listing:
        """A pulled copy back on the shelf: a new offer at its old price."""
        back = Listing(
            offer_id=len(self.listings),
            seller_id=copy.seller_id,
            condition=copy.condition,
            is_fba=copy.is_fba,
            shipping=copy.shipping,
            listed_at=at,
            prices=[(at, copy.prices[-1][1])],
            withdraw_at=copy.withdraw_at if copy.withdraw_at is None or copy.withdraw_at > at else None,
            tie=copy.tie,
            competes=copy.competes,
        )
        self.listings.append(back)
        return back


class _Pool:
    """The live copies of one group during the sweep and, kept up to date cheaply, what the
    csv shows of them: the lowest item price, and the cheapest buyable copy overall and per
    condition. A change to a copy that holds one of those marks them stale (recomputed once,
    at the next write); any other change can only improve on them."""

    def __init__(self) -> None:
        self.live: dict[int, Listing] = {}
        self.stale = True
        self.lowest, self.lowest_item = -1, None
        self.best: Listing | None = None
        self.best_key: int | None = None
        self.by_condition: dict[int, tuple[int, Listing]] = {}

    def add(self, item: Listing) -> None:
        self.live[item.offer_id] = item
        if not self.stale:
            self._consider(item)

    def reprice(self, item: Listing) -> None:
        if self._holds(item):
            self.stale = True
        elif not self.stale:
            self._consider(item)

    def remove(self, item: Listing) -> None:
        del self.live[item.offer_id]
        if self._holds(item):
            self.stale = True

    def sell(self, limit: int) -> Listing | None:
        """The buyer takes the cheapest buyable third-party copy within ``limit``; Amazon's own
        offer never runs out, so a buyer who takes it leaves the counts alone (and is no
        inferred sale)."""
        self.refresh()
        winner = self.best
        if winner is not None and winner.is_amazon:
            others = [item for item in self.live.values() if not item.is_amazon]
            winner = _cheapest(others, [item.prices[-1][1] for item in others])[0] or winner
        if winner is None or winner.prices[-1][1] + winner.shipping > limit:
            return None
        if not winner.is_amazon:
            self.remove(winner)
        return winner

    def shortage(self) -> list[Listing]:
        """Withdraw all but the dearest sixth of the copies with a known price."""
        priced = sorted(
            (item for item in self.live.values() if item.prices[-1][1] >= 0),
            key=lambda item: item.prices[-1][1],
        )
        pulled = priced[: len(priced) - max(1, len(priced) // 6)]
        for item in pulled:
            self.remove(item)
        return pulled

    def competitive(self, item: Listing, price: int) -> int:
        """``price`` (what the seller thinks the copy is worth), raised towards 90% of the
        cheapest other copy if it was below, but by no more than 15%."""
        self.refresh()
        if price < 0 or self.lowest < 0 or self.lowest_item is item:
            return price
        floor = min(self.lowest * 9 // 10, price * 115 // 100)
        return price if price >= floor else max(99, floor // 100 * 100 - 1)

    def refresh(self) -> None:
        if self.stale:
            self.lowest, self.lowest_item, self.best, self.best_key = -1, None, None, None
            self.by_condition = {}
            for item in self.live.values():
                self._consider(item)
            self.stale = False

    def _holds(self, item: Listing) -> bool:
        held = self.by_condition.get(item.condition)
        return item is self.lowest_item or item is self.best or (held is not None and held[1] is item)

    def _consider(self, item: Listing) -> None:
        price = item.prices[-1][1]  # during the sweep, a copy's last price point is its price now
        if price < 0:
            return
        if self.lowest < 0 or price < self.lowest:
            self.lowest, self.lowest_item = price, item
        key = _buy_key(item, price)
        if key is None:
            return
        if self.best_key is None or key < self.best_key:
            self.best, self.best_key = item, key
        held = self.by_condition.get(item.condition)
        if held is None or key < held[0]:
            self.by_condition[item.condition] = (key, item)


class _SlotWriter:
    """Appends a point to a slot only when its value changes (one point per minute: a later
    event in the same minute overwrites the earlier one, as Keepa keeps one value a minute)."""

    def __init__(self, groups: set[str]):
        self.csv: dict[int, list[int]] = {}
        self.buy_box_csv: dict[int, list[int]] = {}
        self.used_history: list[str] = []
        self.seller_history: list[str] = []
        if "used" in groups:
            for slot in (USED, COUNT_USED, 19, 20, 21, 22):
                self.csv[slot] = []
            self.buy_box_csv[BUY_BOX_USED_SHIPPING] = []
        if "new" in groups:
            for slot in (NEW, COUNT_NEW):
                self.csv[slot] = []
            self.buy_box_csv[BUY_BOX_SHIPPING] = []
        if "collectible" in groups:
            for slot in (COLLECTIBLE, COUNT_COLLECTIBLE, 23, 24, 25, 26):
                self.csv[slot] = []

    def write(self, group: str, now: int, pool: _Pool) -> None:
        """The group's slots after this minute's events."""
        pool.refresh()
        if group == "used":
            price_slot, count_slot, conditions = USED, COUNT_USED, _USED_ORDER
        elif group == "new":
            price_slot, count_slot, conditions = NEW, COUNT_NEW, ()
        else:
            price_slot, count_slot, conditions = COLLECTIBLE, COUNT_COLLECTIBLE, _COLLECTIBLE_ORDER
        _point(self.csv[price_slot], 2, now, (pool.lowest,))
        _point(self.csv[count_slot], 2, now, (len(pool.live),))
        for condition in conditions:
            held = pool.by_condition.get(condition)
            shown = (-1, -1) if held is None else (held[1].prices[-1][1], held[1].shipping)
            _point(self.csv[CONDITION_SHIPPING_SLOT[condition]], 3, now, shown)
        if group == "collectible":
            return
        best = pool.best
        shown = (-1, -1) if best is None else (best.prices[-1][1], best.shipping)
        if group == "used":
            _point(self.buy_box_csv[BUY_BOX_USED_SHIPPING], 3, now, shown)
            entry = (
                ("", "", "") if best is None else (best.seller_id, str(best.condition), str(int(best.is_fba)))
            )
            _point(self.used_history, 4, str(now), entry)
        else:
            _point(self.buy_box_csv[BUY_BOX_SHIPPING], 3, now, shown)
            _point(self.seller_history, 2, str(now), ("-1" if best is None else best.seller_id,))


def _point(flat: list, step: int, now: Any, values: tuple) -> None:
    if flat and flat[-step] == now:
        del flat[-step:]
    if len(flat) >= step and flat[1 - step] == values[0] and (step == 2 or tuple(flat[1 - step :]) == values):
        return
    flat.append(now)
    flat += values


def amazon_listings(amazon_csv: list[int]) -> list[Listing]:
    """Amazon's own new offer, one listing per stretch in which the AMAZON slot has a price."""
    result: list[Listing] = []
    current: Listing | None = None
    for t, price in zip(amazon_csv[0::2], amazon_csv[1::2], strict=True):
        if price < 0:
            if current is not None:
                current.withdraw_at, current = t, None
            continue
        if current is None:
            current = Listing(
                offer_id=0,
                seller_id=AMAZON_SELLER_ID,
                condition=CONDITION_NEW,
                is_fba=True,
                shipping=0,
                listed_at=t,
                is_amazon=True,
                prices=[(t, price)],
            )
            result.append(current)
        else:
            current.reprices.append((t, price))
    return result
