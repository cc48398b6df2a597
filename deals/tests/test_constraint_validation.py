"""Model validation asks the database about all of a model's check constraints in one query
(``deals.models.ChecksInOneQuery``) and answers exactly as Django's one query per constraint
would: the same messages, codes and fields, the same exclusions, the same NULL semantics as
the database's CHECK. Runs on SQLite as well as PostgreSQL.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, models, transaction
from django.db.migrations.executor import MigrationExecutor
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from deals.costs import current_costs
from deals.models import ChecksInOneQuery, Deal, FilterPreset
from deals.tests.factories import GOOD, make_deal

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def errors(validate, *args, **kwargs) -> dict[str, list[tuple[str, str | None]]]:
    """What ``validate`` reports, field by field: each message with its code."""
    try:
        validate(*args, **kwargs)
    except ValidationError as exc:
        return {name: [(e.message, e.code) for e in found] for name, found in exc.error_dict.items()}
    return {}


def check_selects(run) -> int:
    """The SELECTs ``run()`` sends (inside the test's transaction each also has a savepoint)."""
    with CaptureQueriesContext(connection) as queries:
        run()
    return sum(query["sql"].lstrip().upper().startswith("SELECT") for query in queries)


def test_a_deal_breaking_several_rules_hears_of_each_on_its_field_at_once():
    deal = Deal(
        **{
            **GOOD,
            "asin": "01234-6789",
            "price_now_cents": -1,
            "fba_fee_cents": -5,
            "referral_percent": Decimal("101"),
            "margin_percent": Decimal("100.01"),
            "profit_cents": 999_999,
        }
    )
    with pytest.raises(ValidationError) as refused:
        deal.full_clean(validate_unique=False)
    assert refused.value.message_dict == {
        "asin": ["The ASIN must be 10 digits or upper-case letters."],
        "price_now_cents": ["Price now must be more than $0."],
        "fba_fee_cents": ["FBA pick & pack must not be negative."],
        "referral_percent": ["Referral percent must be between 0 and 100."],
        "__all__": [
            "The margin must be between -10000 and 100 percent.",
            "The profit must be List at minus the all-in cost and Amazon fees.",
        ],
    }


def test_a_sound_deal_is_validated_with_one_query():
    deal = make_deal()
    assert check_selects(lambda: deal.full_clean(validate_unique=False)) == 1
    assert check_selects(lambda: models.Model.validate_constraints(deal)) == len(Deal._meta.constraints)


def test_the_costs_row_is_validated_with_one_query():
    costs = current_costs()
    assert check_selects(lambda: costs.full_clean(validate_unique=False)) == 1


NULL_CASES = {
    "sound": ({}, True),
    # List at = override is unknown (NULL) without a List at: the CHECK lets it pass.
    "override-without-list-at": (
        {
            "list_at_cents": None,
            "profit_cents": None,
            "quality": Deal.Quality.INCOMPLETE,
            "list_at_override_cents": 5000,
        },
        True,
    ),
    "override-not-effective": ({"list_at_override_cents": 5000}, False),
    # "verified needs its offer" asks for the buy price itself: > 0 alone would be unknown.
    "verified-without-buy-price": (
        {"verification": Deal.Verification.VERIFIED, "verified_at": NOW, "condition_code": 3},
        False,
    ),
    "verified-without-time": (
        {"verification": Deal.Verification.VERIFIED, "condition_code": 3, "buy_price_cents": 900},
        False,
    ),
}


@pytest.mark.parametrize(("change", "accepted"), NULL_CASES.values(), ids=NULL_CASES.keys())
def test_null_inputs_pass_exactly_when_the_database_check_lets_them(change, accepted):
    deal = Deal(**{**GOOD, **change})
    assert (errors(deal.validate_constraints) == {}) is accepted
    try:
        with transaction.atomic():
            Deal.objects.create(**{**GOOD, **change})
    except IntegrityError:
        stored = False
    else:
        stored = True
    assert stored is accepted, "the database's CHECK decides what NULL means"


BAD_DEALS = {
    "every-kind-at-once": {
        "asin": "01234-6789",
        "price_now_cents": -1,
        "list_at_computed_cents": 0,
        "deal_trust_percent": Decimal("100.5"),
        "seller_score": Decimal("10.5"),
        "quality": "perfect",
        "verification": "maybe",
        "shipping_cents": -1,
        "margin_percent": Decimal("-10000.01"),
        "list_at_override_cents": 0,
    },
    "complete-without-inputs": {"one_year_avg_cents": None, "shipping_cents": -1},
    "verified-without-offer": {"verification": Deal.Verification.VERIFIED, "buy_price_cents": 0},
    # PostgreSQL refuses a NUL in text: the query fails, and Django lets that check pass.
    "unreadable-asin": {"asin": "012345678\x00", "price_now_cents": -1},
}


@pytest.mark.parametrize("exclude", [None, {"price_now_cents"}, {"profit_cents", "asin", "margin_percent"}])
@pytest.mark.parametrize("bad", BAD_DEALS.values(), ids=BAD_DEALS.keys())
def test_a_deal_gets_what_django_would_tell_it_constraint_by_constraint(bad, exclude):
    deal = Deal(**{**GOOD, "profit_cents": 1, **bad})
    found = errors(deal.validate_constraints, exclude=exclude)
    assert found, "each deal breaks a rule no exclusion skips"
    assert found == errors(models.Model.validate_constraints, deal, exclude=exclude)


def test_a_rule_on_an_excluded_field_is_skipped():
    deal = Deal(**{**GOOD, "price_now_cents": -1, "fba_fee_cents": -5, "profit_cents": 1})
    assert errors(deal.validate_constraints, exclude={"price_now_cents", "profit_cents"}) == {
        "fba_fee_cents": [("FBA pick & pack must not be negative.", None)],
    }


def test_the_costs_row_gets_what_django_would_tell_it():
    costs = current_costs()
    costs.pk, costs.tax_percent, costs.prep_fee_cents = 2, Decimal("101"), -1
    found = errors(costs.validate_constraints)
    assert set(found) == {"__all__", "tax_percent", "prep_fee_cents"}
    assert found == errors(models.Model.validate_constraints, costs)


def test_other_kinds_of_constraint_are_left_to_django(django_user_model):
    user = django_user_model.objects.create_user("seller")
    FilterPreset.objects.create(user=user, name="Cheap")
    duplicate = FilterPreset(user=user, name="Cheap")
    found = errors(ChecksInOneQuery.validate_constraints, duplicate)
    assert found == errors(models.Model.validate_constraints, duplicate)
    assert found == {"__all__": [("Constraint “filterpreset_user_name_unique” is violated.", None)]}


@pytest.mark.django_db(transaction=True)
def test_a_deal_stored_verified_without_a_buy_price_becomes_an_estimate_to_check_again():
    """Migration 0015 remakes "a verified deal needs its offer" to refuse a NULL buy price;
    a row stored that way before it is demoted first, so the migration cannot fail on it."""
    before, after = [("deals", "0014_lean_indexes")], [("deals", "0015_verified_needs_a_buy_price")]
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    try:
        executor.migrate(before)
        OldDeal = executor.loader.project_state(before).apps.get_model("deals", "Deal")
        fields = {**GOOD, "verification": "verified", "verified_at": NOW, "condition_code": 3}
        OldDeal.objects.create(**fields)
        OldDeal.objects.create(**{**fields, "asin": "B000000001", "buy_price_cents": 900})

        executor = MigrationExecutor(connection)
        executor.migrate(after)
    finally:  # the later tests of this worker need every migration, indexes included
        executor = MigrationExecutor(connection)
        executor.migrate(latest)

    by_asin = {d.asin: d for d in Deal.objects.all()}
    assert by_asin[GOOD["asin"]].verification == Deal.Verification.ESTIMATE
    assert "without a buy price" in by_asin[GOOD["asin"]].verification_reason
    assert by_asin["B000000001"].verification == Deal.Verification.VERIFIED
    with pytest.raises(IntegrityError), transaction.atomic():
        Deal.objects.filter(asin="B000000001").update(buy_price_cents=None)
