"""The only write path for deals: every job, command and admin edit comes through here.

Each function validates, recomputes what derives from the inputs, and saves only when
something changed, recording why and who: staff by their user, jobs by the actor their pass
declares (``deals.audit``). A save that moves only bookkeeping times writes no history row.
Timestamps come from ``now``: jobs pass their clock's, and without it the process clock
(``tokens.clock.get_clock``) gives it, so a scaled demo never stores two kinds of time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction

from deals import audit, recalc
from deals.costs import current_costs, current_rules
from deals.models import MARGIN_FLOOR, BusinessCosts, Deal, Fulfillment, Quality, Verification
from deals.money import format_cents, parse_cents
from deals.pricing import BusinessRules, Costs, compute_costs, percent_below
from deals.recalc import COSTS_OVER_FLOOR, NO_AVERAGE, NO_LIST_AT, NO_PRICE, OWN_REASONS
from tokens.clock import get_clock

PRICE_INPUTS = (
    "price_now_cents",
    "one_year_avg_cents",
    "list_at_cents",
    "fba_fee_cents",
    "expected_trough_cents",
)
PLAIN_INPUTS = (
    "title",
    "category",
    "category_id",
    "binding",
    "condition",
    "sales_rank",
    "sales_rank_drops_30",
    "used_offer_count",
    "peak_season",
    "trough_season",
    "deal_trust_percent",
    "one_year_avg_source",
    "amazon_sells",
    "list_at_suspicious",
    "referral_percent",
    "used_price_history",
    "chart_history",
    "list_at_basis",
    "keepa_updated_at",
    "fetched_at",
)
DERIVED = (
    "all_in_cost_cents",
    "amazon_fees_cents",
    "profit_cents",
    "margin_percent",
    "roi_percent",
    "min_list_price_cents",
)
REPAIR_BACKOFF = timedelta(hours=1)


@dataclass
class UpsertResult:
    deal: Deal
    created: bool
    changed: list[str] = field(default_factory=list)


def _state(deal: Deal) -> dict[str, Any]:
    return {f.attname: getattr(deal, f.attname) for f in Deal._meta.concrete_fields if f.name != "updated_at"}


def _only_bookkeeping(before: dict[str, Any], after: dict[str, Any]) -> bool:
    """Whether the history would record nothing worth reading: only times moved, or only
    fields it does not keep (the charts)."""
    kept = {f.attname for f in Deal.history.model._meta.concrete_fields}
    before, after = ({k: v for k, v in state.items() if k in kept} for state in (before, after))
    return before == after or audit.only_timestamps(before, after)


def _changes(before: dict[str, Any], deal: Deal) -> list[str]:
    after = _state(deal)
    return [name for name, value in after.items() if before.get(name) != value]


def _save(
    deal: Deal, before: dict[str, Any] | None, *, reason: str, now: datetime | None, user=None
) -> list[str]:
    """Validate and save if anything changed, stamped with ``now`` (the history row too);
    returns the changed fields."""
    changed = list(_state(deal)) if before is None else _changes(before, deal)
    if not changed:
        return []
    now = now or get_clock().now()
    if before is None:
        deal.created_at = now
    deal.updated_at = now
    deal.full_clean(validate_unique=before is None)
    deal._history_date = now
    deal._change_reason = reason[:100]
    if user is not None:
        deal._history_user = user
    if before is not None and _only_bookkeeping(before, _state(deal)):
        deal.save_without_historical_record()  # the history would only say "fetched again"
    else:
        deal.save()
    return changed


def _referral(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        percent = Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        return None
    return percent if 0 <= percent <= 100 else None


def buy_price_basis(deal: Deal) -> int | None:
    """What the profit assumes a copy costs: the live offer's item plus shipping once the
    offers were read, Keepa's used price now for an estimate."""
    if deal.verification != Verification.ESTIMATE and deal.buy_price_cents is not None:
        return deal.buy_price_cents
    return deal.price_now_cents


