"""Golden tests of product parsing and analytics, with the expected values worked out by hand.

``book()`` writes Keepa JSON from a list of sales the way Keepa would record them: the
listing price is set a day before each sale, the offer count drops at the sale minute, the
sales rank drops six hours later and drifts back up two days after. All tests run at NOW.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deals.ingest import deal_fields
from deals.keepa.analytics import analyse, div_half_even, infer_sales, remove_outliers
from deals.keepa.facts import datetime_to_keepa_minutes, keepa_minutes_to_datetime
from deals.keepa.product import parse_product
from deals.models import AverageSource

NOW = datetime(2025, 10, 1, tzinfo=UTC)
START = datetime(2023, 1, 1, tzinfo=UTC)


def km(moment: datetime) -> int:
    return datetime_to_keepa_minutes(moment)


def day(y: int, m: int, d: int, h: int = 0) -> datetime:
    return datetime(y, m, d, h, tzinfo=UTC)


def book(*, sales=(), used_now=None, amazon=None, stats=None, asin="0000000001", **extra):
    """Keepa JSON for a book with these (datetime, cents, condition) sales, >= 3 days apart."""
    csv: list = [None] * 36
    prices = {"used": [], "new": []}
    counts = {"used": [km(START), 20], "new": [km(START), 20]}
    rank = [km(START), 300_000]
    for moment, cents, condition in sorted(sales):
        prices[condition] += [km(moment - timedelta(days=1)), cents]
        counts[condition] += [km(moment), counts[condition][-1] - 1]
        rank += [km(moment + timedelta(hours=6)), 100_000, km(moment + timedelta(days=2)), 300_000]
    if used_now is not None:
        prices["used"] += [km(NOW - timedelta(hours=12)), used_now]
    csv[2], csv[1] = prices["used"] or None, prices["new"] or None
    csv[12], csv[11], csv[3] = counts["used"], counts["new"], rank
    if amazon is not None:
        csv[0] = [km(START), amazon]
    product = {
        "asin": asin,
        "title": "Calculus, 9th Edition",
        "rootCategory": 283155,
        "categories": [465600],
        "binding": "Hardcover",
        "csv": csv,
        "fbaFees": {"pickAndPackFee": 356},
        "referralFeePercentage": 15.0,
        "lastUpdate": km(NOW - timedelta(hours=3)),
        "trackingSince": km(START),
        **extra,
    }
    if stats is not None:
        product["stats"] = stats
    return product


def stats_with(**arrays):
    """A stats object: each keyword maps {csv index: value}; -1 elsewhere, like Keepa."""
    result = {}
    for name, values in arrays.items():
        if name.startswith("salesRankDrops"):
            result[name] = values
            continue
        row = [-1] * 36
        for index, value in values.items():
            row[index] = value
        result[name] = row
    return result


def run(raw):
    return analyse(parse_product(raw), now=NOW)


# --- time ---------------------------------------------------------------------------


def test_keepa_minutes_are_minutes_since_2011_utc():
    assert keepa_minutes_to_datetime(0) == day(2011, 1, 1)
    t = 7_000_000
    assert keepa_minutes_to_datetime(t).timestamp() * 1000 == (t + 21_564_000) * 60_000
    assert datetime_to_keepa_minutes(keepa_minutes_to_datetime(t)) == t


# --- golden products ----------------------------------------------------------------


def test_seasonal_textbook_with_a_clear_august_peak():
    sales = [
        (day(2024, 8, 5), 6000, "used"),
        (day(2024, 8, 12), 6000, "used"),
        (day(2024, 8, 20), 6000, "used"),
        (day(2024, 10, 10), 4000, "used"),
        (day(2025, 1, 10), 5500, "used"),
        (day(2025, 1, 20), 5500, "used"),
        (day(2025, 8, 3), 6000, "used"),
        (day(2025, 8, 10), 6000, "used"),
        (day(2025, 8, 17), 6500, "used"),
    ]
    stats = stats_with(
        current={0: 9000, 2: 4200, 3: 300_000, 12: 11},
        avg180={0: 9000},
        avg365={0: 8800, 2: 5000},
        salesRankDrops30=2,
    )
    result = run(book(sales=sales, used_now=4200, amazon=9000, stats=stats))

    # Prices sorted: 4000, 5500, 5500, 6000 x5, 6500 (n=9). Q1 = x[2] = 5500, Q3 = x[6] = 6000,
    # 1.5 IQR = 750: keep [4750, 6750], so the 4000 sale is an outlier. 8 sales remain.
    assert (result.inferred_sales_count, result.outliers_removed) == (8, 1)
    # Last 365 days (since 2024-10-01), cleaned: 5500, 5500, 6000, 6000, 6500 -> 29500 / 5.
    assert result.one_year_avg_cents == 5900 and result.one_year_avg_source == "sales"
    # August: 6000 x5 and 6500 (median 6000) beats January (median 5500); its mode is 6000.
    assert result.peak_season == "August"
    # Amazon ceiling: 90% of min(9000, 9000, 8800) = 7920, not binding.
    assert result.amazon_ceiling_cents == 7920
    assert (result.list_at_cents, result.list_at_capped, result.list_at_suspicious) == (6000, False, False)
    assert result.price_now_cents == 4200
    assert (result.sales_rank, result.sales_rank_drops_30, result.used_offer_count) == (300_000, 2, 11)
    assert result.amazon_sells is True
    assert (result.fba_fee_cents, result.referral_percent) == (356, Decimal("15.0"))
    assert result.keepa_updated_at == NOW - timedelta(hours=3)
    assert result.complete and result.incomplete_reasons == []


def test_sparse_book_with_two_sales_uses_their_median_rounded_half_even():
    sales = [(day(2025, 3, 10), 3001, "used"), (day(2025, 6, 10), 4000, "used")]
    result = run(book(sales=sales, used_now=1100))

    # Fewer than 3 sales: the median of all, (3001 + 4000) / 2 = 3500.5 -> 3500 (half to even).
    assert result.list_at_cents == 3500 and result.peak_season is None
    assert result.one_year_avg_cents == 3500
    # No Amazon offer, no stats: no ceiling. 3500 > 3 x 1100 (price now from csv): suspicious.
    assert result.amazon_ceiling_cents is None and result.amazon_sells is False
    assert result.price_now_cents == 1100 and result.list_at_suspicious is True
    assert result.complete


def test_no_sales_and_no_stats_is_incomplete_with_reasons():
    raw = book(used_now=2500)
    result = run(raw)

    assert result.inferred_sales_count == 0
    assert result.one_year_avg_cents is None and result.list_at_cents is None
    assert result.price_now_cents == 2500
    assert any("1yr Avg" in r for r in result.incomplete_reasons)
    assert any("List at" in r for r in result.incomplete_reasons)
    assert not result.complete


def test_an_absurd_outlier_sale_is_removed():
    sales = [
        (day(2025, 1, 5), 2000, "used"),
        (day(2025, 1, 15), 2100, "used"),
        (day(2025, 2, 10), 2200, "used"),
        (day(2025, 3, 5), 2100, "used"),
        (day(2025, 3, 15), 2000, "used"),
        (day(2025, 4, 10), 99_900, "used"),
    ]
    result = run(book(sales=sales, used_now=1200))

    # Sorted: 2000, 2000, 2100, 2100, 2200, 99900. Q1 at position 1.25 = 2025, Q3 at 3.75 = 2175,
    # 1.5 IQR = 225: keep [1800, 2400]; 99900 goes.
    assert result.outliers_removed == 1 and result.inferred_sales_count == 5
    # Mean of 2000, 2100, 2200, 2100, 2000 = 10400 / 5.
    assert result.one_year_avg_cents == 2080
    # Medians: January 2050, February 2200, March 2050 -> February, its only sale 2200.
    assert (result.peak_season, result.list_at_cents) == ("February", 2200)


def test_list_at_is_capped_below_amazon_with_half_even_rounding():
    sales = [(day(2025, 1, d), 5000, "used") for d in (3, 10, 17)]
    stats = stats_with(current={0: 5000, 2: 2500}, avg180={0: 4805}, avg365={0: 5100})
    result = run(book(sales=sales, used_now=2500, amazon=5000, stats=stats))

    # 90% of min(5000, 4805, 5100) = 4324.5 -> 4324 (half to even).
    assert result.amazon_ceiling_cents == 4324
    assert (result.list_at_cents, result.list_at_capped) == (4324, True)
    assert result.peak_season == "January" and result.complete


def test_a_list_at_above_1500_dollars_is_rejected():
    sales = [(day(2025, 2, d), 180_000, "used") for d in (3, 10, 17)]
    result = run(book(sales=sales, used_now=150_000))

    assert result.list_at_cents is None
    assert result.incomplete_reasons == ["List at $1,800.00 is above the $1,500 limit"]


def test_short_and_missing_csv_slots_are_tolerated():
    raw = book(used_now=1500)
    raw["csv"] = [None, [km(day(2025, 9, 1)), 2000, km(day(2025, 9, 5))], [km(day(2025, 9, 2)), 1500]]
    snapshot = parse_product(raw)
    result = analyse(snapshot, now=NOW)

    assert snapshot.slot(1).values == [2000]
    assert any("csv[1]" in p and "partial" in p for p in snapshot.problems)
    assert result.price_now_cents == 1500
    assert (
        result.inferred_sales_count == 0 and result.sales_rank is None and result.sales_rank_drops_30 is None
    )
    assert not result.complete


def test_1yr_avg_falls_back_to_the_used_365_day_average_when_sales_are_older():
    sales = [(day(2024, 2, d), 3000, "used") for d in (1, 8, 15)]
    stats = stats_with(current={2: 1800}, avg365={2: 2750})
    result = run(book(sales=sales, used_now=1800, stats=stats))

    assert (result.one_year_avg_cents, result.one_year_avg_source) == (2750, "stats.avg365")
    assert result.list_at_cents == 3000 and result.complete


# --- the sale rules -----------------------------------------------------------------


def _series_product(*, used, counts, rank):
    csv: list = [None] * 36
    csv[2], csv[12], csv[3] = used, counts, rank
    return parse_product({"asin": "0000000002", "title": "T", "csv": csv})


def test_sale_price_is_the_one_in_force_just_before_the_drop():
    t = km(day(2025, 5, 1))
    # The 1000 copy sells at t; Keepa records the count drop and the next price (1500) at t.
    snapshot = _series_product(
        used=[t - 600, 1000, t, 1500], counts=[t - 600, 3, t, 2], rank=[t - 600, 50_000, t + 60, 20_000]
    )
    assert [(s.price_cents, s.condition) for s in infer_sales(snapshot, km(NOW))] == [(1000, "used")]


@pytest.mark.parametrize(("rank_drop_after_hours", "is_sale"), [(0, True), (240, True), (241, False)])
def test_a_drop_counts_only_if_the_rank_drops_within_240_hours(rank_drop_after_hours, is_sale):
    t = km(day(2025, 5, 1))
    drop = t + rank_drop_after_hours * 60
    snapshot = _series_product(
        used=[t - 600, 1000], counts=[t - 600, 3, t, 2], rank=[t - 600, 50_000, drop, 20_000]
    )
    assert bool(infer_sales(snapshot, km(NOW))) is is_sale


def test_deal_trust_is_the_share_of_offer_count_drops_a_rank_drop_confirmed():
    t = km(day(2025, 5, 1))
    later, last = t + 20 * 24 * 60, t + 40 * 24 * 60
    # Three Used drops; only the first has a rank drop within 240 h: the others are copies
    # withdrawn (or sold elsewhere), which the predecessor's "Deal Trust" discounts.
    snapshot = _series_product(
        used=[t - 600, 1000],
        counts=[t - 600, 5, t, 4, later, 3, last, 2],
        rank=[t - 600, 50_000, t + 60, 20_000],
    )
    result = analyse(snapshot, now=NOW)

    assert result.deal_trust_percent == Decimal("33.33")
    assert result.inferred_sales_count == 1


def test_no_offer_count_drop_means_no_deal_trust_and_fewer_than_three_sales_no_trough():
    t = km(day(2025, 5, 1))
    quiet = _series_product(used=[t - 600, 1000], counts=[t - 600, 3], rank=[t - 600, 50_000])
    two_sales = run(
        book(sales=[(day(2025, 3, 1), 2000, "used"), (day(2025, 6, 1), 2600, "used")], used_now=900)
    )

    assert analyse(quiet, now=NOW).deal_trust_percent is None
    assert (two_sales.trough_season, two_sales.expected_trough_cents) == (None, None)
    assert two_sales.deal_trust_percent == Decimal("100.00")


def test_the_trough_tie_goes_to_the_month_with_more_sales_then_the_earlier_one():
    sales = [
        (day(2025, 2, 1), 3000, "used"),
        (day(2025, 2, 10), 3000, "used"),
        (day(2025, 3, 1), 3000, "used"),
        (day(2025, 7, 1), 4000, "used"),
    ]
    result = run(book(sales=sales, used_now=900))

    assert (result.trough_season, result.expected_trough_cents) == ("February", 3000)


def test_drops_older_than_two_years_are_ignored():
    old = km(NOW - timedelta(days=731))
    snapshot = _series_product(
        used=[old - 600, 1000], counts=[old - 600, 3, old, 2], rank=[old - 600, 50_000, old + 60, 20_000]
    )
    assert infer_sales(snapshot, km(NOW)) == []


def test_new_offer_drops_are_priced_at_the_new_price():
    result = run(book(sales=[(day(2025, 6, 1), 8000, "new"), (day(2025, 6, 9), 2000, "used")], used_now=1000))
    assert sorted((s.condition, s.price_cents) for s in result.sales) == [("new", 8000), ("used", 2000)]


def test_shipping_triples_read_as_price_plus_shipping():
    csv: list = [None] * 36
    csv[21] = [km(day(2025, 1, 1)), 1000, 399, km(day(2025, 2, 1)), -1, -1]
    snapshot = parse_product({"asin": "0000000003", "csv": csv})
    assert snapshot.history(21) == [(day(2025, 1, 1), 1399), (day(2025, 2, 1), -1)]


def test_sparkline_covers_the_last_year_in_at_most_60_points():
    base = km(NOW - timedelta(days=400))
    used = [v for i in range(400) for v in (base + i * 1440, 1000 + i)]
    result = run(book() | {"csv": [None, None, used] + [None] * 33})

    points = result.used_price_history
    assert len(points) == 60
    assert points[0][0] == int((NOW - timedelta(days=365)).timestamp())
    assert points[-1] == [int((NOW - timedelta(days=1)).timestamp()), 1399]


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"), [(7, 2, 4), (5, 2, 2), (43245, 10, 4324), (43255, 10, 4326)]
)
def test_division_rounds_half_to_even(numerator, denominator, expected):
    assert div_half_even(numerator, denominator) == expected


def test_outlier_rule_keeps_small_samples():
    assert remove_outliers([100, 10_000]) == ([100, 10_000], [])
    assert remove_outliers([10, 12, 100]) == ([10, 12, 100], [])


# --- garbage never raises -------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=True)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=8), inner, max_size=6),
    max_leaves=30,
)
keepa_ints = st.integers(min_value=-5, max_value=8_000_000)
keepa_like = st.fixed_dictionaries(
    {
        "asin": st.one_of(st.none(), st.text(max_size=12), st.integers()),
        "csv": st.one_of(
            st.none(),
            json_values,
            st.lists(st.one_of(st.none(), st.lists(keepa_ints, max_size=40), json_values), max_size=40),
        ),
        "stats": st.one_of(
            st.none(),
            json_values,
            st.dictionaries(
                st.sampled_from(["current", "avg365", "avg180", "min", "salesRankDrops30"]),
                st.one_of(json_values, st.lists(keepa_ints, max_size=36)),
            ),
        ),
        "fbaFees": json_values,
        "referralFeePercentage": json_values,
        "lastUpdate": json_values,
    }
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(json_values, keepa_like))
def test_any_json_yields_a_snapshot_and_an_analysis_with_reasons(raw):
    snapshot = parse_product(raw)
    result = analyse(snapshot, now=NOW)

    if result.complete:
        assert result.one_year_avg_cents is not None and result.list_at_cents is not None
        assert result.price_now_cents is not None and result.asin is not None
    else:
        assert all(isinstance(r, str) and r for r in result.incomplete_reasons)


def test_the_deal_gets_trust_trough_and_the_averages_source_from_the_analysis():
    sales = [(day(2025, m, 5), 2000 + 100 * m, "used") for m in (2, 4, 6)]
    _asin, fields = deal_fields(book(sales=sales, used_now=900), now=NOW)
    _asin, fallback = deal_fields(book(used_now=900, stats=stats_with(avg365={2: 2750})), now=NOW)

    assert (fields["trough_season"], fields["expected_trough_cents"]) == ("February", 2200)
    assert fields["deal_trust_percent"] == Decimal("100.00")
    assert fields["one_year_avg_source"] == AverageSource.SALES
    assert fallback["one_year_avg_source"] == AverageSource.KEEPA  # shown as an estimate
    assert (fallback["trough_season"], fallback["expected_trough_cents"], fallback["deal_trust_percent"]) == (
        "",
        None,
        None,
    )
