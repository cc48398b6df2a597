"""Costs a seller sets, and every deal follows: the business costs row, its first defaults,
the bulk recalculation (exactly the per-deal ``recompute``, atomic, one history entry), the
repricer floor, and the thresholds verification reads from the row.

The recalculation tests run on whichever database ``DATABASE_URL`` names: the SQL is
portable, and CI runs this file on SQLite as well as PostgreSQL.
"""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from deals import services, verification
from deals.costs import current_costs, current_rules
from deals.models import BusinessCosts, Deal, Quality, Verification
from deals.pricing import BusinessRules, compute_costs, min_list_price
from deals.tests.factories import make_deal

pytestmark = pytest.mark.django_db

#: Every stored column but the timestamps a save stamps.
COMPARED = [f.attname for f in Deal._meta.concrete_fields if f.attname not in ("id", "updated_at")]


def costs_with(**values) -> BusinessCosts:
    costs = current_costs()
    for name, value in values.items():
        setattr(costs, name, value)
    return costs


def expected_after(deal: Deal, rules: BusinessRules) -> dict:
    """What the per-deal write path makes of a stored deal under ``rules``: ``recompute`` as
    a staff edit runs it (the reasons it cannot rediscover are kept)."""
    services.recompute(deal, services._reasons_to_keep(deal), rules=rules)
    return {name: getattr(deal, name) for name in COMPARED}


def stored(deal: Deal) -> dict:
    row = Deal.objects.get(pk=deal.pk)
    return {name: getattr(row, name) for name in COMPARED}


def _random_inputs(rng: random.Random) -> dict:
    return {
        "price_now_cents": rng.choice([None, 1, 10, 99, 101, 990, 1010, 1234, 5050, rng.randint(1, 50_000)]),
        "one_year_avg_cents": rng.choice([None, 3000, rng.randint(1, 90_000)]),
        "list_at_computed_cents": rng.choice([None, 1, 50, 3333, 10_000, rng.randint(1, 200_000)]),
        "list_at_override_cents": rng.choice([None, None, None, rng.randint(1, 90_000)]),
        "fba_fee_cents": rng.choice([None, 0, 550, rng.randint(0, 2000)]),
        "referral_percent": rng.choice(
            [None, Decimal("15"), Decimal("8.05"), Decimal("0.29"), Decimal("99.99"), Decimal("100")]
        ),
    }


def _random_state(rng: random.Random, deal: Deal) -> list[str]:
    """The verification and repair state of a deal, and the reasons the analytics gave."""
    kind = rng.randrange(6)
    if kind == 1 and deal.price_now_cents:
        # a live offer dearer than Keepa's price: the profit rests on the buy price
        deal.verification, deal.verified_at, deal.checked_at = Verification.VERIFIED, timezone.now(), None
        deal.buy_price_cents, deal.shipping_cents, deal.condition_code = deal.price_now_cents + 399, 399, 3
    elif kind == 2:
        deal.verification, deal.verification_reason = Verification.NO_OFFER, "no acceptable offer"
    elif kind == 3:
        deal.quality, deal.repair_attempts = Quality.UNREPAIRABLE, 3
        return ["gave up after 3 repairs: no List at", "no valid 1yr average"]
    elif kind == 4:
        deal.repair_attempts, deal.next_repair_at = 1, timezone.now()
        return ["offer count trend unknown"]
    return []


def varied_deals(count: int, rules: BusinessRules, seed: int = 12) -> list[Deal]:
    """Deals as the per-deal write path leaves them (``recompute`` with ``rules``), across the
    cases the arithmetic has: estimates and verified offers dearer than the price now,
    Keepa's fees or the defaults, prices whose tax or referral lands on half a cent,
    overrides, missing inputs, costs over the margin floor, repairs and deals given up on.

    Inserted in bulk (the database's constraints still check every row), plus a few written
    through the services themselves."""
    rng = random.Random(seed)
    rows = []
    for n in range(count):
        deal = Deal(asin=f"R{n:09d}", title=f"Book {n}", **_random_inputs(rng))
        services.recompute(deal, _random_state(rng, deal), rules=rules)
        rows.append(deal)
    Deal.objects.bulk_create(rows)
    written = [make_deal(f"W{n:09d}", price_now_cents=990 + n, list_at_cents=4999 + n) for n in range(4)]
    services.record_repair_failure(written[0], "no List at")
    services.mark_incomplete(written[1], "offer count trend unknown")
    services.set_list_at_override(written[2], 1234, user=None)
    services.upsert_deal(asin="W000000004", reason="job refresh", price_now_cents=1010, list_at_cents=None)
    return list(Deal.objects.all())


