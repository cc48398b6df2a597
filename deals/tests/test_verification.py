"""Verification: an estimate becomes a deal a seller can buy only on a live offer's word."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from deals import backfill, discovery, services, verification
from deals.costs import current_costs, current_rules
from deals.keepa.facts import unix_to_keepa_minutes
from deals.keepa.offers import Offer
from deals.models import Deal, Fulfillment, Seller, Verification
from deals.passes import RunReport
from deals.pricing import compute_costs
from deals.selection import DEFAULT_SELECTION
from deals.tests.factories import fba_offer, make_deal
from deals.tests.keepa_support import CountingBucket, simulator_client
from dealsite.tests.support import index_plans, make_seller
from keepasim.simulator import KeepaSimulator, SimulatorConfig
from tokens.clock import FakeClock

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)


def offer(
    seller: str = "A1SELLER",
    *,
    condition: int = 3,
    price: int | None = 1000,
    shipping: int | None = 399,
    fba: bool = False,
    shippable: bool = True,
    amazon: bool = False,
) -> Offer:
    return Offer(
        offer_id=None,
        seller_id=seller,
        condition=condition,
        is_fba=fba,
        is_prime=fba,
        is_amazon=amazon,
        priced_at=NOW,
        price_cents=price,
        shipping_cents=shipping,
        shippable=shippable,
        last_seen=NOW,
    )


# --- the seller score ----------------------------------------------------------------------


def test_a_few_perfect_ratings_prove_less_than_many_good_ones():
    assert verification.seller_score(100, 3) < verification.seller_score(98, 5000)
    assert verification.seller_score(98, 5000) == Decimal("9.8")
    assert verification.seller_score(0, 40) == Decimal("0.0")


@pytest.mark.parametrize(("percent", "count"), [(None, 100), (95, None), (95, 0)])
def test_no_usable_rating_is_no_score_not_a_guess(percent, count):
    assert verification.seller_score(percent, count) is None


# --- the offer a seller would buy ---------------------------------------------------------------


def test_the_cheapest_acceptable_offer_counts_its_shipping_and_fba_ships_free():
    offers = [
        offer("A", price=900, shipping=399),  # 12.99 with shipping
        offer("B", price=1200, shipping=None, fba=True),  # 12.00, FBA
        offer("C", price=100, condition=1),  # new: not acceptable
        offer("D", price=100, condition=8),  # collectible: not acceptable
        offer("E", price=100, shippable=False, shipping=None),  # does not ship
        offer("F", price=None),  # unknown price
    ]
    chosen = verification.cheapest_acceptable(offers, frozenset({2, 3, 4, 5}))
    assert (chosen.seller_id, chosen.total_cents) == ("B", 1200)
    assert verification.cheapest_acceptable(offers[2:], frozenset({2, 3, 4, 5})) is None


# --- what a verification records ---------------------------------------------------------------


def test_a_verified_deal_is_priced_at_its_offer_with_shipping():
    deal = make_deal("0000000001", verified=False, price_now_cents=1000, used_offer_count=4)
    found = verification.buyable_offer(offer(price=1100, shipping=399), None)
    verified = services.record_verification(deal, offer=found, live_used_offers=4, reason="", now=NOW)

    assert verified.verification == Verification.VERIFIED and verified.verified_at == NOW
    assert (verified.buy_price_cents, verified.shipping_cents) == (1499, 399)
    assert verified.condition == "Used - Very Good" and verified.fulfillment == "MFN"
    assert verified.profit_cents < deal.profit_cents, "the real copy costs more than Keepa's used price"
    assert Deal.objects.displayable().verified().filter(pk=deal.pk).exists()
    assert verified.history.latest("history_id").history_change_reason == "verified"


def test_no_acceptable_offer_hides_the_deal_with_its_reason_and_no_zombie():
    deal = make_deal("0000000002", verified=False)
    hidden = services.record_verification(
        deal, offer=None, live_used_offers=0, reason="no live offer", now=NOW
    )
    assert (hidden.verification, hidden.verification_reason) == (Verification.NO_OFFER, "no live offer")
    assert not Deal.objects.displayable().filter(pk=deal.pk).exists()
    assert not Deal.objects.zombies().filter(pk=deal.pk).exists(), "hidden on purpose"
    assert Deal.objects.filter(pk=deal.pk).exists(), "never deleted"
    assert hidden.history.latest("history_id").history_change_reason == "no acceptable offer"


def test_an_offer_that_leaves_no_profit_hides_the_deal():
    deal = make_deal("0000000003", verified=False)
    dear = verification.buyable_offer(offer(price=9000, shipping=399), None)
    hidden = services.record_verification(deal, offer=dear, live_used_offers=1, reason="", now=NOW)
    assert hidden.verification == Verification.NO_OFFER and hidden.verified_at is None
    assert "$93.99 with shipping, leaves no profit" in hidden.verification_reason


def test_a_verification_goes_stale_with_age_or_a_moved_used_price(settings):
    deal = make_deal("0000000004", verified=False, price_now_cents=1000)
    found = verification.buyable_offer(offer(), None)
    verified = services.record_verification(deal, offer=found, live_used_offers=3, reason="", now=NOW)
    stale_after = timedelta(seconds=settings.DEALSITE_VERIFICATION["STALE_AFTER_SECONDS"])
    assert not verification.is_stale(verified, NOW + stale_after - timedelta(minutes=1))
    assert verification.is_stale(verified, NOW + stale_after + timedelta(minutes=1))

    moved = services.upsert_deal(asin=deal.asin, reason="job refresh", price_now_cents=1100, now=NOW).deal
    assert verification.is_stale(moved, NOW), "the statistics pass saw the used price move"
    assert verification.worth_checking(NOW).filter(pk=deal.pk).exists()


def test_a_hidden_deal_is_an_estimate_again_once_its_used_price_moves():
    deal = make_deal("0000000005", verified=False, price_now_cents=1000)
    services.record_verification(deal, offer=None, live_used_offers=0, reason="no live offer", now=NOW)
    same = services.upsert_deal(asin=deal.asin, reason="job refresh", price_now_cents=1000, now=NOW).deal
    assert same.verification == Verification.NO_OFFER
    moved = services.upsert_deal(asin=deal.asin, reason="job refresh", price_now_cents=900, now=NOW).deal
    assert moved.verification == Verification.ESTIMATE and moved.verification_reason == ""


# --- the policy -------------------------------------------------------------------------------


def test_offer_tokens_go_to_the_most_profit_per_expected_token():
    make_deal("0000000011", verified=False, list_at_cents=6000, used_offer_count=3)  # one page
    make_deal(
        "0000000012", verified=False, list_at_cents=12000, used_offer_count=40
    )  # two pages, more profit
    make_deal(
        "0000000013", verified=False, list_at_cents=8000, used_offer_count=2
    )  # one page, most per token
    order = [d.asin for d in verification.ranked(NOW)]
    assert order == ["0000000013", "0000000012", "0000000011"]


def _profit_at(list_at_cents: int) -> int:
    """The profit of ``make_deal``'s book listed at ``list_at_cents``."""
    return compute_costs(
        price_now_cents=1000,
        list_at_cents=list_at_cents,
        fba_fee_cents=550,
        referral_percent=Decimal(15),
        rules=current_rules(),
    ).profit_cents


