"""``GET /api/deals/`` and ``/api/deals/<asin>/``: what a signed-in buyer can read.

Only displayable deals ever come out (``Deal.objects.displayable()``, the one zombie rule),
pages are stable, every filter does what it says, and a malformed parameter is a 400 that
names it, never a 500. The OpenAPI schema is validated and schemathesis checks the API
against it.
"""

from __future__ import annotations

import json
import os
import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import schemathesis
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections, connection
from django.utils import timezone
from drf_spectacular.validation import validate_schema
from hypothesis import HealthCheck, given, settings
from rest_framework import serializers
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from schemathesis import GenerationMode

from deals import services
from deals.api.filters import ORDERING_CHOICES, ORDERING_FIELDS
from deals.api.pagination import DealPagination
from deals.api.serializers import SPARKLINE_POINTS, DealListSerializer, DealSerializer, sample_year
from deals.models import AverageSource, Deal, Fulfillment, Quality
from deals.tests.factories import displayable_row, make_deal, make_listless_zombie, make_losing_zombie
from dealsite.tests.support import make_seller
from tokens.clock import FakeClock, use_clock

pytestmark = pytest.mark.django_db

URL = "/api/deals/"
SELLER_CHECK = 1  # the query that finds a non-staff reader in the sellers group
#: Per operation and generation mode; API_FUZZ_EXAMPLES=1000 for a longer hunt.
FUZZ_EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "50"))
FIELDS = {
    "asin",
    "title",
    "category",
    "verification",
    "verified_at",
    "verification_stale",
    "condition",
    "buy_price_cents",
    "shipping_cents",
    "fulfillment",
    "seller_id",
    "seller_name",
    "seller_score",
    "live_used_offers",
    "sales_rank",
    "sales_rank_drops_30",
    "used_offer_count",
    "peak_season",
    "trough_season",
    "expected_trough_cents",
    "deal_trust_percent",
    "amazon_sells",
    "price_now_cents",
    "one_year_avg_cents",
    "one_year_avg_source",
    "list_at_cents",
    "list_at_suspicious",
    "all_in_cost_cents",
    "min_list_price_cents",
    "amazon_fees_cents",
    "fba_fee_cents",
    "referral_percent",
    "profit_cents",
    "margin_percent",
    "roi_percent",
    "percent_down",
    "used_price_history",
    "keepa_updated_at",
    "fetched_at",
    "created_at",
}
#: The table's columns: the detail's figures it shows, a sparkline instead of the history.
LIST_FIELDS = (
    FIELDS
    - {
        "seller_id",
        "live_used_offers",
        "amazon_fees_cents",
        "fba_fee_cents",
        "referral_percent",
        "used_price_history",
        "fetched_at",
    }
) | {"sparkline"}
FILTER_PARAMETERS = {
    "min_profit_cents",
    "min_margin",
    "min_roi",
    "max_sales_rank",
    "min_percent_down",
    "min_drops_30",
    "min_deal_trust",
    "category",
    "search",
    "updated_since",
    "hide_amazon",
    "suspicious",
    "verified",
    "exclude_conditions",
    "min_seller_score",
    "fulfillment",
    "ordering",
    "page",
    "page_size",
}


# --- helpers ---------------------------------------------------------------------------


