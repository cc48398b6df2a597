"""Keepa's API facts, written once: the client, product parsing, analytics, discovery and the
simulator all read them from here, so they cannot drift apart.

Times are Keepa minutes (minutes since 2011-01-01 00:00 UTC); prices are cents; a product's
``csv`` holds one history per price type, and a deal's ``priceTypes`` uses the same numbers.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

# --- time ---------------------------------------------------------------------------------

KEEPA_EPOCH_OFFSET_MINUTES = 21_564_000  # unix minutes at Keepa minute 0
DAY = 24 * 60  # in Keepa minutes
_EPOCH = datetime(2011, 1, 1, tzinfo=UTC)


def keepa_minutes_to_datetime(t: int) -> datetime:
    """``unix_ms = (t + 21564000) * 60000``, i.e. minutes since 2011-01-01 00:00 UTC."""
    return _EPOCH + timedelta(minutes=t)


def datetime_to_keepa_minutes(moment: datetime) -> int:
    """Naive datetimes are taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int((moment - _EPOCH).total_seconds() // 60)


def unix_to_keepa_minutes(seconds: float) -> int:
    return int(seconds // 60) - KEEPA_EPOCH_OFFSET_MINUTES


# --- csv slots (= price types) ------------------------------------------------------------

CSV_NAMES = (
    "AMAZON", "NEW", "USED", "SALES", "LISTPRICE", "COLLECTIBLE", "REFURBISHED", "NEW_FBM_SHIPPING",
    "LIGHTNING_DEAL", "WAREHOUSE", "NEW_FBA", "COUNT_NEW", "COUNT_USED", "COUNT_REFURBISHED",
    "COUNT_COLLECTIBLE", "EXTRA_INFO_UPDATES", "RATING", "COUNT_REVIEWS", "BUY_BOX_SHIPPING",
    "USED_NEW_SHIPPING", "USED_VERY_GOOD_SHIPPING", "USED_GOOD_SHIPPING", "USED_ACCEPTABLE_SHIPPING",
    "COLLECTIBLE_NEW_SHIPPING", "COLLECTIBLE_VERY_GOOD_SHIPPING", "COLLECTIBLE_GOOD_SHIPPING",
    "COLLECTIBLE_ACCEPTABLE_SHIPPING", "REFURBISHED_SHIPPING", "EBAY_NEW_SHIPPING", "EBAY_USED_SHIPPING",
    "TRADE_IN", "RENT", "BUY_BOX_USED_SHIPPING", "PRIME_EXCL", "COUNT_NEW_FBA", "COUNT_NEW_FBM",
)  # fmt: skip
CSV_SLOTS = len(CSV_NAMES)
AMAZON, NEW, USED, SALES, LISTPRICE = 0, 1, 2, 3, 4
COUNT_NEW, COUNT_USED, RATING, COUNT_REVIEWS, USED_GOOD_SHIPPING = 11, 12, 16, 17, 21
# Shipping-type slots hold (time, price, shipping) triples instead of (time, value) pairs.
TRIPLE_SLOTS = frozenset({7, *range(18, 30), 32})

# --- identifiers --------------------------------------------------------------------------

ASIN_PATTERN = r"^[0-9A-Z]{10}$"
ASIN_RE = re.compile(ASIN_PATTERN)

# Root categories of the US marketplace (domain 1).
US_BOOKS = 283155
US_TEXTBOOKS = 465600
US_MOVIES_TV = 2625373011
US_MUSIC = 5174
ROOT_CATEGORY_NAMES = {
    US_BOOKS: "Books",
    US_TEXTBOOKS: "Textbooks",
    US_MOVIES_TV: "Movies & TV",
    US_MUSIC: "Music",
}

# --- /deal --------------------------------------------------------------------------------

DEAL_PAGE_SIZE = 150
DEAL_PAGE_COST = 5  # tokens per page, whatever it holds
# ``sortType``: a negative value inverts the order, except for deal age.
SORT_BY_DEAL_AGE = 1  # newest deal first
SORT_BY_DELTA = 2
SORT_BY_SALES_RANK = 3
SORT_BY_DELTA_PERCENT = 4

# --- /product (tokens are charged per product returned) -----------------------------------

MAX_ASINS_PER_CALL = 100
# ``offers=N`` asks for up to N live offers per product; Keepa refuses N outside 20..100.
MIN_OFFERS, MAX_OFFERS = 20, 100
# With ``offers``: 6 tokens per page of up to 10 offers found, replacing the 1 per product. A
# product with no live offer still costs one page: Keepa fetched its (empty) offer listing,
# and the published rule names no cheaper case, so one page is the safe reading.
OFFERS_PAGE_SIZE = 10
OFFERS_PAGE_COST = 6
FAILED_OFFERS_COST = 1  # a product whose offers could not be fetched (``offersSuccessful`` false)
BUYBOX_COST = 2  # extra per product, unless offers are asked for (they include the buy box)
FRESH_UPDATE_COST = 1  # extra per product for ``update=0``
RATING_COST = 1  # ``rating=1``: up to 1 extra per product (only when Keepa refreshed the rating)

# --- offers -------------------------------------------------------------------------------

# ``offer.condition`` (``OfferCondition``); 0 means Keepa could not tell.
CONDITION_NAMES = {
    1: "New",
    2: "Used - Like New",
    3: "Used - Very Good",
    4: "Used - Good",
    5: "Used - Acceptable",
    6: "Refurbished",
    7: "Collectible - Like New",
    8: "Collectible - Very Good",
    9: "Collectible - Good",
    10: "Collectible - Acceptable",
}
CONDITION_NEW = 1
USED_CONDITIONS = frozenset({2, 3, 4, 5})
CONDITION_REFURBISHED = 6
COLLECTIBLE_CONDITIONS = frozenset({7, 8, 9, 10})
# In ``offerCSV`` (repeated ``[minute, price, shipping]``): price -2 = unknown, shipping -1 =
# not shippable (or unspecified), shipping 0 = free (every FBA offer).
PRICE_UNKNOWN = -2
NOT_SHIPPABLE = -1
AMAZON_SELLER_ID = "ATVPDKIKX0DER"  # Amazon.com itself (``isAmazon``); Warehouse Deals is not Amazon

# --- /seller ------------------------------------------------------------------------------

MAX_SELLERS_PER_CALL = 100
SELLER_COST = 1  # per seller found; an unknown id costs nothing
# A seller's ``csv``: 0 RATING (percent positive, 0-100), 1 RATING_COUNT (lifetime count).
SELLER_RATING, SELLER_RATING_COUNT = 0, 1