def costs_at_buy_price(deal: Deal, rules: BusinessRules) -> Costs | None:
    """The costs and profit of buying at ``buy_price_basis`` and listing at the deal's List
    at; None while either is missing."""
    buy_at = buy_price_basis(deal)
    if buy_at is None or deal.list_at_cents is None:
        return None
    return compute_costs(
        price_now_cents=buy_at,
        list_at_cents=deal.list_at_cents,
        fba_fee_cents=deal.fba_fee_cents,
        referral_percent=deal.referral_percent,
        rules=rules,
    )


def recompute(deal: Deal, reasons: Iterable[str] = (), *, rules: BusinessRules | None = None) -> None:
    """Derive List at, costs, profit, margin, ROI, the minimum listing price, % down and the
    quality from the inputs, with the business costs row's rules unless ``rules`` are given.

    A deal with missing or nonsensical inputs is kept, hidden, as incomplete with the
    reasons; one staff gave up on (unrepairable) stays so until it computes complete.
    ``deals.recalc`` is this function in SQL, for every deal at once: change both together.
    """
    rules = rules or current_rules()
    reasons = [r for r in reasons if r]
    override = deal.list_at_override_cents
    deal.list_at_cents = override if override is not None else deal.list_at_computed_cents
    if deal.price_now_cents is None:
        reasons.append(NO_PRICE)
    if deal.one_year_avg_cents is None:
        reasons.append(NO_AVERAGE)
    if deal.list_at_cents is None:
        reasons.append(NO_LIST_AT)
    for name in DERIVED:
        setattr(deal, name, None)
    deal.percent_down = None
    costs = costs_at_buy_price(deal, rules)
    if costs is not None:
        if costs.margin_percent is not None and costs.margin_percent < MARGIN_FLOOR:
            reasons.append(COSTS_OVER_FLOOR)
        else:
            for name in DERIVED:
                setattr(deal, name, getattr(costs, name))
    if deal.price_now_cents is not None and deal.one_year_avg_cents is not None:
        deal.percent_down = percent_below(deal.price_now_cents, deal.one_year_avg_cents)
    if not reasons:
        deal.quality, deal.quality_reason = Quality.COMPLETE, ""
        deal.repair_attempts, deal.next_repair_at = 0, None
    elif deal.quality != Quality.UNREPAIRABLE:
        deal.quality, deal.quality_reason = Quality.INCOMPLETE, "; ".join(dict.fromkeys(reasons))


@transaction.atomic
def upsert_deal(
    *,
    asin: str,
    reason: str,
    incomplete_reasons: Iterable[str] = (),
    user=None,
    now: datetime | None = None,
    **inputs: Any,
) -> UpsertResult:
    """Create or refresh one deal from freshly computed inputs (the jobs' write path).

    Prices go through ``parse_cents``; ``list_at_cents`` is the computed List at (a staff
    override survives and wins). Raises ValidationError for an invalid ASIN or input.
    """
    unknown = set(inputs) - set(PRICE_INPUTS) - set(PLAIN_INPUTS)
    if unknown:
        raise TypeError(f"upsert_deal() got unexpected inputs: {', '.join(sorted(unknown))}")
    asin = (asin or "").strip().upper()
    deal = Deal.objects.select_for_update().filter(asin=asin).first()
    before = None if deal is None else _state(deal)
    deal = deal or Deal(asin=asin)
    for name in PRICE_INPUTS:
        if name in inputs:
            target = "list_at_computed_cents" if name == "list_at_cents" else name
            setattr(deal, target, parse_cents(inputs[name]))
    for name in PLAIN_INPUTS:
        if name in inputs:
            value = inputs[name]
            if name == "referral_percent":
                value = _referral(value)
            elif name in {"title", "category", "binding", "peak_season", "trough_season", "condition"}:
                value = (value or "")[: Deal._meta.get_field(name).max_length]
            setattr(deal, name, value)
    if deal.price_now_cents == 0:
        deal.price_now_cents = None  # Keepa's zero is "no offer", never a free book
    if deal.expected_trough_cents == 0:
        deal.expected_trough_cents = None  # a month of free sales is no price to expect
    if inputs.get("fetched_at") is not None:
        deal.expired_at, deal.expired_reason = None, ""  # fresh data revives a stale deal
    if deal.verification == Verification.NO_OFFER and deal.price_now_cents != deal.checked_used_price_cents:
        _back_to_estimate(deal)  # the used price moved: a new copy may be there to buy
    recompute(deal, incomplete_reasons)
    changed = _save(deal, before, reason=reason, now=now, user=user)
    return UpsertResult(deal=deal, created=before is None, changed=changed)