def api(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def buyer(django_user_model):
    return make_seller(django_user_model, "buyer")


@pytest.fixture
def client_(buyer) -> APIClient:
    return api(buyer)


def listed(client: APIClient, **params) -> list[str]:
    response = client.get(URL, {"page_size": 200, **params})
    assert response.status_code == 200, response.content
    return [deal["asin"] for deal in response.json()["results"]]


# --- zombies: every kind, every write path ---------------------------------------------


def _zombie_losing_money_orm():
    make_losing_zombie("Z000000001")


def _zombie_zero_profit_orm():
    make_losing_zombie("Z000000001", list_at_cents=2424, profit_cents=0)


def _zombie_without_list_at_orm():
    make_listless_zombie("Z000000001")


def _zombie_without_average_orm():
    Deal.objects.create(asin="Z000000001", price_now_cents=1000, list_at_cents=9000, profit_cents=5000)


def _zombie_incomplete_with_every_number_orm():
    displayable_row("Z000000001", quality=Quality.INCOMPLETE, quality_reason="odd history").save()


def _zombie_unrepairable_orm():
    displayable_row("Z000000001", quality=Quality.UNREPAIRABLE).save()


def _zombie_expired_orm():
    displayable_row("Z000000001", expired_at=timezone.now()).save()


def _zombie_losing_money_upsert():
    deal = services.upsert_deal(
        asin="Z000000001", reason="test", list_at_cents=1000, price_now_cents=1000, one_year_avg_cents=3000
    ).deal
    assert deal.quality == Quality.COMPLETE and deal.profit_cents <= 0


def _zombie_without_list_at_upsert():
    services.upsert_deal(asin="Z000000001", reason="test", price_now_cents=1000, one_year_avg_cents=3000)


def _zombie_without_average_upsert():
    services.upsert_deal(asin="Z000000001", reason="test", price_now_cents=1000, list_at_cents=9000)


def _zombie_marked_incomplete_upsert():
    services.mark_incomplete(make_deal("Z000000001"), "analytics found a gap")


def _zombie_expired_upsert():
    services.expire_deal(make_deal("Z000000001"), reason="gone from the deal feed")


ZOMBIE_MAKERS = [
    _zombie_losing_money_orm,
    _zombie_zero_profit_orm,
    _zombie_without_list_at_orm,
    _zombie_without_average_orm,
    _zombie_incomplete_with_every_number_orm,
    _zombie_unrepairable_orm,
    _zombie_expired_orm,
    _zombie_losing_money_upsert,
    _zombie_without_list_at_upsert,
    _zombie_without_average_upsert,
    _zombie_marked_incomplete_upsert,
    _zombie_expired_upsert,
]


@pytest.mark.parametrize("make_zombie", ZOMBIE_MAKERS, ids=lambda f: f.__name__.removeprefix("_zombie_"))
def test_a_zombie_is_never_listed_and_its_detail_is_404(client_, make_zombie):
    make_deal("0000000001")
    make_zombie()
    assert Deal.objects.filter(asin="Z000000001").exists()
    assert not Deal.objects.displayable().filter(asin="Z000000001").exists()

    # Not by default, nor with any filter or ordering that would put it first.
    assert listed(client_) == ["0000000001"]
    for ordering in ("profit_cents", "sales_rank", "-sales_rank", "percent_down", "-created_at", "title"):
        assert listed(client_, ordering=ordering) == ["0000000001"]
    assert listed(client_, search="Z000000001") == []
    assert client_.get(URL).json()["count"] == 1

    response = client_.get(f"{URL}Z000000001/")
    assert response.status_code == 404
    assert response.json() == {"detail": "No Deal matches the given query."}
    assert client_.get(f"{URL}0000000001/").status_code == 200


def test_a_deal_that_turns_into_a_zombie_disappears_and_comes_back_when_repaired(client_):
    deal = make_deal("0000000001")
    services.mark_incomplete(deal, "suspicious history")
    assert listed(client_) == []
    make_deal("0000000001")  # a refresh computes it complete again
    assert listed(client_) == ["0000000001"]


# --- authentication --------------------------------------------------------------------


def test_anonymous_requests_are_refused(client_):
    make_deal("0000000001")
    for url in (URL, f"{URL}0000000001/"):
        response = api().get(url)
        assert response.status_code in (401, 403)
        assert "results" not in response.json() and "asin" not in response.json()


def test_token_authentication_works_and_a_bad_token_does_not(buyer):
    make_deal("0000000001")
    token = Token.objects.create(user=buyer)

    good = APIClient().get(URL, HTTP_AUTHORIZATION=f"Token {token.key}")
    bad = APIClient().get(URL, HTTP_AUTHORIZATION="Token not-a-real-token")

    assert good.status_code == 200 and good.json()["count"] == 1
    assert bad.status_code in (401, 403)


def test_session_authentication_works(client, buyer):
    make_deal("0000000001")
    client.force_login(buyer)
    assert client.get(URL).json()["count"] == 1


def test_the_api_is_read_only(client_):
    make_deal("0000000001")
    assert client_.post(URL, {"asin": "0000000002"}, format="json").status_code == 405
    assert client_.delete(f"{URL}0000000001/").status_code == 405
    assert client_.patch(f"{URL}0000000001/", {"title": "x"}, format="json").status_code == 405


# --- the representation ----------------------------------------------------------------


def test_a_deal_has_the_dashboard_fields_and_no_internal_ones(client_):
    make_deal(
        "0000000001",
        keepa_updated_at=timezone.now(),
        fetched_at=timezone.now(),
        used_price_history=[[1_700_000_000, 2500], [1_710_000_000, 1000]],
    )

    [row] = client_.get(URL).json()["results"]
    detail = client_.get(f"{URL}0000000001/").json()

    assert set(detail) == FIELDS
    assert set(row) == LIST_FIELDS
    moments = {"verified_at", "keepa_updated_at", "created_at"}
    assert {name: row[name] for name in LIST_FIELDS - {"sparkline"} - moments} == {
        name: detail[name] for name in LIST_FIELDS - {"sparkline"} - moments
    }
    for name in moments:  # the list's to the second
        assert row[name] == re.sub(r"\.\d+Z$", "Z", detail[name])
    assert not {"quality", "quality_reason", "repair_attempts", "list_at_override_cents"} & set(detail)
    for money in (
        "price_now_cents",
        "one_year_avg_cents",
        "list_at_cents",
        "profit_cents",
        "all_in_cost_cents",
        "min_list_price_cents",
    ):
        assert isinstance(detail[money], int)
    deal = Deal.objects.get(asin="0000000001")
    assert detail["profit_cents"] == deal.profit_cents
    assert detail["margin_percent"] == str(deal.margin_percent)  # Decimal as a string, as computed
    assert detail["roi_percent"] == str(deal.roi_percent)
    assert detail["referral_percent"] == "15.00"
    assert detail["used_price_history"] == [[1_700_000_000, 2500], [1_710_000_000, 1000]]
    assert row["sparkline"] == [1000] * SPARKLINE_POINTS  # both changes are over a year old


DAY = 86_400


def history(points: int) -> list[list[int]]:
    """A used price changing every five days up to now."""
    now = int(timezone.now().timestamp())
    return [[now - 5 * DAY * (points - i), 1000 + 37 * i] for i in range(points)]


def test_the_list_carries_a_sparkline_of_the_history_and_the_detail_all_of_it(client_):
    now = int(timezone.now().timestamp())
    changes = [[now - 300 * DAY, 1000], [now - 100 * DAY, 2000], [now - 1 * DAY, 1500]]
    make_deal("0000000001", used_price_history=changes)

    [row] = client_.get(URL).json()["results"]
    detail = client_.get(f"{URL}0000000001/").json()

    assert detail["used_price_history"] == changes
    # 20 moments a year / 19 (19.2 days) apart: the first four (before day -300) had no price
    # yet, up to day -100 it was 1000, then 2000, and the last moment (now) sees yesterday's 1500.
    assert row["sparkline"] == [None] * 4 + [1000] * 10 + [2000] * 5 + [1500]


def test_sparkline_samples_are_the_price_in_force_at_evenly_spaced_moments():
    year = 365 * DAY
    assert sample_year([], 10 * year) == [None] * SPARKLINE_POINTS
    assert sample_year([[0, 700]], 10 * year, size=3) == [700, 700, 700]
    assert sample_year([[10 * year, 5], [9 * year, 4]], 10 * year, size=3) == [4, 4, 5]
    assert sample_year([[10 * year - 1, 5]], 10 * year, size=3) == [None, None, 5]


def test_a_list_page_is_at_most_about_a_kilobyte_a_deal(client_):
    """Issue 12: the list carried every deal's full history (88 KB for 50 deals)."""
    rows = [
        displayable_row(
            f"1{i:09d}",
            title="Calculus: Early Transcendentals, 9th Edition (International Metric Version)",
            category="Textbooks",
            used_price_history=history(60),
            peak_season="September",
            trough_season="December",
            expected_trough_cents=4150,
            deal_trust_percent=Decimal("87.50"),
            one_year_avg_source=AverageSource.SALES,
            sales_rank_drops_30=14,
            used_offer_count=33,
            keepa_updated_at=timezone.now(),
        )
        for i in range(50)
    ]
    Deal.objects.bulk_create(rows)

    response = client_.get(URL, {"page_size": 50})

    assert len(response.json()["results"]) == 50
    # "About 1 KB a deal at most": this row sets every field, with a long title.
    assert len(response.content) / 50 <= 1100


def test_only_well_formed_price_points_are_served(client_):
    displayable_row(
        "0000000001",
        used_price_history=[
            [1_700_000_000, 2500],
            [1, "x"],
            "junk",
            [1, 2, 3],
            [True, 5],
            [1_710_000_000, 900],
        ],
    ).save()
    displayable_row("0000000002", used_price_history={"not": "a list"}).save()

    sparklines = {d["asin"]: d["sparkline"] for d in client_.get(URL).json()["results"]}
    histories = {asin: client_.get(f"{URL}{asin}/").json()["used_price_history"] for asin in sparklines}

    assert histories == {"0000000001": [[1_700_000_000, 2500], [1_710_000_000, 900]], "0000000002": []}
    assert sparklines == {"0000000001": [900] * SPARKLINE_POINTS, "0000000002": [None] * SPARKLINE_POINTS}


def test_the_fast_representation_equals_drfs_generic_one(client_, assorted):
    """DealSerializer skips ModelSerializer's per-field machinery; it must not change a byte."""
    displayable_row(
        "0000000009",
        sales_rank=None,
        roi_percent=None,
        percent_down=Decimal("-12.5"),
        keepa_updated_at=timezone.now().replace(microsecond=123456),
        fetched_at=None,
        peak_season="Aug",
    ).save()
    for deal in Deal.objects.all():
        for serializer in (DealSerializer(deal), DealListSerializer(deal)):
            assert serializer.data == serializers.ModelSerializer.to_representation(serializer, deal)


def test_the_lists_rows_are_drfs_generic_representation_of_each_deal(client_, assorted):
    """The list serializes named rows of its columns, not Deals, and writes moments and
    decimals without DRF's per-value lookups: the same output, estimates and gaps included."""
    make_deal("0000000010", verified=False)
    displayable_row(
        "0000000009",
        sales_rank=None,
        roi_percent=None,
        deal_trust_percent=None,
        percent_down=Decimal("-12.5"),
        keepa_updated_at=timezone.now().replace(microsecond=123456),
    ).save()

    with use_clock(FakeClock(timezone.now().timestamp())):  # one "now" for both sides
        rows = client_.get(URL, {"verified": "false", "page_size": 200}).json()["results"]
        generic = DealListSerializer()
        expected = {
            deal.asin: serializers.ModelSerializer.to_representation(generic, deal)
            for deal in Deal.objects.displayable()
        }

    assert len(rows) == 7
    assert {row["asin"]: row for row in rows} == expected


# --- pagination ------------------------------------------------------------------------


@pytest.fixture
def many_deals():
    """250 displayable deals, profits in steps of a cent, plus 50 zombies among them."""
    rows = [displayable_row(f"1{i:09d}", list_at_cents=10000 + i) for i in range(250)]
    rows += [displayable_row(f"Z{i:09d}", quality=Quality.INCOMPLETE) for i in range(50)]
    Deal.objects.bulk_create(rows)


def test_pages_have_count_next_previous_and_results(client_, many_deals):
    first = client_.get(URL, {"page_size": 100}).json()
    third = client_.get(URL, {"page_size": 100, "page": 3}).json()

    assert set(first) == {"count", "count_exact", "next", "previous", "results"}
    assert first["count"] == 250 and first["count_exact"] is True
    assert first["previous"] is None
    assert "page=2" in first["next"] and "page_size=100" in first["next"]
    assert len(third["results"]) == 50 and third["next"] is None
    assert "page=2" in third["previous"]


def test_the_default_page_size_is_50_and_page_size_is_capped_at_200(client_, many_deals):
    assert len(client_.get(URL).json()["results"]) == 50
    assert len(client_.get(URL, {"page_size": 7}).json()["results"]) == 7
    assert len(client_.get(URL, {"page_size": 1000}).json()["results"]) == 200


def test_a_page_past_the_end_is_a_404_not_a_500(client_, many_deals):
    for page in ("4", "0", "-1", "abc", "999999999999999999999"):
        response = client_.get(URL, {"page_size": 100, "page": page})
        assert response.status_code == 404, page
        assert "detail" in response.json()


def test_every_deal_is_on_exactly_one_page(client_, many_deals):
    seen = []
    for page in range(1, 6):
        seen += listed(client_, page_size=50, page=page)
    assert len(seen) == len(set(seen)) == 250
    assert not [asin for asin in seen if asin.startswith("Z")]


def test_next_is_exact_and_count_costs_at_most_one_bounded_query(
    client_, many_deals, django_assert_num_queries
):
    """The page is read with one extra row (that is ``next``); a page that is not full
    needs no count at all; otherwise one count, bounded by a LIMIT. (Plus the one query that
    finds a non-staff reader in the sellers group.)"""
    with django_assert_num_queries(1 + SELLER_CHECK):
        short = client_.get(URL, {"search": "100000001"}).json()
    assert short["count"] == len(short["results"]) and short["next"] is None and short["count_exact"]
    with django_assert_num_queries(2 + SELLER_CHECK):
        full = client_.get(URL, {"page_size": 50}).json()
    assert full["count"] == 250 and full["count_exact"] and full["next"]


def test_a_large_count_is_exact_on_the_last_page_and_otherwise_at_least_the_rows_known(
    client_, many_deals, monkeypatch
):
    monkeypatch.setattr(DealPagination, "exact_count_limit", 100)
    pages = [client_.get(URL, {"page_size": 50, "page": n}).json() for n in range(1, 6)]

    last = pages[-1]
    assert last["count"] == 250 and last["count_exact"] is True and last["next"] is None
    for number, page in enumerate(pages[:-1], start=1):
        assert page["next"] and page["count"] >= number * 50 + 1
        if connection.vendor == "postgresql":
            assert page["count_exact"] is False  # PostgreSQL's planner estimate
        else:
            assert page["count"] == 250 and page["count_exact"] is True  # no estimate: counted
    # Few enough matches: counted exactly again.
    threshold = pages[1]["results"][29]["profit_cents"]
    narrow = client_.get(URL, {"page_size": 10, "min_profit_cents": threshold}).json()
    assert narrow["count_exact"] is True
    assert narrow["count"] == Deal.objects.displayable().filter(profit_cents__gte=threshold).count() <= 100


def test_the_count_is_a_planner_estimate_on_postgresql_beyond_the_limit(
    require_postgres, client_, many_deals, monkeypatch
):
    monkeypatch.setattr(DealPagination, "exact_count_limit", 100)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE deals_deal")
    body = client_.get(URL, {"page_size": 50}).json()
    assert body["count_exact"] is False
    assert 101 <= body["count"] <= 300 + 50  # the planner's estimate of 250 rows


# --- filters ---------------------------------------------------------------------------


@pytest.fixture
def assorted(db):
    """Five deals differing in each filtered column (profits rise with List at)."""
    now = timezone.now()
    make_deal(
        "0000000001", list_at_cents=6000, sales_rank=1_500_000, category="Books", deal_trust_percent=None
    )
    make_deal(
        "0000000002",
        list_at_cents=9000,
        sales_rank=90_000,
        category="Textbooks",
        amazon_sells=True,
        deal_trust_percent=Decimal("70.00"),
        sales_rank_drops_30=None,
        one_year_avg_cents=1500,
    )
    make_deal(
        "0000000003",
        list_at_cents=20000,
        sales_rank=400_000,
        category="Books",
        title="Calculus, early transcendentals",
        keepa_updated_at=now - timedelta(days=3),
        deal_trust_percent=Decimal("100.00"),
        sales_rank_drops_30=9,
    )
    make_deal(
        "0000000004",
        list_at_cents=4000,
        sales_rank=None,
        category="Music",
        keepa_updated_at=now,
        deal_trust_percent=Decimal("69.99"),
        sales_rank_drops_30=0,
    )
    make_deal(
        "B00TESTAAA",
        list_at_cents=30000,
        price_now_cents=500,
        sales_rank=10_000,
        category="Books",
        list_at_suspicious=True,
        keepa_updated_at=now - timedelta(hours=1),
        sales_rank_drops_30=5,
    )
    make_zombie_everywhere()
    return {d.asin: d for d in Deal.objects.displayable()}


def make_zombie_everywhere():
    """A zombie that every filter below would match."""
    Deal.objects.create(
        asin="Z999999999",
        title="Calculus zombie B00TESTAAA",
        category="Books",
        sales_rank=1,
        amazon_sells=False,
        list_at_suspicious=True,
        price_now_cents=500,
        one_year_avg_cents=3000,
        list_at_cents=90000,
        profit_cents=80000,
        margin_percent=Decimal("88.88"),
        roi_percent=Decimal("999.99"),
        percent_down=Decimal("83.33"),
        sales_rank_drops_30=60,
        deal_trust_percent=Decimal("100"),
        keepa_updated_at=timezone.now(),
        quality=Quality.INCOMPLETE,
    )


def expected(deals: dict[str, Deal], keep) -> list[str]:
    kept = [d for d in deals.values() if keep(d)]
    return [d.asin for d in sorted(kept, key=lambda d: (-d.profit_cents, d.asin))]


def test_min_profit_cents_keeps_deals_earning_at_least_that(client_, assorted):
    threshold = assorted["0000000002"].profit_cents
    assert listed(client_, min_profit_cents=threshold) == expected(
        assorted, lambda d: d.profit_cents >= threshold
    )
    assert "0000000002" in listed(client_, min_profit_cents=threshold)
    assert "0000000002" not in listed(client_, min_profit_cents=threshold + 1)


def test_min_margin_and_min_roi_compare_as_decimals(client_, assorted):
    margin = assorted["0000000003"].margin_percent
    assert listed(client_, min_margin=str(margin)) == expected(assorted, lambda d: d.margin_percent >= margin)
    # More decimals than stored: rounded up to the cent, so the same rows as exact comparison.
    just_above = margin + Decimal("0.001")
    assert listed(client_, min_margin=str(just_above)) == expected(
        assorted, lambda d: d.margin_percent >= just_above
    )
    assert listed(client_, min_roi="20") == expected(assorted, lambda d: d.roi_percent >= 20)
    assert listed(client_, min_roi="-50.5") == expected(assorted, lambda d: True)


def test_max_sales_rank_keeps_ranked_deals_at_or_below_it(client_, assorted):
    assert listed(client_, max_sales_rank=400_000) == expected(
        assorted, lambda d: d.sales_rank is not None and d.sales_rank <= 400_000
    )
    assert listed(client_, max_sales_rank=0) == []


def test_category_is_exact_and_ignores_case(client_, assorted):
    assert listed(client_, category="books") == expected(assorted, lambda d: d.category == "Books")
    assert listed(client_, category="Book") == []


def test_search_matches_part_of_the_asin_or_the_title(client_, assorted):
    assert listed(client_, search="b00test") == ["B00TESTAAA"]
    assert listed(client_, search="CALCULUS") == ["0000000003"]
    assert listed(client_, search="nothing like it") == []


def test_updated_since_filters_on_when_keepa_last_updated_the_product(client_, assorted):
    since = timezone.now() - timedelta(days=1)
    assert listed(client_, updated_since=since.isoformat()) == expected(
        assorted, lambda d: d.keepa_updated_at is not None and d.keepa_updated_at >= since
    )
    assert listed(client_, updated_since="2000-01-01") == expected(
        assorted, lambda d: d.keepa_updated_at is not None
    )


def test_hide_amazon_leaves_out_what_amazon_sells(client_, assorted):
    assert listed(client_, hide_amazon="true") == expected(assorted, lambda d: not d.amazon_sells)
    assert listed(client_, hide_amazon="false") == expected(assorted, lambda d: True)


def test_suspicious_selects_on_the_list_at_warning(client_, assorted):
    assert listed(client_, suspicious="true") == ["B00TESTAAA"]
    assert listed(client_, suspicious="false") == expected(assorted, lambda d: not d.list_at_suspicious)


def test_min_drops_30_min_percent_down_and_min_deal_trust(client_, assorted):
    assert listed(client_, min_drops_30=5) == expected(assorted, lambda d: (d.sales_rank_drops_30 or 0) >= 5)
    assert listed(client_, min_drops_30=0) == expected(assorted, lambda d: d.sales_rank_drops_30 is not None)
    assert listed(client_, min_percent_down="50") == expected(assorted, lambda d: d.percent_down >= 50)
    assert listed(client_, min_percent_down="66.67") == expected(
        assorted, lambda d: d.percent_down >= Decimal("66.67")
    )
    trusted = lambda d: d.deal_trust_percent is not None and d.deal_trust_percent >= 70  # noqa: E731
    assert listed(client_, min_deal_trust="70") == expected(assorted, trusted)
    assert listed(client_, min_deal_trust="70") == ["0000000003", "0000000002"]
    assert listed(client_, min_deal_trust="0") == expected(
        assorted, lambda d: d.deal_trust_percent is not None
    )


def test_hide_amazon_also_leaves_out_deals_whose_offer_amazon_sells(client_, assorted):
    Deal.objects.filter(asin="0000000003").update(fulfillment=Fulfillment.AMAZON)

    assert listed(client_, hide_amazon="true") == ["B00TESTAAA", "0000000001", "0000000004"]


def test_filters_combine(client_, assorted):
    assert listed(client_, category="BOOKS", max_sales_rank=500_000, min_profit_cents=1) == expected(
        assorted, lambda d: d.category == "Books" and (d.sales_rank or 10**9) <= 500_000
    )


def test_huge_or_tiny_but_valid_numbers_are_answered_not_crashed_on(client_, assorted):
    """PostgreSQL's numeric(8, 2) must never see more digits than it holds."""
    assert listed(client_, min_margin="9999999.99") == []
    assert listed(client_, min_roi="-9999999") == expected(assorted, lambda d: True)
    assert listed(client_, min_margin="1e-20000") == expected(assorted, lambda d: d.margin_percent > 0)
    assert listed(client_, min_margin="0." + "0" * 500 + "1") == expected(assorted, lambda d: True)
    assert listed(client_, min_profit_cents=-(10**11)) == expected(assorted, lambda d: True)
    assert listed(client_, max_sales_rank=2_147_483_647) == expected(assorted, lambda d: d.sales_rank)


@pytest.mark.parametrize(
    ("parameter", "value"),
    [
        ("min_profit_cents", "abc"),
        ("min_profit_cents", "45.5"),
        ("min_profit_cents", "1" + "0" * 30),
        ("min_margin", "NaN"),
        ("min_margin", "Infinity"),
        ("min_margin", "-inf"),
        ("min_margin", "1e400"),
        ("min_margin", "twenty"),
        ("min_roi", "sNaN"),
        ("min_roi", "100000000"),
        ("max_sales_rank", "-5"),
        ("max_sales_rank", "99999999999"),
        ("max_sales_rank", "1e6"),
        ("min_drops_30", "-1"),
        ("min_drops_30", "2.5"),
        ("min_drops_30", "lots"),
        ("min_percent_down", "NaN"),
        ("min_percent_down", "ten"),
        ("min_deal_trust", "101"),
        ("min_deal_trust", "-1"),
        ("min_deal_trust", "Infinity"),
        ("updated_since", "yesterday"),
        ("updated_since", "2024-13-45T00:00:00Z"),
        ("updated_since", "0001-01-01T00:00:00+01:00"),
        ("hide_amazon", "maybe"),
        ("suspicious", "2"),
        ("category", "x" * 201),
        ("search", "nul\x00byte"),
        ("ordering", "password"),
        ("ordering", "asin"),
        ("ordering", "-quality_reason"),
        ("ordering", "profit_cents,asin"),
        ("page_size", "abc"),
        ("page_size", "0"),
        ("page_size", "-5"),
    ],
)
def test_a_malformed_parameter_is_a_400_naming_it(client_, assorted, parameter, value):
    response = client_.get(URL, {parameter: value})

    assert response.status_code == 400, response.content
    body = response.json()
    assert list(body) == [parameter]
    assert body[parameter] and all(isinstance(message, str) for message in body[parameter])


def test_the_detail_ignores_list_filters(client_, assorted):
    response = client_.get(f"{URL}0000000001/", {"min_profit_cents": "abc", "ordering": "nonsense"})
    assert response.status_code == 200
    assert client_.get(f"{URL}0000000001/", {"min_profit_cents": 10**9}).status_code == 200


def test_the_detail_of_an_unknown_or_malformed_asin_is_a_json_404(client_, assorted):
    for asin in ("0000000009", "not-an-asin", "a/b", "0000000001x"):
        response = client_.get(f"{URL}{asin}/")
        assert response.status_code == 404, asin
        assert response.json() == {"detail": "No Deal matches the given query."}


# --- ordering --------------------------------------------------------------------------


@pytest.fixture
def ties():
    """Deals sharing every sort value in pairs, some without rank, Keepa time or ROI."""
    rows = []
    now = timezone.now()
    for i in range(24):
        extra = {}
        if i % 5 == 0:
            extra.update(sales_rank=None, keepa_updated_at=None, fetched_at=None, roi_percent=None)
        else:
            moment = now - timedelta(hours=i // 2)
            extra.update(sales_rank=1000 * (i // 4), keepa_updated_at=moment, fetched_at=moment)
        rows.append(
            displayable_row(
                f"{(i * 7919) % 10**10:010d}",
                list_at_cents=8000 + 500 * (i // 3),
                title=f"T{i // 2}",
                **extra,
            )
        )
    Deal.objects.bulk_create(rows)
    return list(Deal.objects.displayable())


def python_order(deals: list[Deal], ordering: str) -> list[str]:
    """The documented order: by the field (NULLs last either way), then by asin."""
    name = ordering.removeprefix("-")
    descending = ordering.startswith("-")
    present = [d for d in deals if getattr(d, name) is not None]
    missing = [d for d in deals if getattr(d, name) is None]
    present.sort(key=lambda d: d.asin)
    present.sort(key=lambda d: getattr(d, name), reverse=descending)  # stable: asin order kept in ties
    return [d.asin for d in present] + sorted(d.asin for d in missing)


@pytest.mark.parametrize("ordering", [value for value, _ in ORDERING_CHOICES])
def test_each_ordering_sorts_with_nulls_last_and_asin_as_tiebreaker(client_, ties, ordering):
    pages = [listed(client_, ordering=ordering, page_size=5, page=page) for page in range(1, 6)]
    assert [asin for page in pages for asin in page] == python_order(ties, ordering)


@pytest.mark.parametrize("ordering", ["-profit_cents", "sales_rank", "-keepa_updated_at", "percent_down"])
def test_deep_pages_read_by_keys_first_are_the_same_pages(client_, ties, ordering, monkeypatch):
    shallow = [listed(client_, ordering=ordering, page_size=5, page=page) for page in range(1, 6)]
    monkeypatch.setattr(DealPagination, "deferred_join_offset", 0)
    deep = [listed(client_, ordering=ordering, page_size=5, page=page) for page in range(1, 6)]
    assert deep == shallow
    assert client_.get(URL, {"ordering": ordering, "page_size": 5, "page": 6}).status_code == 404


def test_the_default_order_is_best_profit_first_then_asin(client_, ties):
    assert listed(client_) == python_order(ties, "-profit_cents")
    assert listed(client_) == listed(client_, ordering="-profit_cents")


def test_the_dashboards_sortable_columns_are_all_accepted():
    template = Path(__file__).resolve().parents[1] / "templates" / "deals" / "dashboard.html"
    columns = set(re.findall(r'data-order="([a-z_0-9]+)"', template.read_text()))
    assert columns and columns <= set(ORDERING_FIELDS)


# --- the OpenAPI schema ----------------------------------------------------------------


@pytest.fixture
def openapi(client_) -> dict:
    response = client_.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return json.loads(response.content)


def test_the_schema_is_valid_openapi(openapi):
    validate_schema(openapi)


def test_the_schema_documents_every_parameter_and_the_error_responses(openapi):
    listing = openapi["paths"]["/api/deals/"]["get"]
    parameters = {p["name"]: p for p in listing["parameters"]}

    assert set(parameters) == FILTER_PARAMETERS
    assert all(p["allowEmptyValue"] for p in parameters.values())  # "?category=" means no filter
    assert set(parameters["ordering"]["schema"]["enum"]) == {value for value, _ in ORDERING_CHOICES}
    assert parameters["min_profit_cents"]["schema"]["type"] == "integer"
    assert parameters["min_margin"]["schema"]["type"] == "number"
    assert parameters["max_sales_rank"]["schema"]["minimum"] == 0
    assert parameters["updated_since"]["schema"]["format"] == "date-time"
    assert parameters["hide_amazon"]["schema"]["type"] == "boolean"
    assert all(p.get("description") for p in parameters.values())
    assert {"200", "400", "403", "404"} <= set(listing["responses"])
    assert "additionalProperties" in listing["responses"]["400"]["content"]["application/json"]["schema"]

    page = openapi["components"]["schemas"]["PaginatedDealRowList"]
    assert set(page["properties"]) == {"count", "count_exact", "next", "previous", "results"}
    row = openapi["components"]["schemas"]["DealRow"]
    assert set(row["properties"]) == LIST_FIELDS

    detail = openapi["paths"]["/api/deals/{asin}/"]["get"]
    assert {"200", "403", "404"} <= set(detail["responses"])
    deal = openapi["components"]["schemas"]["Deal"]
    assert set(deal["properties"]) == FIELDS
    assert deal["properties"]["margin_percent"]["type"] == "string"  # Decimal as a string
    assert deal["properties"]["profit_cents"]["type"] == "integer"


# --- schemathesis: the API against its own schema --------------------------------------


@pytest.fixture
def wsgi_app(db):
    """Django's real WSGI handler, minus the end-of-request connection close (as Django's
    test client does) so the requests see this test's transaction."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield WSGIHandler()
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def token(buyer, assorted, many_deals) -> str:
    """A signed-in buyer's token, with displayable deals and zombies in the database."""
    make_deal("ABCDEFGHIJ")
    return Token.objects.create(user=buyer).key


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
@pytest.mark.parametrize("path", ["/api/deals/", "/api/deals/{asin}/"])
def test_the_api_conforms_to_its_schema(wsgi_app, token, path, mode):
    """Property-based: schemathesis draws requests from the schema (valid parameters, and in
    negative mode invalid ones), sends them through the WSGI app with the buyer's token, and
    runs all its checks on each response: no 5xx, documented status code and content type,
    a body valid against the schema, invalid input rejected, and the auth enforced (it
    re-sends without and with a bad token)."""
    schema = schemathesis.openapi.from_wsgi("/api/schema/", wsgi_app)

    @schema.auth()
    class BuyerToken:
        def get(self, case, context):
            return token

        def set(self, case, data, context):
            case.headers = {**(case.headers or {}), "Authorization": f"Token {data}"}

    @settings(
        max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None
    )
    @given(case=schema[path]["GET"].as_strategy(generation_mode=mode, auth_storage=schema.auth))
    def check(case):
        response = case.call()
        assert response.status_code < 500, response.text
        case.validate_response(response)
        if response.status_code == 200 and "results" in response.json():
            assert not [d for d in response.json()["results"] if d["asin"].startswith("Z")]

    check()