def test_the_next_deal_to_verify_is_always_the_head_of_the_full_ranking():
    """``next_to_verify`` reads the two offer costs' most profitable deals from the profit
    index instead of sorting every deal worth checking (a second at a million deals); it
    picks what ``ranked`` would, down to the last deal and through a tie of value."""
    rng = random.Random(7)
    for n in range(60):
        make_deal(
            f"{n:010d}",
            verified=rng.random() < 0.3,  # checked just now: not worth checking again
            list_at_cents=rng.randint(2000, 20000),
            used_offer_count=rng.choice([None, 1, 10, 11, 40]),
        )
    # The same value at both costs: twice the profit for twice the expected tokens.
    one_page = make_deal("1000000001", verified=False, list_at_cents=9000, used_offer_count=3)
    twice = next(cents for cents in range(9000, 30000) if _profit_at(cents) == 2 * one_page.profit_cents)
    two_pages = make_deal("1000000000", verified=False, list_at_cents=twice, used_offer_count=40)
    costs = [verification.expected_cost(d.used_offer_count) for d in (one_page, two_pages)]
    assert one_page.profit_cents * 1000 // costs[0] == two_pages.profit_cents * 1000 // costs[1]

    tried = []
    while (head := verification.next_to_verify(NOW, skip=tried)) is not None:
        assert head == verification.ranked(NOW).exclude(pk__in=tried).first()
        tried.append(head.pk)

    assert not verification.ranked(NOW).exclude(pk__in=tried).exists()
    assert len(tried) == verification.ranked(NOW).count() > 30
    assert tried.index(two_pages.pk) + 1 == tried.index(one_page.pk), "a tie goes by ASIN"


def test_the_next_deal_to_verify_is_read_from_the_profit_index(require_postgres):
    """Both heads come from the displayable profit index, never from sorting the deals."""
    make_deal("0000000041", verified=False)
    plans = index_plans(lambda: verification.next_to_verify(NOW))
    heads = [plan for plan in plans if "deal_displayable_profit_idx" in plan and "Sort" not in plan]
    assert len(heads) == 2, plans


