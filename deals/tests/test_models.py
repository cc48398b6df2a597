"""The Deal table cannot hold nonsense: each constraint is proven by writing a bad row
through the ORM and getting IntegrityError (this file also runs on SQLite in CI).
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from deals.models import Candidate, Deal
from deals.tests.factories import GOOD

pytestmark = pytest.mark.django_db


def test_a_sound_row_is_accepted():
    Deal.objects.create(**GOOD)
    assert Deal.objects.displayable().count() == 1


@pytest.mark.parametrize(
    "bad",
    [
        {"asin": "012345678"},
        {"asin": "012345678a"},
        {"asin": "01234-6789"},
        {"price_now_cents": -1},
        {"fba_fee_cents": -5},
        {"one_year_avg_cents": 0},
        {"list_at_cents": 0, "list_at_computed_cents": 0, "profit_cents": 0 - 1724 - 1226},
        {"list_at_computed_cents": -10},
        {"referral_percent": Decimal("101")},
        {"margin_percent": Decimal("100.01")},
        {"margin_percent": Decimal("-10000.01")},
        {"profit_cents": 999_999},
        {"list_at_override_cents": 5000},
        {"quality": "perfect"},
        {"price_now_cents": None},
    ],
    ids=lambda bad: ",".join(f"{k}={v}" for k, v in bad.items()),
)
def test_an_impossible_row_is_refused_by_the_database(bad):
    with pytest.raises(IntegrityError), transaction.atomic():
        Deal.objects.create(**{**GOOD, **bad})


def test_an_update_cannot_sneak_nonsense_past_the_constraints():
    Deal.objects.create(**GOOD)
    with pytest.raises(IntegrityError), transaction.atomic():
        Deal.objects.update(profit_cents=10**6)
    with pytest.raises(IntegrityError), transaction.atomic():
        Deal.objects.update(price_now_cents=-3)


def test_one_deal_per_asin():
    Deal.objects.create(**GOOD)
    with pytest.raises(IntegrityError), transaction.atomic():
        Deal.objects.create(**GOOD)


def test_a_candidate_needs_a_real_asin():
    with pytest.raises(IntegrityError), transaction.atomic():
        Candidate.objects.create(asin="not-asin!!")


@pytest.mark.parametrize("model", [Deal, Candidate])
def test_every_rule_says_in_words_what_is_wrong_and_where(model):
    """The admin form shows each rule's own message beside its field (if it has one), never
    Django's "Constraint ... is violated"."""
    for constraint in model._meta.constraints:
        assert constraint.violation_error_message != constraint.default_violation_error_message
        field = getattr(constraint, "field", None)
        assert field is None or model._meta.get_field(field), constraint.name


@pytest.mark.parametrize(
    ("change", "shown"),
    [
        ({}, True),
        ({"profit_cents": None, "quality": Deal.Quality.INCOMPLETE}, False),
        ({"quality": Deal.Quality.INCOMPLETE}, False),
        ({"one_year_avg_cents": None, "quality": Deal.Quality.INCOMPLETE}, False),
        ({"list_at_cents": None, "list_at_computed_cents": None, "quality": Deal.Quality.INCOMPLETE}, False),
        ({"list_at_cents": 2950, "list_at_computed_cents": 2950, "profit_cents": 0}, False),
        ({"list_at_cents": 2900, "list_at_computed_cents": 2900, "profit_cents": -50}, False),
    ],
)
def test_the_zombie_rule_runs_in_sql(change, shown):
    Deal.objects.create(**{**GOOD, **change})
    assert Deal.objects.displayable().exists() is shown
    assert Deal.objects.zombies().exists() is not shown
    assert Deal.objects.count() == 1, "the default manager stays unfiltered"


def test_expired_deals_are_hidden_but_not_zombies():
    from django.utils import timezone

    Deal.objects.create(**GOOD, expired_at=timezone.now(), expired_reason="stale")
    assert not Deal.objects.displayable().exists()
    assert not Deal.objects.zombies().exists()