NEW_COSTS = {
    "tax_percent": Decimal("8.875"),
    "prep_fee_cents": 125,
    "inbound_shipping_cents": 49,
    "default_fba_fee_cents": 305,
    "default_referral_percent": Decimal("17.5"),
    "markup_percent": Decimal("12.5"),
}


def test_the_bulk_recalculation_gives_exactly_what_the_per_deal_write_path_computes():
    deals = varied_deals(1000, current_rules())
    assert {d.quality for d in deals} == set(Quality.values)
    assert any(d.verification == Verification.VERIFIED for d in deals)
    assert any("costs are over a hundred times" in d.quality_reason for d in deals)
    costs = costs_with(**NEW_COSTS)
    before = {d.pk: stored(d) for d in deals}
    expected = {d.pk: expected_after(d, costs.rules()) for d in deals}

    assert services.update_costs(costs, user=None) == len(deals)

    mismatches = {d.asin: (stored(d), expected[d.pk]) for d in deals if stored(d) != expected[d.pk]}
    assert not mismatches, next(iter(mismatches.items()))
    changed = sum(1 for d in deals if expected[d.pk]["profit_cents"] != before[d.pk]["profit_cents"])
    assert changed > len(deals) / 2  # the costs really moved the figures


def test_a_costs_change_that_tips_deals_over_the_margin_floor_and_back_matches_too():
    """Costs a hundred times the List at hide the deal as nonsense; lower costs show it again."""
    deals = [
        make_deal(f"F{n:09d}", list_at_cents=cents, price_now_cents=100) for n, cents in enumerate([30, 3000])
    ]
    for prep, qualities in ((250_000, [Quality.INCOMPLETE, Quality.COMPLETE]), (0, [Quality.COMPLETE] * 2)):
        costs = costs_with(prep_fee_cents=prep)
        rows = [Deal.objects.get(pk=d.pk) for d in deals]
        expected = [expected_after(d, costs.rules()) for d in rows]
        services.update_costs(costs, user=None)
        assert [stored(d) for d in rows] == expected
        assert [d["quality"] for d in expected] == qualities


def test_the_margin_floor_holds_to_the_half_hundredth_of_a_percent():
    """The SQL decides "costs over a hundred times the List at" without computing the margin:
    exactly -10000.00% (and -9999.995%, which rounds to it) is kept; -10000.005% rounds to
    -10000.01% and is nonsense, as in Python."""
    rows = []
    for n, price_now in enumerate([2_019_999, 2_020_000, 2_020_001, 2_020_002]):
        deal = Deal(
            asin=f"E{n:09d}",
            title="At the floor",
            price_now_cents=price_now,
            one_year_avg_cents=3000,
            list_at_computed_cents=20_000,
            fba_fee_cents=0,
            referral_percent=Decimal("0"),
        )
        services.recompute(deal, [], rules=current_rules())
        rows.append(deal)
    deals = Deal.objects.bulk_create(rows)
    costs = costs_with(tax_percent=Decimal("0"), prep_fee_cents=0, inbound_shipping_cents=0)
    expected = [expected_after(Deal.objects.get(pk=d.pk), costs.rules()) for d in deals]

    assert services.update_costs(costs, user=None) == len(deals)

    assert [stored(d) for d in deals] == expected
    assert [d["margin_percent"] for d in expected] == [Decimal("-10000.00")] * 2 + [None] * 2
    assert [d["quality"] for d in expected] == [Quality.COMPLETE] * 2 + [Quality.INCOMPLETE] * 2