def test_estimates_below_the_sellers_minimum_profit_or_roi_never_cost_offer_tokens():
    """The thresholds are the business costs staff set in the admin, not the environment."""
    deal = make_deal("0000000021", verified=False)
    assert [d.asin for d in verification.ranked(NOW)] == [deal.asin]
    costs = current_costs()
    costs.min_profit_cents = 10**6
    services.update_costs(costs, user=None)
    assert list(verification.ranked(NOW)) == []
    costs.min_profit_cents, costs.min_roi_percent = 0, deal.roi_percent + Decimal("0.01")
    services.update_costs(costs, user=None)
    assert list(verification.ranked(NOW)) == []
    costs.min_roi_percent = deal.roi_percent
    services.update_costs(costs, user=None)
    assert [d.asin for d in verification.ranked(NOW)] == [deal.asin]


def test_offers_wait_while_statistics_are_worth_more_but_neither_starves(settings):
    deal = make_deal("0000000031", verified=False, list_at_cents=2600)
    rate = verification.VerifyRate.recent(NOW)
    assert verification.offers_first(deal, backlog=0, report=RunReport(), now=NOW, rate=rate), "nothing else"
    starved = RunReport(spent=Counter(statistics=90, offers=10))
    assert verification.offers_first(deal, backlog=50, report=starved, now=NOW, rate=rate)
    flooded = RunReport(spent=Counter(statistics=10, offers=80, sellers=10))
    assert not verification.offers_first(deal, backlog=50, report=flooded, now=NOW, rate=rate)


# --- the API ------------------------------------------------------------------------------


@pytest.fixture
def api(django_user_model):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(make_seller(django_user_model))
    return client


def listed(api, **params) -> list[str]:
    response = api.get("/api/deals/", params)
    assert response.status_code == 200, response.content
    return [deal["asin"] for deal in response.json()["results"]]


def test_the_api_lists_verified_deals_unless_asked_for_estimates_too(api):
    make_deal("0000000041")
    make_deal("0000000042", verified=False)
    hidden = make_deal("0000000043", verified=False)
    services.record_verification(hidden, offer=None, live_used_offers=0, reason="no live offer", now=NOW)

    assert listed(api) == ["0000000041"]
    assert listed(api, verified="true") == ["0000000041"]
    assert sorted(listed(api, verified="false")) == ["0000000041", "0000000042"], "never the hidden one"
    deal = api.get("/api/deals/0000000041/").json()
    assert (deal["verification"], deal["buy_price_cents"], deal["fulfillment"]) == ("verified", 1000, "FBA")
    assert (deal["seller_name"], deal["seller_score"], deal["verification_stale"]) == (
        "Test Books",
        "9.6",
        False,
    )
    assert api.get("/api/deals/0000000042/").json()["verified_at"] is None


def test_the_offer_filters_narrow_verified_deals(api):
    make_deal("0000000051")
    services.record_verification(
        make_deal("0000000052", verified=False),
        offer=fba_offer(1000, condition_code=5, condition="Used - Acceptable", seller_score=Decimal("6.0")),
        live_used_offers=1,
        reason="",
        now=NOW,
    )
    services.record_verification(
        make_deal("0000000053", verified=False),
        offer=fba_offer(1000, fulfillment=Fulfillment.MFN, shipping_cents=399, buy_price_cents=1399),
        live_used_offers=1,
        reason="",
        now=NOW,
    )
    assert sorted(listed(api, exclude_conditions="acceptable,new")) == ["0000000051", "0000000053"]
    assert sorted(listed(api, min_seller_score="9")) == ["0000000051", "0000000053"]
    assert listed(api, fulfillment="MFN") == ["0000000053"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("verified", "maybe"),
        ("exclude_conditions", "mint"),
        ("exclude_conditions", "good,%s"),
        ("min_seller_score", "11"),
        ("min_seller_score", "NaN"),
        ("fulfillment", "drone"),
    ],
)
def test_a_bad_offer_filter_is_a_400_naming_it(api, name, value):
    response = api.get("/api/deals/", {name: value})
    assert response.status_code == 400 and name in response.json()


# --- against the simulator, over HTTP -------------------------------------------------------

KEY = "verification-key-0123456789"


@pytest.fixture
def sim_clock():
    return FakeClock(start=datetime(2026, 11, 1, tzinfo=UTC).timestamp())


@pytest.fixture
def sim(sim_clock):
    """150 products: a feed of over 60 deals (the every-candidate test takes 60), half the
    statistics writes of the default 300."""
    with KeepaSimulator(SimulatorConfig(keys={KEY: 20}, clock=sim_clock, products=150)) as simulator:
        yield simulator


