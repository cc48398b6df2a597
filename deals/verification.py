"""Verification: turn an estimate into a deal a seller can buy, by reading its live offers.

An estimate (the statistics pass, about 1 token) says a used copy *should* be cheap enough.
The live offers (``/product?offers=20&only-live-offers=1``, 6 tokens per page of 10 offers)
say whether one is: the cheapest offer in an acceptable condition, shippable, at a known
price, item plus shipping. Its seller's rating comes from ``/seller`` (1 token, cached).

Offer tokens are the dearest, so they go first to the estimates worth most per token:
expected profit (profit x the chance an estimate verifies, learned from recent checks) over
the expected cost (from the used offer count). Nothing is written before a deal's offers and
seller are both in hand, so a 429 or a timeout mid-way never marks a deal verified.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db.models import Case, Count, F, IntegerField, Q, Sum, Value, When

from deals import services
from deals.audit import acting_as
from deals.costs import current_costs
from deals.keepa.errors import InvalidParameter, KeepaError, NotFound
from deals.keepa.facts import (
    AMAZON_SELLER_ID,
    CONDITION_NAMES,
    MAX_ASINS_PER_CALL,
    MAX_SELLERS_PER_CALL,
    MIN_OFFERS,
    OFFERS_PAGE_COST,
    OFFERS_PAGE_SIZE,
)
from deals.keepa.offers import Offer, ProductOffers, parse_offers
from deals.models import Deal, Fulfillment, Quality, Seller, Verification
from deals.passes import RunReport, stop_for_tokens
from tokens.clock import Clock

#: z for a 95% Wilson lower bound.
WILSON_Z = Decimal("1.96")
#: The prior of the verify rate: one success and one failure (Laplace), so the first checks
#: neither promise nor forbid anything.
PRIOR_SUCCESSES, PRIOR_CHECKS = 1, 2


def _config(name: str):
    return settings.DEALSITE_VERIFICATION[name]


def seller_score(rating_percent: int | None, rating_count: int | None) -> Decimal | None:
    """0 to 10, one decimal: the Wilson lower bound (95%) of the share of positive ratings.

    A seller with 100% of 3 ratings scores below one with 98% of 5,000: few ratings prove
    little. None when Keepa gives no usable rating.
    """
    if rating_percent is None or not rating_count:
        return None
    n = Decimal(rating_count)
    p = Decimal(rating_percent) / 100
    z2 = WILSON_Z * WILSON_Z
    centre = p + z2 / (2 * n)
    spread = WILSON_Z * ((p * (1 - p) / n + z2 / (4 * n * n)).sqrt())
    bound = max(Decimal(0), (centre - spread) / (1 + z2 / n))
    return (bound * 10).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def acceptable_conditions() -> frozenset[int]:
    """The Keepa conditions the seller buys, as staff set them in the business costs."""
    return frozenset(current_costs().acceptable_conditions)


def _worth_a_check() -> Q:
    """The seller's thresholds (business costs): an estimate below the minimum profit or ROI
    is not worth offer tokens (and a profit of 0 never is)."""
    costs = current_costs()
    return Q(profit_cents__gte=max(1, costs.min_profit_cents), roi_percent__gte=costs.min_roi_percent)


def cheapest_acceptable(offers: Iterable[Offer], conditions: frozenset[int]) -> Offer | None:
    """The offer a seller would buy: acceptable condition, shippable, known price; the lowest
    item plus shipping, FBA first on a tie (it ships fastest)."""
    buyable = [o for o in offers if o.condition in conditions and o.total_cents is not None]
    return min(buyable, key=lambda o: (o.total_cents, not o.is_fba, o.seller_id), default=None)


def fulfillment_of(offer: Offer) -> Fulfillment:
    if offer.is_amazon or offer.seller_id == AMAZON_SELLER_ID:
        return Fulfillment.AMAZON
    return Fulfillment.FBA if offer.is_fba else Fulfillment.MFN


def expected_cost(used_offers: int | None, offers: int = MIN_OFFERS) -> int:
    """Tokens an offers call is expected to cost for one product: a page of 10 per offers
    found, at least one page; a product with an unknown count is assumed to fill the pages."""
    found = offers if used_offers is None else min(offers, max(1, used_offers))
    return OFFERS_PAGE_COST * math.ceil(found / OFFERS_PAGE_SIZE)


#: Deals whose offers fill more than one page: their offers call is expected to cost more.
MORE_THAN_A_PAGE = Q(used_offer_count__gt=OFFERS_PAGE_SIZE)


@dataclass(frozen=True)
class VerifyRate:
    """The share of recent checks that found an acceptable offer at a profit."""

    verified: int
    checked: int

    @property
    def chance(self) -> Decimal:
        return Decimal(self.verified + PRIOR_SUCCESSES) / Decimal(self.checked + PRIOR_CHECKS)

    @classmethod
    def recent(cls, now: datetime) -> VerifyRate:
        since = now - timedelta(seconds=_config("LEARN_FROM_SECONDS"))
        counts = Deal.objects.filter(checked_at__gte=since).aggregate(
            verified=Count("id", filter=Q(verification=Verification.VERIFIED)), checked=Count("id")
        )
        return cls(**counts)


def is_stale(deal: Deal, now: datetime) -> bool:
    """A verification older than ``STALE_AFTER_SECONDS``, or one whose used price Keepa has
    since seen move, may no longer hold: the offer may have sold."""
    if deal.verification != Verification.VERIFIED or deal.checked_at is None:
        return False
    too_old = deal.checked_at < now - timedelta(seconds=_config("STALE_AFTER_SECONDS"))
    return too_old or deal.price_now_cents != deal.checked_used_price_cents


def worth_checking(now: datetime):
    """Deals the policy may spend offer tokens on: shown by the one zombie rule (complete,
    live, priced), at or above the seller's minimum profit and ROI, and either an estimate or
    a verification gone stale. (The rule also lets the list's profit index serve them.)"""
    stale_before = now - timedelta(seconds=_config("STALE_AFTER_SECONDS"))
    stale = Q(verification=Verification.VERIFIED) & (
        Q(checked_at__lt=stale_before) | ~Q(price_now_cents=F("checked_used_price_cents"))
    )
    return Deal.objects.displayable().filter(Q(verification=Verification.ESTIMATE) | stale, _worth_a_check())


def ranked(now: datetime):
    """``worth_checking`` best first: profit per expected token (the verify chance is one
    number for all, so it scales every value alike and does not change the order)."""
    cost = Case(
        When(MORE_THAN_A_PAGE, then=Value(expected_cost(MIN_OFFERS))),
        default=Value(expected_cost(1)),
        output_field=IntegerField(),
    )
    return (
        worth_checking(now)
        .annotate(expected_tokens=cost, value=F("profit_cents") * 1000 / cost)
        .order_by("-value", "asin")
    )


def value_per_token(deal: Deal, rate: VerifyRate) -> Decimal:
    """Expected verified profit (cents) per token spent checking ``deal``."""
    return Decimal(deal.profit_cents or 0) * rate.chance / expected_cost(deal.used_offer_count)


def sellers_for(client, seller_ids: Sequence[str], *, now: datetime, report: RunReport) -> dict[str, Seller]:
    """Sellers by id, from the cache while fresh, else from ``/seller`` (and cached, found or
    not, so an unknown id is not paid for again)."""
    fresh_after = now - timedelta(seconds=_config("SELLER_CACHE_SECONDS"))
    known = {
        s.seller_id: s for s in Seller.objects.filter(seller_id__in=seller_ids, fetched_at__gte=fresh_after)
    }
    missing = [s for s in dict.fromkeys(seller_ids) if s not in known and s != AMAZON_SELLER_ID]
    for start in range(0, len(missing), MAX_SELLERS_PER_CALL):
        batch = missing[start : start + MAX_SELLERS_PER_CALL]
        response = client.sellers(batch)
        report.spend("sellers", response.reading)
        for seller_id in batch:
            found = response.sellers.get(seller_id)
            known[seller_id], _ = Seller.objects.update_or_create(
                seller_id=seller_id,
                defaults={
                    "name": ((found.name if found else None) or "")[:200],
                    "rating_percent": found.rating_percent if found else None,
                    "rating_count": found.rating_count if found else None,
                    "found": found is not None,
                    "fetched_at": now,
                },
            )
    return known


def buyable_offer(offer: Offer, seller: Seller | None) -> services.BuyableOffer:
    """The offer in the deal's terms; Amazon's own needs no /seller lookup to be trusted."""
    fulfillment = fulfillment_of(offer)
    if fulfillment == Fulfillment.AMAZON:
        name, score = "Amazon", Decimal("10.0")
    elif seller is not None:
        name, score = seller.name, seller_score(seller.rating_percent, seller.rating_count)
    else:
        name, score = "", None
    return services.BuyableOffer(
        buy_price_cents=offer.total_cents,
        shipping_cents=offer.total_cents - offer.price_cents,
        condition_code=offer.condition,
        condition=offer.condition_name,
        fulfillment=fulfillment,
        seller_id=offer.seller_id,
        seller_name=name,
        seller_score=score,
    )


def no_offer_reason(found: ProductOffers, conditions: frozenset[int]) -> str:
    names = ", ".join(CONDITION_NAMES[c] for c in sorted(conditions))
    if not found.offers:
        return "no live offer"
    return f"no live offer in an acceptable condition ({names}) that ships at a known price"


def fetch_offers(client, asins: Sequence[str]):
    """One offers call: the live offers, the used buy box and the offer counts."""
    return client.products(list(asins), stats=1, history=False, offers=MIN_OFFERS, only_live_offers=True)


@acting_as("verification")
def record_offers(
    client, deals: Sequence[Deal], products: Iterable[object], *, now: datetime, report: RunReport
):
    """Record what the live offers in ``products`` say about each of ``deals``.

    The sellers of the chosen offers are looked up first (cached, or ``/seller``): a refusal
    for tokens there raises before anything is written. A deal whose product Keepa did not
    return is left as it was (checked again later), never marked.
    """
    conditions = acceptable_conditions()
    found = {parsed.asin: parsed for parsed in map(parse_offers, products) if parsed.asin}
    chosen = {d.asin: cheapest_acceptable(found[d.asin].offers, conditions) for d in deals if d.asin in found}
    sellers = sellers_for(client, [o.seller_id for o in chosen.values() if o], now=now, report=report)
    for deal in deals:
        if deal.asin not in found:
            report.errors.append(f"Keepa returned no offers for {deal.asin}")
            continue
        offer = chosen[deal.asin]
        result = services.record_verification(
            deal,
            offer=buyable_offer(offer, sellers.get(offer.seller_id)) if offer else None,
            live_used_offers=found[deal.asin].live_used_offers,
            reason=no_offer_reason(found[deal.asin], conditions),
            now=now,
        )
        if result.verification == Verification.VERIFIED:
            report.verified += 1
        else:
            report.rejected += 1


def verify(client, deals: Sequence[Deal], *, now: datetime, report: RunReport) -> None:
    """Read the live offers of ``deals`` (one call) and record what they say.

    A refusal for tokens or a 402 stops the pass with nothing written for the deals in hand;
    an ASIN Keepa refuses is reported, not marked. Transient errors propagate.
    """
    with stop_for_tokens(report):
        try:
            response = fetch_offers(client, [d.asin for d in deals])
        except (InvalidParameter, NotFound) as exc:
            report.errors.append(f"offers for {', '.join(d.asin for d in deals)}: {exc}")
            return
        report.spend("offers", response.reading)
        record_offers(client, deals, response.products, now=now, report=report)


def next_to_verify(now: datetime, *, skip: Iterable[int] = ()) -> Deal | None:
    """The head of ``ranked``, without sorting every deal worth checking: within one offers
    cost the order by value is the order by profit, which the list's profit index keeps, so
    the best is the better of the two costs' most profitable deals."""
    by_profit = worth_checking(now).exclude(pk__in=list(skip)).order_by("-profit_cents", "asin")
    heads = []
    for pages, cost in ((MORE_THAN_A_PAGE, expected_cost(MIN_OFFERS)), (~MORE_THAN_A_PAGE, expected_cost(1))):
        head = by_profit.filter(pages).first()
        if head is not None:
            heads.append((head.profit_cents * 1000 // cost, head))
    return min(heads, key=lambda pair: (-pair[0], pair[1].asin))[1] if heads else None


def run_verification(client, *, clock: Clock, limit: int, asins: Sequence[str] = ()) -> RunReport:
    """Verify the best-ranked deals, one offers call each, until none is worth checking,
    ``limit`` deals were tried, or tokens run out; with ``asins`` (staff's "verify now")
    exactly those, whatever their rank."""
    report = RunReport()
    if asins:
        for start in range(0, len(asins), MAX_ASINS_PER_CALL):
            verify(
                client,
                list(Deal.objects.filter(asin__in=asins[start : start + MAX_ASINS_PER_CALL])),
                now=clock.now(),
                report=report,
            )
            if report.stopped:
                break
        return report
    tried: set[int] = set()
    while len(tried) < limit and not report.stopped:
        deal = next_to_verify(clock.now(), skip=tried)
        if deal is None:
            break
        tried.add(deal.pk)
        try:
            verify(client, [deal], now=clock.now(), report=report)
        except KeepaError as exc:  # transient: nothing was written; the next pass tries again
            report.errors.append(f"{type(exc).__name__}: {exc}")
            break
    return report


def statistics_value(now: datetime, rate: VerifyRate) -> Decimal:
    """Expected verified profit (cents) per token of fetching one more candidate's
    statistics, learned from recent fetches: the share that became estimates worth checking,
    times their mean profit and the verify chance, over the token it costs plus the offer
    tokens such an estimate then needs."""
    recent = Deal.objects.filter(fetched_at__gte=now - timedelta(seconds=_config("LEARN_FROM_SECONDS")))
    fetched = recent.count()
    worth = recent.filter(_worth_a_check(), quality=Quality.COMPLETE)
    totals = worth.aggregate(count=Count("id"), profit=Sum("profit_cents"))
    if not fetched or not totals["count"]:
        return Decimal(0)
    share = Decimal(totals["count"]) / fetched
    mean_profit = Decimal(totals["profit"]) / totals["count"]
    return share * mean_profit * rate.chance / (1 + share * expected_cost(1))


def offers_first(deal: Deal, *, backlog: int, report: RunReport, now: datetime, rate: VerifyRate) -> bool:
    """Whether the next tokens buy ``deal``'s offers rather than the next statistics batch.

    Offers when no candidate waits; otherwise the side a pass has starved below
    ``MIN_SHARE`` of its tokens; otherwise whichever is worth more per token.
    """
    if backlog <= 0:
        return True
    spent = report.tokens_consumed
    floor = _config("MIN_SHARE") * spent
    if spent and report.offer_tokens < floor:
        return True
    if spent and spent - report.offer_tokens < floor:
        return False
    return value_per_token(deal, rate) >= statistics_value(now, rate)