@pytest.mark.parametrize("referral", ["0", "8.05", "15", "0.29", "33.33", "99.99"])
def test_the_minimum_listing_price_is_the_lowest_that_still_makes_the_markup(referral):
    rules = BusinessRules(markup_percent=Decimal("10"))
    rng = random.Random(referral)
    for price in [1, 2, 99, 1000, 1010, *(rng.randint(1, 100_000) for _ in range(40))]:

        def costs_at(list_at, price=price):
            return compute_costs(
                price_now_cents=price,
                list_at_cents=list_at,
                fba_fee_cents=None,
                referral_percent=Decimal(referral),
                rules=rules,
            )

        floor = costs_at(1).min_list_price_cents
        markup = (costs_at(floor).all_in_cost_cents * Decimal("0.10")).quantize(Decimal(1), "ROUND_HALF_UP")
        assert costs_at(floor).profit_cents >= markup
        assert floor == 1 or costs_at(floor - 1).profit_cents < markup


def test_no_listing_price_makes_the_markup_when_the_referral_takes_everything():
    assert min_list_price(1000, Decimal("100")) is None


# --- the row: first defaults, then the truth --------------------------------------------


def test_the_environment_gives_the_first_defaults_then_the_row_is_the_truth(settings):
    settings.DEALSITE_BUSINESS = {**settings.DEALSITE_BUSINESS, "PREP_FEE_CENTS": 111}
    settings.DEALSITE_VERIFICATION = {**settings.DEALSITE_VERIFICATION, "CONDITIONS": (3, 2)}
    costs = current_costs()
    assert (costs.prep_fee_cents, costs.acceptable_conditions) == (111, [2, 3])
    assert current_rules().prep_fee_cents == 111

    settings.DEALSITE_BUSINESS = {**settings.DEALSITE_BUSINESS, "PREP_FEE_CENTS": 999}
    assert current_costs().prep_fee_cents == 111
    assert make_deal().all_in_cost_cents == 1000 + 50 + 111 + 399


def test_a_tax_exempt_environment_starts_the_row_at_zero_tax(settings):
    settings.DEALSITE_BUSINESS = {**settings.DEALSITE_BUSINESS, "TAX_EXEMPT": True}
    assert current_costs().tax_percent == 0


# --- saving: every deal follows, atomically, with one history entry ----------------------


def test_saving_costs_recalculates_every_deal_and_audits_the_change_once(django_user_model):
    staff = django_user_model.objects.create_user("costs-editor", is_staff=True)
    deals = [make_deal(f"A{n:09d}", list_at_cents=8000 + n) for n in range(5)]
    deal_versions = Deal.history.count()

    recalculated = services.update_costs(costs_with(prep_fee_cents=500), user=staff)

    assert recalculated == 5
    assert Deal.history.count() == deal_versions, "no history row per deal"
    entry = BusinessCosts.history.latest()
    assert (entry.history_user, entry.prep_fee_cents) == (staff, 500)
    assert entry.history_change_reason == "costs changed: prep_fee_cents"
    for deal in deals:
        assert Deal.objects.get(pk=deal.pk).all_in_cost_cents == deal.all_in_cost_cents - 275 + 500


def test_a_threshold_change_is_audited_but_rewrites_no_deal():
    deal = make_deal()
    updated_at = Deal.objects.get(pk=deal.pk).updated_at
    assert (
        services.update_costs(costs_with(min_profit_cents=4500, acceptable_conditions=[2]), user=None) is None
    )
    assert Deal.objects.get(pk=deal.pk).updated_at == updated_at
    assert BusinessCosts.history.latest().min_profit_cents == 4500
    assert verification.acceptable_conditions() == frozenset({2})
    assert services.update_costs(costs_with(), user=None) is None, "nothing changed: nothing saved"
    assert BusinessCosts.history.count() == 2  # created, then the one change


def test_a_failure_half_way_leaves_the_old_costs_and_the_old_figures(require_postgres):
    """No costs are free, so one deal's ROI outgrows its column when prep and shipping drop
    to 0: PostgreSQL refuses that row after the rows before it were rewritten."""
    for n in range(8):
        make_deal(f"B{n:09d}", list_at_cents=9000 + n, verified=False)
        if n == 4:  # ROI about 630,000% now; at an all-in cost of 1 cent, over the column's 10 digits
            make_deal("B000000099", price_now_cents=1, list_at_cents=5_000_000, verified=False)
    figures = list(
        Deal.objects.order_by("pk").values_list("asin", "profit_cents", "roi_percent", "updated_at")
    )

    with pytest.raises(ValidationError, match="nothing was saved"):
        services.update_costs(
            costs_with(tax_percent=0, prep_fee_cents=0, inbound_shipping_cents=0), user=None
        )

    assert (
        list(Deal.objects.order_by("pk").values_list("asin", "profit_cents", "roi_percent", "updated_at"))
        == figures
    )
    assert (current_costs().prep_fee_cents, BusinessCosts.history.count()) == (275, 1)


