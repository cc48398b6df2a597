"""Drawing the catalogue's products: Keepa-shaped books with 3-year histories.

Each product is drawn from its own ``random.Random(seed, index)`` so it does not depend on
how many products were asked for. A product is a market of offer listings (``offers``):
sellers list used, new and now and then collectible copies at prices around the book's
seasonal value (not far under the cheapest copy listed), reprice them, withdraw them, and
buyers take the cheapest buyable copy they find worth it; Amazon sells new copies of some
books itself. The csv's price and count histories are read off that market, so they agree
with the live offers at every minute, and the sales rank drops after each real sale.
Textbooks sell more, and dearer, in January and August.

Most of the deal finder's candidates are drops nobody profits from, as on Amazon: sellers of
cheap books cut their price for a few days, and shelves that ran short are restocked at
about the book's value. Some ordinary products get one cheap used copy: listed in the two
days before the catalogue's start, or later as the clock runs. Those are most of the deals
that look profitable on statistics; whether the copy can really be bought at a profit is
its fate, drawn once: ``verifiable_share`` of them can (a shippable used copy at a known
price), the others fail as they do on Amazon: the copy is Acceptable with a shipping charge
that eats the profit, it cannot be shipped (next to cheap collectible or new decoys), or it
sells within minutes, before anyone verifies it. One product in ten is deliberately awkward
(no used history, no sales, a short history, absurd prices, or no history at all).
"""

from __future__ import annotations

import math
import random
from bisect import bisect_left, bisect_right

from deals.keepa.facts import (
    AMAZON,
    COLLECTIBLE_CONDITIONS,
    CONDITION_NEW,
    COUNT_REVIEWS,
    CSV_SLOTS,
    DAY,
    LISTPRICE,
    NOT_SHIPPABLE,
    PRICE_UNKNOWN,
    RATING,
    SALES,
    US_TEXTBOOKS,
    keepa_minutes_to_datetime,
)
from keepasim.catalogue.offers import Listing, Market, MarketHistory, amazon_listings
from keepasim.catalogue.product import CatalogueProduct
from keepasim.catalogue.sellers import seller_ids, seller_index

