"""The deal-finder query staff edit: what Keepa's /deal selection may hold, validated.

The fields are every selection field Keepa documents for ``/deal`` (its ``DealRequest``),
with the values Keepa allows, so a query built on Keepa's Deals page and exported as JSON
pastes in unchanged. A field Keepa does not know is refused by name: a typo would otherwise be
sent on every scan and silently ignored. ``null`` is accepted for every optional field, as
Keepa's own export writes it for a filter that is off.

Pure (no models), so the model that stores a selection and the discovery that sends it both
validate with the same rules.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from deals.keepa.facts import CSV_SLOTS, SORT_BY_DEAL_AGE, US_BOOKS, USED

DEFAULT_SELECTION: dict[str, Any] = {
    "domainId": 1,
    "priceTypes": [USED],
    "dateRange": 1,
    "includeCategories": [US_BOOKS],
    "isFilterEnabled": True,
    "isRangeEnabled": True,
    "deltaPercentRange": [20, 100],
    "salesRankRange": [1, 2_000_000],
    "currentRange": [300, 100_000],
}

#: Amazon locales Keepa serves (7, the retired China store, is gone).
DOMAIN_IDS = (1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12)
#: 0 day, 1 week, 2 month, 3 90 days, 4 Keepa's longest interval.
DATE_RANGES = range(5)
#: 1 deal age (newest first, not invertible), 2 delta, 3 sales rank, 4 percent; negative inverts.
SORT_TYPES = (1, 2, 3, 4, -2, -3, -4)
#: Amazon Warehouse conditions: 1 new, 2 like new, 3 very good, 4 good, 5 acceptable.
WAREHOUSE_CONDITIONS = range(1, 6)
#: ``minRating`` is the rating times ten; -1 turns the filter off.
MIN_RATING_OFF = -1
MAX_RATING = 50
#: A range's upper bound of -1 means "no upper bound" (Keepa reads it as the largest int).
OPEN_BOUND = -1

_RANGE_KEYS = {"currentRange", "deltaRange", "deltaPercentRange", "salesRankRange", "deltaLastRange"}
_INT_KEYS = {"domainId", "dateRange", "minRating", "sortType", "page"}
_BOOL_KEYS = {
    "isFilterEnabled",
    "isRangeEnabled",
    "singleVariation",
    "isLowest",
    "isLowest90",
    "isLowestOffer",
    "isHighest",
    "isRisers",
    "isBackInStock",
    "isOutOfStock",
    "hasReviews",
    "filterErotic",
    "mustHaveAmazonOffer",
    "mustNotHaveAmazonOffer",
    "isPrimeExclusive",
}
_TEXT_KEYS = {"titleSearch", "categorySearch"}
_ID_LIST_KEYS = {"priceTypes", "includeCategories", "excludeCategories", "warehouseConditions"}
#: Keepa's product-attribute filters: lists of the attribute values to match.
_TEXT_LIST_KEYS = {
    "material",
    "type",
    "manufacturer",
    "brand",
    "productGroup",
    "model",
    "color",
    "size",
    "unitType",
    "scent",
    "itemForm",
    "pattern",
    "style",
    "itemTypeKeyword",
    "targetAudienceKeyword",
    "edition",
    "format",
    "author",
    "binding",
    "languages",
    "brandStoreName",
    "brandStoreUrlName",
    "websiteDisplayGroup",
    "websiteDisplayGroupName",
    "salesRankDisplayGroup",
}
ALLOWED_KEYS = _RANGE_KEYS | _INT_KEYS | _BOOL_KEYS | _TEXT_KEYS | _ID_LIST_KEYS | _TEXT_LIST_KEYS


def _as_int(value: Any, where: str) -> int:
    """Keepa accepts numbers sent as strings; we accept them too, but nothing else."""
    if isinstance(value, bool):
        raise ValueError(f"{where} must be a number, not a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value.strip())
    raise ValueError(f"{where} must be a whole number, got {value!r}")


def _one_of(value: int, allowed, where: str, meaning: str) -> int:
    if value not in allowed:
        raise ValueError(f"{where} must be {meaning}, got {value}")
    return value


def _range(value: Any, key: str) -> list[int]:
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise ValueError(f"{key} must be a [min, max] pair")
    low, high = (_as_int(v, key) for v in value)
    if high != OPEN_BOUND and low > high:
        raise ValueError(f"{key}: min {low} is above max {high}")
    return [low, high]


def _field(key: str, value: Any) -> Any:
    """One field's normalised value, or ValueError naming the field and what Keepa allows."""
    if key in _INT_KEYS:
        number = _as_int(value, key)
        if key == "domainId":
            return _one_of(number, DOMAIN_IDS, key, "an Amazon locale Keepa serves (1-6, 8-12)")
        if key == "dateRange":
            return _one_of(number, DATE_RANGES, key, "0 (day), 1 (week), 2 (month), 3 (90 days) or 4")
        if key == "sortType":
            return _one_of(number, SORT_TYPES, key, "1 (deal age), 2, 3 or 4, or -2, -3 or -4 (inverted)")
        if key == "minRating":
            allowed = {MIN_RATING_OFF, *range(MAX_RATING + 1)}
            return _one_of(number, allowed, key, f"-1 (off) or a rating times ten, 0 to {MAX_RATING}")
        if number < 0:
            raise ValueError(f"{key} must not be negative")
        return number
    if key in _BOOL_KEYS:
        if not isinstance(value, bool):
            raise ValueError(f"{key} must be true or false")
        return value
    if key in _RANGE_KEYS:
        return _range(value, key)
    if key in _TEXT_KEYS:
        if not isinstance(value, str):
            raise ValueError(f"{key} must be text")
        return value
    if key in _TEXT_LIST_KEYS:
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"{key} must be a list of text values")
        return list(value)
    if not isinstance(value, list | tuple):
        raise ValueError(f"{key} must be a list")
    numbers = [_as_int(v, key) for v in value]
    if key == "warehouseConditions" and any(n not in WAREHOUSE_CONDITIONS for n in numbers):
        raise ValueError("warehouseConditions may hold 1 (new) to 5 (acceptable) only")
    return numbers


def validate_selection(selection: Any) -> dict[str, Any]:
    """Return a normalised copy of a deal-finder selection or raise ValueError saying why."""
    if not isinstance(selection, Mapping):
        raise ValueError("the selection must be a JSON object")
    unknown = sorted(set(selection) - ALLOWED_KEYS)
    if unknown:
        raise ValueError(f"unknown selection keys: {', '.join(unknown)}")
    clean = {key: None if value is None else _field(key, value) for key, value in selection.items()}
    price_types = clean.get("priceTypes")
    if not price_types or len(price_types) != 1 or not 0 <= price_types[0] < CSV_SLOTS:
        raise ValueError(f"priceTypes must hold exactly one price type between 0 and {CSV_SLOTS - 1}")
    return clean


def scan_query(selection: Any) -> dict[str, Any]:
    """The /deal query a scan sends for a stored selection: everything the seller chose,
    except what the scan controls itself. It walks the pages (``page``) and needs the newest
    deal first (``sortType`` 1) for its watermark. A null field is an unset filter, so it is
    left out rather than sent."""
    query = {key: value for key, value in validate_selection(selection).items() if value is not None}
    query.pop("page", None)
    query["sortType"] = SORT_BY_DEAL_AGE
    return query