def keepa(sim, clock, bucket=None):
    return simulator_client(sim, clock, KEY, bucket=bucket)


def estimates(sim, clock, count: int) -> list[Deal]:
    """``count`` profitable-looking estimates straight from the statistics pass."""
    feed, _ = discovery.parse_feed(keepa(sim, clock).deals({**DEFAULT_SELECTION, "sortType": 1}).deals)
    discovery.record_candidates(feed, now=clock.now())
    backfill.run_backfill(keepa(sim, clock), clock=clock, plan=lambda: (20, 1000))
    found = list(verification.ranked(clock.now())[:count])
    assert len(found) == count, "the default catalogue has profitable-looking estimates"
    return found


def test_a_verified_deal_is_backed_by_an_offer_the_simulator_really_has(sim, sim_clock, settings):
    settings.DEALSITE_VERIFICATION = {**settings.DEALSITE_VERIFICATION, "POLICY": "off"}
    deals = estimates(sim, sim_clock, 2)
    report = verification.run_verification(keepa(sim, sim_clock), clock=sim_clock, limit=2)

    assert report.verified + report.rejected == 2 and report.verified > 0
    assert report.spent["offers"] >= 6 * 2 and report.spent["sellers"] >= 1
    now = unix_to_keepa_minutes(sim_clock.time())
    for deal in Deal.objects.filter(pk__in=[d.pk for d in deals]):
        if deal.verification == Verification.VERIFIED:
            live = sim.catalogue.get(deal.asin).live_offers(now)
            assert any(o.seller_id == deal.seller_id and o.condition == deal.condition_code for o in live), (
                deal.asin
            )
            assert deal.buy_price_cents > 0 and deal.seller_name and deal.profit_cents > 0
        else:
            assert deal.verification == Verification.NO_OFFER and deal.verification_reason
    assert Seller.objects.exists(), "sellers are cached"
    again = verification.sellers_for(
        keepa(sim, sim_clock),
        list(Seller.objects.values_list("seller_id", flat=True)),
        now=sim_clock.now(),
        report=(cached := RunReport()),
    )
    assert again and cached.spent["sellers"] == 0, "a cached seller costs nothing"


def test_a_refusal_mid_verification_marks_nothing(sim, sim_clock, settings):
    settings.DEALSITE_VERIFICATION = {**settings.DEALSITE_VERIFICATION, "POLICY": "off"}
    (deal,) = estimates(sim, sim_clock, 1)
    refusing_sellers = CountingBucket(grants=1)  # the offers call is paid, the seller call refused
    report = verification.run_verification(keepa(sim, sim_clock, refusing_sellers), clock=sim_clock, limit=1)

    assert report.wait_seconds is not None
    deal.refresh_from_db()
    assert (deal.verification, deal.checked_at, deal.verified_at) == (Verification.ESTIMATE, None, None)


def test_the_backfill_pass_shares_its_tokens_between_statistics_and_offers(sim, sim_clock):
    feed, _ = discovery.parse_feed(keepa(sim, sim_clock).deals({**DEFAULT_SELECTION, "sortType": 1}).deals)
    discovery.record_candidates(feed, now=sim_clock.now())
    report = backfill.run_backfill(keepa(sim, sim_clock), clock=sim_clock, plan=lambda: (5, 1000))

    assert report.spent["statistics"] > 0 and report.offer_tokens > 0
    share = Decimal(report.offer_tokens) / report.tokens_consumed
    assert share >= Decimal("0.2"), "offers got their share while candidates waited"
    assert Deal.objects.verified().exists()


def test_the_every_candidate_policy_reads_the_offers_with_the_statistics(sim, sim_clock, settings):
    """The predecessor's way, kept for the benchmark: one call per batch brings both, sized
    so the batch's worst offers cost fits the tokens there are."""
    settings.DEALSITE_VERIFICATION = {**settings.DEALSITE_VERIFICATION, "POLICY": "every_candidate"}
    feed, _ = discovery.parse_feed(keepa(sim, sim_clock).deals({**DEFAULT_SELECTION, "sortType": 1}).deals)
    discovery.record_candidates(feed[:60], now=sim_clock.now())
    report = backfill.run_backfill(keepa(sim, sim_clock), clock=sim_clock, plan=lambda: (20, 130))

    assert report.processed == 60 and report.spent["statistics"] == 0
    assert report.spent["offers"] >= 6 * 60 and report.spent["sellers"] > 0
    assert sim.stats.calls["product"] >= 6, "at most 130 // 13 = 10 products a call"
    assert Deal.objects.verified().exists()
    assert not Deal.objects.filter(verification=Verification.ESTIMATE, quality="complete").exists()
