"""The deal-finder query staff edit: what Keepa's /deal selection may hold, validated.

Pure (no models), so the model that stores a selection and the discovery that sends it both
validate with the same rules.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from deals.keepa.facts import CSV_SLOTS, US_BOOKS, USED

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

_RANGE_KEYS = {"currentRange", "deltaRange", "deltaPercentRange", "salesRankRange", "deltaLastRange"}
_INT_KEYS = {"domainId", "dateRange", "minRating", "sortType", "page"}
_BOOL_KEYS = {
    "isFilterEnabled",
    "isRangeEnabled",
    "singleVariation",
    "isLowest",
    "isLowest90",
    "isLowestOffer",
    "isOutOfStock",
    "hasReviews",
    "mustHaveAmazonOffer",
    "mustNotHaveAmazonOffer",
    "isPrimeExclusive",
}
_LIST_KEYS = {"priceTypes", "includeCategories", "excludeCategories"}
ALLOWED_KEYS = _RANGE_KEYS | _INT_KEYS | _BOOL_KEYS | _LIST_KEYS


def _as_int(value: Any, where: str) -> int:
    """Keepa accepts numbers sent as strings; we accept them too, but nothing else."""
    if isinstance(value, bool):
        raise ValueError(f"{where} must be a number, not a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value.strip())
    raise ValueError(f"{where} must be a whole number, got {value!r}")


def validate_selection(selection: Any) -> dict[str, Any]:
    """Return a normalised copy of a deal-finder selection or raise ValueError saying why."""
    if not isinstance(selection, Mapping):
        raise ValueError("the selection must be a JSON object")
    unknown = sorted(set(selection) - ALLOWED_KEYS)
    if unknown:
        raise ValueError(f"unknown selection keys: {', '.join(unknown)}")
    clean: dict[str, Any] = {}
    for key, value in selection.items():
        if key in _INT_KEYS:
            clean[key] = _as_int(value, key)
        elif key in _BOOL_KEYS:
            if not isinstance(value, bool):
                raise ValueError(f"{key} must be true or false")
            clean[key] = value
        elif key in _RANGE_KEYS:
            if not isinstance(value, list | tuple) or len(value) != 2:
                raise ValueError(f"{key} must be a [min, max] pair")
            low, high = (_as_int(v, key) for v in value)
            if low > high:
                raise ValueError(f"{key}: min {low} is above max {high}")
            clean[key] = [low, high]
        else:
            if not isinstance(value, list | tuple):
                raise ValueError(f"{key} must be a list")
            clean[key] = [_as_int(v, key) for v in value]
    price_types = clean.get("priceTypes")
    if not price_types or len(price_types) != 1 or not 0 <= price_types[0] < CSV_SLOTS:
        raise ValueError(f"priceTypes must hold exactly one price type between 0 and {CSV_SLOTS - 1}")
    if not 0 <= clean.get("dateRange", 0) <= 3:
        raise ValueError("dateRange must be 0 (day), 1 (week), 2 (month) or 3 (quarter)")
    return clean