@transaction.atomic
def save_staff_edit(
    deal: Deal, *, user, reason: str = "staff edit", now: datetime | None = None
) -> list[str]:
    """A staff edit from the admin: recompute what derives from the edited inputs and save
    with the editor recorded. Raises ValidationError for a rule the edit breaks."""
    before = None
    if deal.pk:
        stored = Deal.objects.select_for_update().get(pk=deal.pk)
        before = _state(stored)
    recompute(deal, _reasons_to_keep(deal))
    return _save(deal, before, reason=reason, now=now, user=user)


def _reasons_to_keep(deal: Deal) -> list[str]:
    """Reasons recompute cannot rediscover (from analytics) survive a staff edit."""
    return [r for r in (deal.quality_reason or "").split("; ") if r and r not in OWN_REASONS]


@transaction.atomic
def set_list_at_override(
    deal: Deal, cents: Any, *, user, reason: str = "List at override", now: datetime | None = None
) -> Deal:
    """Staff set (or, with None, clear) the List at that wins over the computed one."""
    value = None if cents is None else parse_cents(cents)
    if cents is not None and (value is None or value <= 0):
        raise ValidationError({"list_at_override_cents": "List at must be a positive amount"})
    deal = Deal.objects.select_for_update().get(pk=deal.pk)
    before = _state(deal)
    deal.list_at_override_cents = value
    recompute(deal, _reasons_to_keep(deal))
    _save(deal, before, reason=reason, now=now, user=user)
    return deal


@transaction.atomic
def mark_incomplete(deal: Deal, reason: str, *, now: datetime | None = None) -> Deal:
    deal = Deal.objects.select_for_update().get(pk=deal.pk)
    before = _state(deal)
    if deal.quality != Quality.UNREPAIRABLE:
        deal.quality, deal.quality_reason = Quality.INCOMPLETE, reason
    _save(deal, before, reason="marked incomplete", now=now)
    return deal


@transaction.atomic
def record_repair_failure(
    deal: Deal, reason: str, *, max_attempts: int = 3, now: datetime | None = None
) -> Deal:
    """A repair that did not fix the deal: back off, and give up after ``max_attempts``."""
    now = now or get_clock().now()
    deal = Deal.objects.select_for_update().get(pk=deal.pk)
    before = _state(deal)
    deal.repair_attempts += 1
    if deal.repair_attempts >= max_attempts:
        deal.quality = Quality.UNREPAIRABLE
        deal.quality_reason = f"gave up after {deal.repair_attempts} repairs: {reason}"
        deal.next_repair_at = None
    else:
        deal.quality = Quality.INCOMPLETE
        deal.quality_reason = reason
        deal.next_repair_at = now + REPAIR_BACKOFF * 2 ** (deal.repair_attempts - 1)
    _save(deal, before, reason="repair failed", now=now)
    return deal


@transaction.atomic
def expire_deal(deal: Deal, *, reason: str, now: datetime | None = None) -> Deal:
    """Hide a stale deal with the reason; it is never deleted, so its history stays."""
    deal = Deal.objects.select_for_update().get(pk=deal.pk)
    if deal.expired_at is not None:
        return deal
    before = _state(deal)
    now = now or get_clock().now()
    deal.expired_at = now
    deal.expired_reason = reason[:300]
    _save(deal, before, reason="expired", now=now)
    return deal


OFFER_FIELDS = (
    "buy_price_cents",
    "shipping_cents",
    "condition_code",
    "condition",
    "fulfillment",
    "seller_id",
    "seller_name",
    "seller_score",
)


