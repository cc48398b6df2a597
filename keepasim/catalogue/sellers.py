"""The catalogue's marketplace sellers and what ``/seller`` answers about them.

A fixed pool per seed (so a product's sellers do not depend on the catalogue's size), drawn
skewed: a few big sellers hold many listings. Most sellers are rated 90-100% positive on many
ratings; some are rated low, some have only a handful of ratings. Ratings drift slowly along
a history that, like the products', runs past the start and is revealed as the clock moves.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from deals.keepa.facts import AMAZON_SELLER_ID, DAY, SELLER_RATING, SELLER_RATING_COUNT

SELLER_POOL = 400
_ID_CHARS = string.ascii_uppercase + string.digits
_NAME_FIRST = (
    "Campus", "Riverside", "Second Chance", "Bookmark", "Lighthouse", "Owl", "Maple", "Harbor",
    "Blue Door", "Scholar", "Page Turner", "Evergreen", "Cardinal", "Prairie", "Summit", "Oak Street",
)  # fmt: skip
_NAME_SECOND = ("Books", "Textbooks", "Book Outlet", "Media", "Booksellers", "Used Books", "Book Exchange")
_NAME_SUFFIX = ("", "", " LLC", " Inc", " Co", " US")


def seller_index(rng: random.Random) -> int:
    """A seller for a new listing: low indices (the big sellers) far more often."""
    return int(SELLER_POOL * rng.random() ** 2.2)


def seller_id(seed: int, index: int) -> str:
    rng = random.Random(seed * 7_919 + index * 104_729 + 17)
    return "A" + "".join(rng.choice(_ID_CHARS) for _ in range(12))


@dataclass(frozen=True)
class Seller:
    seller_id: str
    name: str
    tracked_since: int
    has_fba: bool
    # (minute, percent positive, lifetime rating count), oldest first.
    ratings: tuple[tuple[int, int, int], ...]

    def rating_at(self, now: int) -> tuple[int, int]:
        """(percent positive, rating count) as known at ``now``."""
        percent, count = self.ratings[0][1:]
        for t, p, c in self.ratings:
            if t > now:
                break
            percent, count = p, c
        return percent, count

    def to_json(self, now: int) -> dict[str, Any]:
        known = [point for point in self.ratings if point[0] <= now] or [self.ratings[0]]
        percent, count = known[-1][1:]
        by_span = []
        for days in (30, 90, 365):
            before = [c for t, _, c in known if t <= now - days * DAY]
            by_span.append(count - (before[-1] if before else 0))
        by_span.append(count)
        negative = max(0, (100 - percent) * 2 // 3)
        return {
            "domainId": 1,
            "sellerId": self.seller_id,
            "sellerName": self.name,
            "trackedSince": self.tracked_since,
            "lastUpdate": now - now % 720,
            "lastRatingUpdate": known[-1][0],
            "csv": _csv(known),
            "currentRating": percent,
            "currentRatingCount": count,
            "ratingCount": by_span,
            "positiveRating": [percent] * 4,
            "negativeRating": [negative] * 4,
            "neutralRating": [100 - percent - negative] * 4,
            "hasFBA": self.has_fba,
            "shipsFromChina": False,
            "isScammer": False,
        }


def _csv(known: list[tuple[int, int, int]]) -> list[list[int]]:
    csv: list[list[int]] = [[], []]
    for t, percent, count in known:
        csv[SELLER_RATING] += (t, percent)
        csv[SELLER_RATING_COUNT] += (t, count)
    return csv


@lru_cache(maxsize=8)
def seller_ids(seed: int) -> tuple[str, ...]:
    """The pool's ids, by index (listings name a seller by drawing an index)."""
    return tuple(seller_id(seed, index) for index in range(SELLER_POOL))


def _draw_seller(seed: int, index: int, anchor: int, horizon: int) -> Seller:
    rng = random.Random(seed * 15_485_863 + index)
    roll = rng.random()
    if roll < 0.08:  # new to the marketplace: a handful of ratings
        count = rng.randint(1, 9)
        positive = count - (rng.random() < 0.4) * rng.randint(1, count)
        percent = round(100 * positive / count)
        tracked = anchor - rng.randint(20, 200) * DAY
    elif roll < 0.2:  # established, rated low
        percent, count = rng.randint(55, 89), rng.randint(40, 5_000)
        tracked = anchor - rng.randint(400, 3_000) * DAY
    else:
        percent, count = rng.randint(90, 100), int(10 ** rng.uniform(1.7, 5.0))
        tracked = anchor - rng.randint(400, 4_000) * DAY
    name = f"{rng.choice(_NAME_FIRST)} {rng.choice(_NAME_SECOND)}{rng.choice(_NAME_SUFFIX)}"
    points, t = [], tracked
    step = max(DAY, (anchor - tracked) // 8)
    while t <= horizon:
        share = (t - tracked) / max(1, anchor - tracked)  # keeps growing after the anchor
        drift = 0 if t >= anchor else rng.randint(-2, 2)
        points.append((t, max(0, min(100, percent + drift)), max(1, round(count * (0.3 + 0.7 * share)))))
        t += step
    points.append((anchor, percent, count))
    points.sort()
    return Seller(
        seller_id=seller_ids(seed)[index],
        name=name,
        tracked_since=tracked,
        has_fba=rng.random() < 0.6,
        ratings=tuple(dict((p[0], p) for p in points).values()),
    )


def build_sellers(seed: int, anchor: int, horizon: int) -> dict[str, Seller]:
    """Every seller the catalogue's offers name, Amazon included, by id."""
    sellers = [_draw_seller(seed, index, anchor, horizon) for index in range(SELLER_POOL)]
    amazon_since = anchor - 5_000 * DAY
    sellers.append(
        Seller(
            seller_id=AMAZON_SELLER_ID,
            name="Amazon.com",
            tracked_since=amazon_since,
            has_fba=True,
            ratings=((amazon_since, 100, 250_000),),
        )
    )
    return {seller.seller_id: seller for seller in sellers}
