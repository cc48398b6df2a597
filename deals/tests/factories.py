"""Deals for tests, written the ways production writes them, from one set of inputs."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils import timezone

from deals import services
from deals.models import Deal, Fulfillment, Quality, Verification
from deals.pricing import BusinessRules, compute_costs, percent_below

#: The fewest fields of a complete deal that every check constraint accepts: the row the
#: constraint tests break one rule of at a time.
GOOD = {
    "asin": "0123456789",
    "title": "A good book",
    "price_now_cents": 1000,
    "one_year_avg_cents": 4000,
    "list_at_computed_cents": 4500,
    "list_at_cents": 4500,
    "all_in_cost_cents": 1724,
    "amazon_fees_cents": 1226,
    "profit_cents": 4500 - 1724 - 1226,
    "margin_percent": Decimal("34.49"),
    "quality": Quality.COMPLETE,
}


def _inputs(asin: str) -> dict[str, Any]:
    """What a test deal is unless the test says otherwise: a used book worth buying."""
    return {
        "title": f"Book {asin}",
        "category": "Books",
        "sales_rank": 50_000,
        "price_now_cents": 1000,
        "one_year_avg_cents": 3000,
        "list_at_cents": 10000,
        "fba_fee_cents": 550,
        "referral_percent": Decimal(15),
    }


def make_deal(asin: str = "0000000001", *, verified: bool = True, **inputs: Any) -> Deal:
    """A deal as the jobs write it, through ``services.upsert_deal``: complete (and shown)
    unless ``inputs`` take away something it needs by setting it to None; ``verified`` (the
    default) then confirms it with an FBA offer at Keepa's used price, so its money is the
    estimate's; ``verified=False`` leaves it an estimate."""
    values = {
        **_inputs(asin),
        "sales_rank_drops_30": 4,
        "used_offer_count": 12,
        "used_price_history": [[1_700_000_000, 2500], [1_710_000_000, 1000]],
        "fetched_at": timezone.now(),
        **inputs,
    }
    deal = services.upsert_deal(asin=asin, reason="job refresh", **values).deal
    if None not in inputs.values():
        assert deal.quality == Quality.COMPLETE, deal.quality_reason
    if verified and deal.quality == Quality.COMPLETE and deal.price_now_cents:
        deal = services.record_verification(
            deal, offer=fba_offer(deal.price_now_cents), live_used_offers=3, reason="", now=timezone.now()
        )
    return deal


def _verified_at(cents: int) -> dict[str, Any]:
    """The verification fields of a deal confirmed now by ``fba_offer(cents)``."""
    now = timezone.now()
    return {
        **vars(fba_offer(cents)),
        "verification": Verification.VERIFIED,
        "verified_at": now,
        "checked_at": now,
        "checked_used_price_cents": cents,
        "live_used_offers": 3,
    }


def fba_offer(cents: int, **fields: Any) -> services.BuyableOffer:
    """A live FBA copy in Very Good condition from a well-rated seller."""
    values = {
        "buy_price_cents": cents,
        "shipping_cents": 0,
        "condition_code": 3,
        "condition": "Used - Very Good",
        "fulfillment": Fulfillment.FBA,
        "seller_id": "A1TESTSELLER0",
        "seller_name": "Test Books",
        "seller_score": Decimal("9.6"),
    }
    return services.BuyableOffer(**{**values, **fields})


def displayable_row(asin: str, **fields: Any) -> Deal:
    """An unsaved displayable deal with consistent money, verified as ``make_deal``'s are, for
    ``bulk_create`` (no history) and for rows no write path would make."""
    values = {**_inputs(asin), **fields}
    price_now, list_at = values["price_now_cents"], values["list_at_cents"]
    costs = compute_costs(
        price_now_cents=price_now,
        list_at_cents=list_at,
        fba_fee_cents=values["fba_fee_cents"],
        referral_percent=values["referral_percent"],
        rules=BusinessRules(),
    )
    computed = {
        "list_at_computed_cents": list_at,
        "all_in_cost_cents": costs.all_in_cost_cents,
        "amazon_fees_cents": costs.amazon_fees_cents,
        "profit_cents": costs.profit_cents,
        "margin_percent": costs.margin_percent,
        "roi_percent": costs.roi_percent,
        "percent_down": percent_below(price_now, values["one_year_avg_cents"]),
        "quality": Quality.COMPLETE,
        **_verified_at(price_now),
    }
    return Deal(asin=asin, **{**values, **computed, **fields})


def make_losing_zombie(asin: str, **fields: Any) -> Deal:
    """A deal "complete" but losing money, written straight through the ORM as the
    predecessor's buggy paths did: a zombie nothing may show."""
    values = {
        "price_now_cents": 1000,
        "one_year_avg_cents": 3000,
        "list_at_cents": 1000,
        "all_in_cost_cents": 1724,
        "amazon_fees_cents": 700,
        "profit_cents": -1424,
        "quality": Quality.COMPLETE,
    }
    return Deal.objects.create(asin=asin, **{**values, **fields})


def make_listless_zombie(asin: str, **fields: Any) -> Deal:
    """A deal without a List at, written straight through the ORM: incomplete, a zombie."""
    values = {"price_now_cents": 1000, "one_year_avg_cents": 3000, "quality": Quality.INCOMPLETE}
    return Deal.objects.create(asin=asin, **{**values, **fields})