def _back_to_estimate(deal: Deal) -> None:
    deal.verification, deal.verification_reason, deal.verified_at = Verification.ESTIMATE, "", None
    for name in OFFER_FIELDS:
        setattr(deal, name, Deal._meta.get_field(name).get_default())


@dataclass(frozen=True)
class BuyableOffer:
    """The live offer a verification settled on, in the deal's own terms."""

    buy_price_cents: int
    shipping_cents: int
    condition_code: int
    condition: str
    fulfillment: Fulfillment
    seller_id: str
    seller_name: str
    seller_score: Decimal | None


@transaction.atomic
def record_verification(
    deal: Deal, *, offer: BuyableOffer | None, live_used_offers: int | None, reason: str, now: datetime
) -> Deal:
    """What the live offers said, saved with its history row: the deal is verified at the
    offer's price, or hidden with ``reason`` when no acceptable offer leaves a profit (kept,
    never a zombie, and checked again when stale)."""
    deal = Deal.objects.select_for_update().get(pk=deal.pk)
    before = _state(deal)
    deal.checked_at = now
    deal.checked_used_price_cents = deal.price_now_cents
    deal.live_used_offers = live_used_offers
    if offer is None:
        _back_to_estimate(deal)
        deal.verification, deal.verification_reason = Verification.NO_OFFER, reason
    else:
        for name in OFFER_FIELDS:
            setattr(deal, name, getattr(offer, name))
        deal.verification, deal.verification_reason = Verification.VERIFIED, ""
    recompute(deal, _reasons_to_keep(deal))
    if offer is not None and (deal.profit_cents is None or deal.profit_cents <= 0):
        deal.verification = Verification.NO_OFFER
        price = format_cents(offer.buy_price_cents)
        deal.verification_reason = f"the cheapest acceptable offer, {price} with shipping, leaves no profit"
    deal.verified_at = now if deal.verification == Verification.VERIFIED else None
    _save(deal, before, reason="verified" if deal.verified_at else "no acceptable offer", now=now)
    return deal


def recalculate_all(rules: BusinessRules, *, now: datetime | None = None) -> int:
    """Every deal's figures and quality again from its stored inputs, with ``rules``: what
    ``recompute`` gives each deal, in one UPDATE (no Keepa, no history row per deal: the
    costs change that caused it is the audit). Returns the number of deals."""
    return recalc.recalculate(rules, now or get_clock().now())


@transaction.atomic
def update_costs(costs: BusinessCosts, *, user, reason: str = "", now: datetime | None = None) -> int | None:
    """Save the business costs staff edited (one history row, with the editor) and, when a
    figure depends on what changed, recalculate every deal in the same transaction: a failure
    anywhere leaves the old costs and the old figures, never a mix.

    Returns how many deals were recalculated, None when nothing every deal follows changed.
    Raises ValidationError for a value the rules refuse, or when a deal cannot take the new
    figures (the database refused them; nothing was saved).
    """
    stored = BusinessCosts.objects.select_for_update().filter(pk=BusinessCosts.ROW_ID).first()
    stored = stored or current_costs()
    costs.pk = BusinessCosts.ROW_ID
    costs.full_clean()
    changed = [
        f.attname
        for f in BusinessCosts._meta.concrete_fields
        if f.attname not in ("id", "updated_at") and getattr(stored, f.attname) != getattr(costs, f.attname)
    ]
    if not changed:
        return None
    now = now or get_clock().now()
    costs.updated_at = now
    costs._history_date = now
    costs._history_user = user
    costs._change_reason = (reason or "costs changed: " + ", ".join(changed))[:100]
    costs.save()
    if not set(changed) & set(BusinessCosts.FIGURE_FIELDS):
        return None
    try:
        with transaction.atomic():
            return recalculate_all(costs.rules(), now=now)
    except DatabaseError as exc:
        raise ValidationError(
            f"Recalculating the deals with these costs failed, so nothing was saved: {exc}"
        ) from exc