YEAR = 365 * DAY
# The catalogue's mix, tuned so that by default 10-25% of the deal finder's candidates look
# profitable on statistics (keepasim/tests/test_mix.py measures it). Half the books are
# textbooks; the others trade books and bargain paperbacks, whose price drops fees eat.
TEXTBOOK_SHARE, BARGAIN_SHARE = 0.5, 0.35
CHEAP_BOOK = 2_200  # cents: sellers of books below this cut prices for a few days, often
PRICE_CUTS_PER_YEAR = 100
# Share of products restocked, in the two days before the start, after a shortage (only
# books below SHORTAGE_BOOK: dearer ones would look profitable at their value), and of
# ordinary products with a cheap used copy listed in the two days before it; both go on
# at the same pace after the start. VERIFIABLE_SHARE is the default share of cheap copies
# that can really be bought at a profit.
SHORTAGE_NOW, SHORTAGE_BOOK = 0.75, 8_000
DEAL_NOW = 0.2
VERIFIABLE_SHARE = 0.6
BUYER_LIMIT = 1.05  # the most a buyer pays, item plus shipping, as a share of the book's value
WITHDRAW_DAYS = 240  # mean time a copy stays listed unless it sells
_USED_CONDITIONS = (2, 3, 4, 5)
_USED_CONDITION_SHARES = (0.15, 0.45, 0.8)  # cumulative: 15% Like New, 30% Very Good, 35% Good
# Price of a condition relative to the book's used value.
_CONDITION_FACTOR = {1: 1.55, 2: 1.1, 3: 1.0, 4: 0.93, 5: 0.85, 7: 2.4, 8: 2.2, 9: 2.0, 10: 1.8}
_SHIPPING_CHARGES = (399, 0, 349, 449, 499, 599)
_SHIPPING_SHARES = (0.6, 0.7, 0.8, 0.9, 0.95)  # cumulative
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
_TEXTBOOK_PRICE = {1: 1.14, 8: 1.18, 9: 1.05, 12: 1.02}
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

        self.starts = [
            (self.first_day + i) * DAY
            for i in range(1, len(self.by_day))
            if self.by_day[i] != self.by_day[i - 1]
        ]  # the first minute of each month

    def __call__(self, minute: int) -> int:
        return self.by_day[minute // DAY - self.first_day]


class _Builder:
    """Draws one product. All randomness comes from ``rng``; times are Keepa minutes."""

    def __init__(
        self, rng: random.Random, anchor: int, months: Months, kind: str, seed: int, verifiable_share: float
    ):
        self.rng = rng
        self.seed = seed
        self.verifiable_share = verifiable_share
        self.anchor = anchor
        self.months = months
        self.kind = kind
        self.horizon = anchor + FUTURE
        book_roll = rng.random()
        self.textbook = kind == "absurd" or book_roll < TEXTBOOK_SHARE
        bargain = not self.textbook and book_roll >= 1 - BARGAIN_SHARE  # priced the same all year
        if kind == "short":
            self.start = anchor - rng.randint(6, 20) * DAY
        else:
            self.start = anchor - 3 * YEAR + rng.randint(0, 5 * DAY)
        rate_table = _TEXTBOOK_RATE if self.textbook else _TRADE_RATE
        self.rate_of = [rate_table.get(m, 1.0 if not self.textbook else 0.7) for m in range(13)]
        price_table = _TEXTBOOK_PRICE if self.textbook else {} if bargain else _TRADE_PRICE
        self.price_of = [price_table.get(m, 0.97 if self.textbook else 1.0) for m in range(13)]
        # Sellers reprice when the season turns (textbooks in January, February, August...).
        self.season_turns = [
            t for t in months.starts if self.price_of[months(t)] != self.price_of[months(t - DAY)]
        ]
        if kind == "absurd":
            self.base = rng.randint(210_000, 800_000)
        elif self.textbook:
            self.base = int(math.exp(rng.uniform(math.log(2_800), math.log(14_000))))
        else:
            self.base = rng.randint(1_000, 2_000) if bargain else rng.randint(1_100, 3_800)
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

    def _buyers(self, rate_per_year: float, factor: float) -> list[tuple[int, int]]:
        """When buyers come, and the most each pays: a copy far above the book's value (the
        last copies of a thin shelf) waits for the next buyer instead of setting the price."""
        if self.kind == "no_sales":
            return []
        return [
            (t, int(self.base * factor * self.price_of[self.months(t)] * BUYER_LIMIT))
            for t in self._seasonal_times(rate_per_year, self.horizon)
        ]

    def _seasonal_times(self, rate_per_year: float, until: int) -> list[int]:
        """Seasonal Poisson process by thinning."""
        if rate_per_year <= 0:
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

    def _listing_price(self, t: int, factor: float) -> int:
        cents = self.base * factor * self.price_of[self.months(t)] * (0.97 + 0.06 * self.rng.random())
        return max(99, int(cents) // 100 * 100 + 99 if cents > 500 else int(cents))

    def _listing(
        self, market: Market, t: int, group: str, cut_to: float | None = None, worth: float | None = None
    ) -> Listing:
        """One seller's copy listed at ``t``, with its reprices and withdrawal drawn now; a
        price cut (``cut_to``: its price as a share of the book's value) lasts one to four days;
        ``worth`` prices a copy at that share of the value whatever the shelf holds."""
        rng = self.rng
        if group == "used":
            condition = _USED_CONDITIONS[bisect_right(_USED_CONDITION_SHARES, rng.random())]
        elif group == "new":
            condition = CONDITION_NEW
        else:
            condition = rng.choice(sorted(COLLECTIBLE_CONDITIONS))
        factor = _CONDITION_FACTOR[condition] * (0.84 + 0.34 * rng.random())
        if rng.random() < 0.15:
            factor *= rng.uniform(1.4, 2.2)  # a seller who prices high and waits
        is_fba = rng.random() < 0.35
        listing = Listing(
            offer_id=0,
            seller_id=seller_ids(self.seed)[seller_index(rng)],
            condition=condition,
            is_fba=is_fba,
            shipping=0 if is_fba else _merchant_shipping(rng),
            listed_at=t,
        )
        if cut_to is not None:
            listing.prices, listing.competes = [(t, self._listing_price(t, cut_to))], False
            listing.withdraw_at = t + rng.randint(DAY, 4 * DAY)
            return market.add(listing)
        if worth is not None:
            factor, listing.competes = worth, False
        unknown = worth is None and rng.random() < 0.02
        listing.prices = [(t, PRICE_UNKNOWN if unknown else self._listing_price(t, factor))]
        end = t + int(rng.expovariate(1 / (WITHDRAW_DAYS * DAY)))
        if end < self.horizon:
            listing.withdraw_at = end
        if unknown:
            return market.add(listing)
        until, times, repriced = min(end, self.horizon), [], t
        while True:
            repriced += 10 * DAY + int(rng.expovariate(1 / (50 * DAY)))
            if repriced >= until:
                break
            times.append(repriced)
        times += self.season_turns[bisect_right(self.season_turns, t) : bisect_left(self.season_turns, until)]
        listing.reprices = [(when, self._listing_price(when, factor)) for when in sorted(times)]
        return market.add(listing)

    def _shortages(self, market: Market) -> None:
        """A shelf that ran short (``Market.add_shortage``) for three to six days and was
        restocked with a copy at about the book's value: a drop the deal finder reports, at a
        price nobody profits from; the pulled copies return a few days later. ``SHORTAGE_NOW``
        of the products were restocked in the two days before the start; a product runs short
        again a week or two after its copies are back."""
        rng, anchor = self.rng, self.anchor
        now = rng.random() < SHORTAGE_NOW
        restocked = anchor - rng.randint(6 * 60, 2 * DAY) if now else anchor + rng.randint(DAY, 10 * DAY)
        while restocked < self.horizon:
            back_at = restocked + rng.randint(2 * DAY, 10 * DAY)
            market.add_shortage(restocked - rng.randint(3 * DAY, 6 * DAY), back_at)
            self._listing(market, restocked, "used", worth=rng.uniform(0.92, 1.05))
            restocked = back_at + 6 * DAY + int(rng.expovariate(1 / (5 * DAY)))

    def _price_cuts(self, market: Market) -> None:
        """Cheap books draw sellers who cut their price for a few days to move a copy: drops
        the deal finder reports that no fee structure can make profitable. They start four
        months before the catalogue's start: earlier ones would only cost build time."""
        rng, t = self.rng, max(self.start, self.anchor - 120 * DAY)
        while True:
            t += 1 + int(rng.expovariate(PRICE_CUTS_PER_YEAR / YEAR))
            if t >= self.horizon:
                return
            self._listing(market, t, "used", cut_to=rng.uniform(0.45, 0.65))

    def _stock(self, market: Market, group: str, listed: int, sales_rate: float) -> None:
        """``listed`` copies at the start, then arrivals that replace the withdrawn, and the
        sold as they sell (sellers list more in the season, so it does not empty the shelf)."""
        for _ in range(listed):
            self._listing(market, self.start, group)
        arrivals = self._seasonal_times(sales_rate, self.horizon)
        t = self.start
        while True:
            t += max(1, int(self.rng.expovariate(listed * 365 / WITHDRAW_DAYS / YEAR)))
            if t >= self.horizon:
                break
            arrivals.append(t)
        for t in sorted(arrivals):
            self._listing(market, t, group)

    def _deals(self, market: Market) -> None:
        """Cheap used copies: one in the two days before the start for ``DEAL_NOW`` of the
        products, and after the start at the same pace, so the mix holds as the clock runs."""
        rng, anchor = self.rng, self.anchor
        times = [anchor - rng.randint(30, 2 * DAY)] if rng.random() < DEAL_NOW else []
        t = anchor
        while True:
            t += 1 + int(rng.expovariate(DEAL_NOW / (2 * DAY)))
            if t >= self.horizon:
                break
            times.append(t)
        for listed_at in times:
            self._deal(market, listed_at)

    def _deal(self, market: Market, listed_at: int) -> None:
        """One cheap used copy (see the module docstring). Every draw is made whatever its
        fate, so ``verifiable_share`` changes fates and nothing else."""
        rng, anchor = self.rng, self.anchor
        fate, price_share, condition = rng.random(), rng.uniform(0.3, 0.55), rng.choice(_USED_CONDITIONS)
        fba, sells_after, withdraw_days = (
            rng.random() < 0.5,
            rng.randint(5, 90),
            rng.expovariate(1 / WITHDRAW_DAYS),
        )
        high_shipping, decoy = rng.uniform(0.7, 0.9), rng.random()
        decoy_condition = rng.choice((CONDITION_NEW, *sorted(COLLECTIBLE_CONDITIONS)))
        seller, decoy_seller = seller_index(rng), seller_index(rng)
        price = max(199, int(self.base * price_share) // 100 * 100 + 49)
        copy = Listing(
            offer_id=0,
            seller_id=seller_ids(self.seed)[seller],
            condition=condition,
            is_fba=fba,
            shipping=0 if fba else 399,
            listed_at=listed_at,
            prices=[(listed_at, price)],
            competes=False,
        )
        gone = listed_at + int(withdraw_days * DAY)
        copy.withdraw_at = gone if gone < self.horizon else None
        market.add(copy)
        if fate < self.verifiable_share:
            return
        failure = (fate - self.verifiable_share) / (1 - self.verifiable_share)
        if failure < 1 / 3:  # Acceptable, and the shipping eats the profit
            copy.condition, copy.is_fba = 5, False
            copy.shipping = int(self.base * high_shipping) // 100 * 100 + 99
        elif failure < 2 / 3:  # cannot be shipped; the other cheap copies are the wrong kind
            copy.is_fba, copy.shipping = False, NOT_SHIPPABLE
            if decoy < 0.6:
                market.add(
                    Listing(
                        offer_id=0,
                        seller_id=seller_ids(self.seed)[decoy_seller],
                        condition=decoy_condition,
                        is_fba=False,
                        shipping=399,
                        listed_at=listed_at,
                        prices=[(listed_at, price - 100)],
                        withdraw_at=copy.withdraw_at,
                    )
                )
        else:  # someone buys it first
            copy.sell_at = max(listed_at, anchor) + sells_after
            copy.withdraw_at = None

    def build(self) -> tuple[list[list[int] | None], Market, MarketHistory | None]:
        rng, anchor, horizon = self.rng, self.anchor, self.horizon
        csv: list[list[int] | None] = [None] * CSV_SLOTS
        market = Market(self.start)
        if self.kind == "empty":
            return csv, market, None
        if self.kind != "no_used":
            self._stock(
                market, "used", rng.randint(5, 25) if self.textbook else rng.randint(2, 8), self.used_rate
            )
            market.add_sales(self._buyers(self.used_rate, 1.0), "used")
            if self.kind == "ordinary":
                self._deals(market)
            if self.base < SHORTAGE_BOOK:
                self._shortages(market)
            if self.base < CHEAP_BOOK:
                self._price_cuts(market)
        self._stock(market, "new", rng.randint(1, 6), self.new_rate)
        market.add_sales(self._buyers(self.new_rate, _CONDITION_FACTOR[CONDITION_NEW]), "new")
        if rng.random() < 0.04:
            for _ in range(rng.randint(1, 2)):
                self._listing(market, rng.randint(self.start, anchor), "collectible")
        if self.kind != "absurd" and rng.random() < 0.55:
            cheap = rng.random() < 0.18  # Amazon itself sells cheaply: List at hits the ceiling
            amazon = self._prices(
                rng.uniform(0.95, 1.1) if cheap else rng.uniform(1.6, 2.1), 25.0, horizon, 0.05
            )
            for j in range(1, len(amazon) - 2, 2):
                if rng.random() < 0.12:
                    amazon[j] = -1
            csv[AMAZON] = amazon
            for listing in amazon_listings(amazon):
                market.add(listing)
        history = market.run()
        for slot, flat in history.csv.items():
            csv[slot] = flat or None
        csv[SALES] = self._rank(history.sales)
        csv[LISTPRICE] = [self.start, int(self.base * 2.2) // 100 * 100 + 99]
        csv[RATING] = [self.start, rng.randint(36, 49)]
        csv[COUNT_REVIEWS] = [
            self.start,
            rng.randint(0, 40),
            anchor - rng.randint(1, 300) * DAY,
            rng.randint(41, 400),
        ]
        return csv, market, history


def _merchant_shipping(rng: random.Random) -> int:
    """What a merchant-fulfilled copy charges: mostly media mail, a few free, a few not shippable."""
    if rng.random() < 0.03:
        return NOT_SHIPPABLE
    return _SHIPPING_CHARGES[bisect_right(_SHIPPING_SHARES, rng.random())]


def _title(rng: random.Random, textbook: bool) -> tuple[str, int]:
    if textbook:
        subject = rng.choice(list(_SUBJECTS))
        pattern = rng.choice(_TEXTBOOK_PATTERNS)
        return pattern.format(s=subject, e=rng.choice(_EDITIONS)), _SUBJECTS[subject]
    a, b = rng.sample(_TRADE_WORDS, 2)
    return rng.choice(_TRADE_PATTERNS).format(a=a, b=b) + ": A Novel", 17


def months_around(anchor: int) -> Months:
    return Months(anchor - 3 * YEAR - 10 * DAY, anchor + 2 * YEAR)


def build_product(
    seed: int,
    index: int,
    anchor: int,
    months: Months | None = None,
    verifiable_share: float = VERIFIABLE_SHARE,
) -> CatalogueProduct:
    """Product ``index`` of catalogue ``seed`` (independent of the catalogue's size)."""
    months = months or months_around(anchor)
    rng = random.Random(seed * 1_000_003 + index)
    kind = AWKWARD_KINDS[(index // 10) % len(AWKWARD_KINDS)] if index % 10 == 9 else "ordinary"
    asin = _isbn10(rng)
    builder = _Builder(rng, anchor, months, kind, seed, verifiable_share)
    csv, market, history = builder.build()
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
        listings=market.listings,
        buy_box_csv=history.buy_box_csv if history else {},
        used_buy_box_history=history.used_buy_box_history if history else [],
        buy_box_seller_history=history.buy_box_seller_history if history else [],
    )