def test_the_api_shows_the_new_figures_on_its_next_request(admin_client):
    deal = make_deal()
    before = admin_client.get(f"/api/deals/{deal.asin}/").json()
    services.update_costs(costs_with(markup_percent=Decimal("25"), inbound_shipping_cents=0), user=None)
    after = admin_client.get(f"/api/deals/{deal.asin}/").json()
    assert after["profit_cents"] == before["profit_cents"] + 399
    assert after["all_in_cost_cents"] == before["all_in_cost_cents"] - 399
    assert after["min_list_price_cents"] == Deal.objects.get(pk=deal.pk).min_list_price_cents
    assert after["min_list_price_cents"] != before["min_list_price_cents"]


# --- no book bought for $0 ----------------------------------------------------------------


@pytest.mark.parametrize("field", ["price_now_cents", "buy_price_cents"])
def test_a_price_of_0_cannot_be_stored_even_by_a_direct_orm_save(field):
    deal = make_deal()
    setattr(deal, field, 0)
    with pytest.raises(IntegrityError), transaction.atomic():
        deal.save()
    assert Deal.objects.displayable().filter(pk=deal.pk, **{f"{field}__gt": 0}).exists()


def test_the_write_path_keeps_a_deal_priced_0_hidden():
    deal = services.upsert_deal(
        asin="0000000007",
        reason="job refresh",
        price_now_cents=0,
        list_at_cents=9000,
        one_year_avg_cents=3000,
    ).deal
    assert deal.price_now_cents is None
    assert not Deal.objects.displayable().filter(pk=deal.pk).exists()


# --- the admin ------------------------------------------------------------------------------


def costs_form(client, **changes: str) -> dict:
    """The costs page's form as rendered, with the staff's changes."""
    url = reverse("admin:deals_businesscosts_change", args=[current_costs().pk])
    form = client.get(url).context["adminform"].form
    data = {name: "" if form[name].value() is None else form[name].value() for name in form.fields}
    return {**data, **changes, "_save": "Save"}


def test_staff_set_the_costs_in_dollars_and_every_deal_follows(admin_client, admin_user):
    deal = make_deal()
    assert admin_client.get(reverse("admin:deals_businesscosts_changelist")).status_code == 302
    url = reverse("admin:deals_businesscosts_change", args=[current_costs().pk])

    response = admin_client.post(url, costs_form(admin_client, prep_fee_cents="3.25"), follow=True)

    assert "Recalculated 1 deals with the new costs." in response.content.decode()
    assert current_costs().prep_fee_cents == 325
    assert Deal.objects.get(pk=deal.pk).profit_cents == deal.profit_cents - 50
    assert BusinessCosts.history.latest().history_user == admin_user
    assert (
        "Prep fee"
        in admin_client.get(reverse("admin:deals_businesscosts_history", args=[1])).content.decode()
    )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("prep_fee_cents", "-1", "The prep fee must not be negative."),
        ("prep_fee_cents", "abc", "Enter an amount in dollars"),
        ("tax_percent", "101", "Sales tax must be between 0 and 100 percent."),
        ("default_referral_percent", "100", "The referral must be at least 0 and under 100 percent."),
        ("acceptable_conditions", [], "Choose at least one condition."),
        ("acceptable_conditions", ["11"], "Select a valid choice."),
    ],
)
def test_bad_costs_are_field_errors_and_change_nothing(admin_client, field, value, message):
    deal = make_deal()
    url = reverse("admin:deals_businesscosts_change", args=[current_costs().pk])
    response = admin_client.post(url, costs_form(admin_client, **{field: value}))
    assert response.status_code == 200
    assert message in " ".join(response.context["adminform"].form.errors[field])
    assert Deal.objects.get(pk=deal.pk).profit_cents == deal.profit_cents
    assert BusinessCosts.history.count() == 1
