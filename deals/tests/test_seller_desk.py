"""What belongs to each signed-in seller on the seller's desk: their saved filter presets
(kept on the server, validated by the list's own filters, nobody else's), the "Optimal"
preset, and the count of deals new since their last visit that match their filters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from deals import visits
from deals.models import DashboardVisit, Deal, FilterPreset, Fulfillment
from deals.presets import OPTIMAL
from deals.tests.factories import displayable_row, make_deal
from dealsite.tests.support import make_seller

pytestmark = pytest.mark.django_db

PRESETS = "/api/deals/presets/"
NEW = "/api/deals/new/"
T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def seller(django_user_model):
    return make_seller(django_user_model, "seller")


@pytest.fixture
def other(django_user_model):
    return make_seller(django_user_model, "other")


# --- presets ---------------------------------------------------------------------------


def test_a_saved_preset_is_the_users_own_and_follows_them_to_any_client(seller, other):
    created = api(seller).post(
        PRESETS, {"name": "Textbooks", "params": {"category": "Textbooks", "min_roi": "30"}}, format="json"
    )
    assert created.status_code == 201, created.content

    from_elsewhere = APIClient()  # another browser, signed in as the same user
    from_elsewhere.force_authenticate(seller)
    assert [(p["name"], p["params"]) for p in from_elsewhere.get(PRESETS).json()] == [
        ("Textbooks", {"category": "Textbooks", "min_roi": "30"})
    ]
    assert api(other).get(PRESETS).json() == []
    preset_url = f"{PRESETS}{created.json()['id']}/"
    assert api(other).get(preset_url).status_code == 404
    assert api(other).delete(preset_url).status_code == 404
    assert api(other).put(preset_url, {"name": "Mine now", "params": {}}, format="json").status_code == 404
    assert FilterPreset.objects.get().name == "Textbooks"


def test_a_preset_is_renamed_changed_and_deleted(seller):
    client = api(seller)
    url = f"{PRESETS}{client.post(PRESETS, {'name': 'A', 'params': {}}, format='json').json()['id']}/"

    changed = client.put(url, {"name": "B", "params": {"hide_amazon": "true"}}, format="json")
    assert changed.status_code == 200, changed.content
    assert client.get(url).json()["params"] == {"hide_amazon": "true"}
    assert client.patch(url, {"name": "C"}, format="json").json()["params"] == {"hide_amazon": "true"}
    assert client.delete(url).status_code == 204
    assert client.get(PRESETS).json() == []


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"min_roi": "lots"}, "min_roi"),
        ({"min_deal_trust": "101"}, "min_deal_trust"),
        ({"min_drops_30": "-1"}, "min_drops_30"),
        ({"max_sales_rank": "1e6"}, "max_sales_rank"),
        ({"ordering": "password"}, "ordering"),
        ({"password": "x"}, "password"),
        ({"page_size": "25"}, "page_size"),
    ],
)
def test_a_preset_with_a_bad_filter_is_a_400_naming_the_parameter(seller, params, named):
    response = api(seller).post(PRESETS, {"name": "Bad", "params": params}, format="json")

    assert response.status_code == 400, response.content
    assert list(response.json()) == [named]
    assert not FilterPreset.objects.exists()


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"params": {}}, "name"),
        ({"name": "  ", "params": {}}, "name"),
        ({"name": "x" * 101, "params": {}}, "name"),
        ({"name": "No params"}, "params"),
        ({"name": "List", "params": ["min_roi"]}, "params"),
    ],
)
def test_a_preset_without_a_name_or_filters_is_a_400_naming_the_field(seller, body, named):
    response = api(seller).post(PRESETS, body, format="json")

    assert response.status_code == 400, response.content
    assert named in response.json()


def test_two_presets_of_one_user_cannot_share_a_name_but_two_users_can(seller, other):
    assert api(seller).post(PRESETS, {"name": "Mine", "params": {}}, format="json").status_code == 201
    again = api(seller).post(PRESETS, {"name": "Mine", "params": {}}, format="json")

    assert again.status_code == 400 and list(again.json()) == ["name"]
    assert api(other).post(PRESETS, {"name": "Mine", "params": {}}, format="json").status_code == 201


def test_presets_need_a_signed_in_seller(django_user_model):
    assert APIClient().get(PRESETS).status_code == 401
    assert APIClient().post(PRESETS, {"name": "x", "params": {}}, format="json").status_code == 401
    outsider = django_user_model.objects.create_user("outsider", password="a-long-test-password-1")
    assert api(outsider).get(PRESETS).status_code == 403


def test_the_optimal_preset_applies_the_predecessors_criteria_where_the_data_exists(seller):
    """Eight of the nine: "hide gated" waits for gating data the deals do not have."""
    good = {
        "list_at_cents": 10000,  # profit $62.26, ROI 361%, 66.67% below the average
        "sales_rank": 900_000,
        "sales_rank_drops_30": 2,
        "deal_trust_percent": Decimal("70"),
    }
    rows = [
        displayable_row("0000000001", **good),
        displayable_row("0000000002", **{**good, "list_at_cents": 6000}),  # profit $28.26
        displayable_row("0000000003", **{**good, "sales_rank": 1_000_001}),
        displayable_row("0000000004", **{**good, "sales_rank_drops_30": 1}),
        displayable_row("0000000005", **{**good, "deal_trust_percent": Decimal("69.99")}),
        displayable_row("0000000006", **{**good, "seller_score": Decimal("4.9")}),
        displayable_row("0000000007", **{**good, "one_year_avg_cents": 1100}),  # 9.09% below
        displayable_row("0000000008", **{**good, "amazon_sells": True}),
        displayable_row("0000000009", **{**good, "fulfillment": Fulfillment.AMAZON}),
        displayable_row("0000000010", **{**good, "list_at_cents": 30000}),
    ]
    rows[6].percent_down = Decimal("9.09")
    Deal.objects.bulk_create(rows)

    response = api(seller).get("/api/deals/", OPTIMAL)

    assert response.status_code == 200, response.content
    assert [d["asin"] for d in response.json()["results"]] == ["0000000010", "0000000001"]
    assert set(OPTIMAL) == {
        "min_profit_cents",
        "min_roi",
        "max_sales_rank",
        "min_drops_30",
        "min_deal_trust",
        "min_seller_score",
        "min_percent_down",
        "hide_amazon",
    }


# --- new deals since the last visit ----------------------------------------------------


def test_a_visit_moves_the_baseline_to_the_end_of_the_previous_visit(seller):
    assert visits.baseline(seller) is None
    first = visits.record_visit(seller, now=T0)
    assert first.since == T0  # nothing is new on a first visit

    visits.record_visit(seller, now=T0 + timedelta(minutes=20))  # a reload: the same visit
    assert visits.baseline(seller) == T0
    visits.record_visit(seller, now=T0 + timedelta(minutes=45))  # 25 min later: still the same
    assert visits.baseline(seller) == T0

    visits.record_visit(seller, now=T0 + timedelta(hours=5))  # back after hours: a new visit
    assert visits.baseline(seller) == T0 + timedelta(minutes=45)

    visits.mark_seen(seller, now=T0 + timedelta(hours=6))
    assert visits.baseline(seller) == T0 + timedelta(hours=6)


def test_the_new_deals_count_is_the_servers_over_every_page_and_follows_the_filters(seller, other):
    old = [displayable_row(f"1{i:09d}", created_at=T0 - timedelta(days=1)) for i in range(3)]
    new = [
        displayable_row(
            f"2{i:09d}", created_at=T0 + timedelta(hours=1), category="Books" if i % 2 else "Music"
        )
        for i in range(60)
    ]
    hidden = displayable_row("3000000000", created_at=T0 + timedelta(hours=1), quality="incomplete")
    Deal.objects.bulk_create([*old, *new, hidden])
    DashboardVisit.objects.create(user=seller, since=T0, last_seen_at=T0)
    client = api(seller)

    assert client.get(NEW).json() == {"since": "2026-05-01T09:00:00Z", "count": 60, "count_exact": True}
    assert client.get(NEW, {"category": "Books"}).json()["count"] == 30
    assert client.get(NEW, {"min_roi": "100000"}).json()["count"] == 0
    assert api(other).get(NEW).json() == {"since": None, "count": 0, "count_exact": True}


def test_mark_as_seen_starts_the_count_again(seller):
    make_deal("0000000001")
    Deal.objects.update(created_at=T0 + timedelta(minutes=1))
    DashboardVisit.objects.create(user=seller, since=T0, last_seen_at=T0)
    client = api(seller)
    assert client.get(NEW).json()["count"] == 1

    seen = client.post(NEW)

    assert seen.status_code == 200 and seen.json()["count"] == 0
    assert client.get(NEW).json()["count"] == 0


def test_the_count_stops_at_its_limit_and_says_so(seller, monkeypatch):
    monkeypatch.setattr(visits, "COUNT_LIMIT", 5)
    Deal.objects.bulk_create(
        [displayable_row(f"2{i:09d}", created_at=T0 + timedelta(hours=1)) for i in range(8)]
    )
    DashboardVisit.objects.create(user=seller, since=T0, last_seen_at=T0)

    assert api(seller).get(NEW).json() == {"since": "2026-05-01T09:00:00Z", "count": 5, "count_exact": False}


@pytest.mark.parametrize(("parameter", "value"), [("min_deal_trust", "x"), ("min_drops_30", "1.5")])
def test_the_new_deals_count_refuses_a_bad_filter_naming_it(seller, parameter, value):
    response = api(seller).get(NEW, {parameter: value})

    assert response.status_code == 400
    assert list(response.json()) == [parameter]


def test_opening_the_dashboard_records_the_visit(client, seller):
    client.force_login(seller)

    assert client.get("/").status_code == 200

    assert DashboardVisit.objects.filter(user=seller).exists()
