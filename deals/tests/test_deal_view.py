"""The deal view, ``/deals/<asin>/``: the page a seller opens before buying.

A Keepa product goes through the real pipeline step (``ingest.store_product``: analysis and
the one write path), then the page is read as a seller and as staff: the price chart (used,
new, Amazon) with the inferred sales marked, the sales rank chart, the peak month with its
price, how each figure was computed, the live offers once verified, the links to Amazon and
Keepa, and for staff the change history.
"""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.urls import reverse

from deals import ingest
from deals.keepa.analytics import CHART_POINTS
from deals.models import Deal
from deals.tests.factories import make_deal, make_listless_zombie
from deals.tests.test_keepa_analytics import NOW, book, day, run, stats_with
from dealsite.tests.support import make_seller

SEASONAL_SALES = [
    (day(2024, 8, 5), 6000, "used"),
    (day(2024, 8, 12), 6000, "used"),
    (day(2024, 8, 20), 6000, "used"),
    (day(2024, 10, 10), 4000, "used"),  # the outlier
    (day(2025, 1, 10), 5500, "used"),
    (day(2025, 1, 20), 5500, "used"),
    (day(2025, 8, 3), 6000, "used"),
    (day(2025, 8, 10), 6000, "used"),
    (day(2025, 8, 17), 6500, "new"),
]


def seasonal_textbook(used_now: int = 2000) -> dict:
    stats = stats_with(
        current={0: 9000, 2: used_now, 3: 300_000, 12: 11},
        avg180={0: 9000},
        avg365={0: 8800, 2: 5000},
        salesRankDrops30=2,
    )
    return book(sales=SEASONAL_SALES, used_now=used_now, amazon=9000, stats=stats)


# --- what the analysis keeps for the page -------------------------------------------------


def test_the_analysis_keeps_two_years_of_each_series_and_the_sales_for_the_charts():
    result = run(seasonal_textbook())

    chart = result.chart
    assert {"used", "new", "amazon", "rank", "sales"} <= chart.keys()
    assert chart["amazon"][0][1] == 9000 and chart["used"][-1][1] == 2000
    assert all(len(chart[name]) <= CHART_POINTS for name in ("used", "new", "amazon", "rank"))
    assert len(chart["sales"]) == 8, "the cleaned sales: the outlier is not marked"
    assert chart["sales"][-1][1:] == [6500, "new"]
    assert [int(t) for t, _ in chart["rank"]] == sorted(int(t) for t, _ in chart["rank"])
    assert result.list_at_basis == {
        "sales": 8,
        "sales_last_year": 5,
        "outliers_removed": 1,
        "one_year_avg_source": "sales",
        "peak_month": "August",
        "from_sales_cents": 6000,
        "amazon_ceiling_cents": 7920,
        "capped": False,
    }


def test_the_basis_says_when_amazons_price_caps_list_at():
    sales = [(day(2025, 1, d), 5000, "used") for d in (3, 10, 17)]
    stats = stats_with(current={0: 5000, 2: 2500}, avg180={0: 4805}, avg365={0: 5100})

    basis = run(book(sales=sales, used_now=2500, amazon=5000, stats=stats)).list_at_basis

    assert (basis["from_sales_cents"], basis["amazon_ceiling_cents"], basis["capped"]) == (5000, 4324, True)


# --- the page -----------------------------------------------------------------------------


@pytest.fixture
def stored(db, settings):
    settings.DEALSITE_PIPELINE = {**settings.DEALSITE_PIPELINE, "STALE_AFTER_SECONDS": 10**9}
    deal = ingest.store_product(seasonal_textbook(), reason="job refresh", now=NOW)
    assert Deal.objects.displayable().filter(pk=deal.pk).exists(), deal.quality_reason
    return deal


@pytest.fixture
def seller_client(client, django_user_model):
    client.force_login(make_seller(django_user_model))
    return client


def url(asin: str) -> str:
    return reverse("deal-detail", args=[asin])


def text(html: str) -> str:
    """The page's words, tags and extra spaces out."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def test_a_seller_sees_the_charts_with_the_inferred_sales_marked(seller_client, stored):
    html = seller_client.get(url(stored.asin)).content.decode()

    price_chart = html[html.index('<svg class="chart"') : html.index("</svg>")]
    for series in ("used", "new", "amazon"):
        assert re.search(rf'class="series series-{series}"><polyline points="[\d., ]+"', price_chart), series
    assert price_chart.count('<circle class="sale') == 8
    assert "2025-08-17: new sold at $65.00" in price_chart
    assert "List at $60.00" in price_chart
    rank_chart = html[html.index('id="rank-chart"') :]
    assert 'class="series series-rank"><polyline' in rank_chart and "100,000" in rank_chart


def test_a_seller_sees_the_peak_month_and_how_each_figure_was_computed(seller_client, stored):
    page = text(seller_client.get(url(stored.asin)).content.decode())

    assert "Peak month August · sells at $60.00" in page
    assert "Rank 300,000" in page and "Profit $19.70 ROI 71.02%" in page
    assert "August peak 6 $60.00" in page, "the month table: six August sales, median $60.00"
    assert "1yr average $59.00 mean of 5 inferred sales in the last 365 days" in page
    assert "From sales $60.00 most common price of August, the peak month; 8 sales over two years" in page
    assert "Cap $79.20 90% of Amazon's lowest current / 180-day / 365-day price: not reached" in page
    assert "List at, computed $60.00" in page
    assert "Buy price $20.00 Keepa's used price now (an estimate)" in page
    assert "Sales tax $1.00 5% of the buy price" in page
    assert "Prep $2.75" in page and "Inbound shipping $3.99" in page
    assert "All-in cost $27.74" in page
    assert "Referral fee $9.00 15.00% of List at (Keepa)" in page
    assert "FBA pick & pack $3.56 Keepa" in page
    assert "Profit $19.70 List at - all-in cost - Amazon fees" in page
    assert stored.profit_cents == 1970, "the page explains the stored profit"
    assert "business costs changed" not in page
    assert "Not verified yet" in page


def test_the_page_links_to_amazon_and_keepa_and_back(seller_client, stored):
    html = seller_client.get(url(stored.asin)).content.decode()

    assert f'href="https://www.amazon.com/dp/{stored.asin}"' in html
    assert f'href="https://keepa.com/#!product/1-{stored.asin}"' in html
    assert f'href="{reverse("dashboard")}"' in html


def test_once_verified_the_live_offer_is_summarised(seller_client, db):
    deal = make_deal("0000000042")  # verified with an FBA copy in Very Good from "Test Books"

    page = text(seller_client.get(url(deal.asin)).content.decode())

    assert "verified" in page and "stale" not in page
    assert "Buy price $10.00 incl. $0.00 shipping" in page
    assert "Condition Used - Very Good" in page
    assert "Fulfilment Fulfilled by Amazon" in page
    assert "Seller Test Books score 9.6/10" in page
    assert "Live used offers 3" in page
    assert "Buy price $10.00 the live offer, item plus shipping" in page
    assert "No price history stored yet" in page, "a deal stored before the charts says so"


def test_staff_also_see_the_change_history_and_sellers_do_not(seller_client, admin_client, db):
    deal = make_deal("0000000043")  # stored by the job, then verified: two versions

    staff_page = admin_client.get(url(deal.asin)).content.decode()
    rows = re.findall(r"<tr><td>", staff_page[staff_page.index('id="change-history"') :])
    assert len(rows) == deal.history.count() >= 2
    assert "verification: estimate → verified" in staff_page
    assert "job refresh" in staff_page and "pipeline" in staff_page
    assert "Change history" not in seller_client.get(url(deal.asin)).content.decode()


def test_a_hidden_deal_is_a_404_for_a_seller_and_explained_to_staff(seller_client, admin_client, db):
    zombie = make_listless_zombie("0000000044")

    assert seller_client.get(url(zombie.asin)).status_code == 404
    staff = admin_client.get(url(zombie.asin))
    assert staff.status_code == 200 and "Hidden from sellers" in staff.content.decode()


@pytest.mark.parametrize("asin", ["0000000000", "abc", "B0%2F..%2Fx", "%0A"])
def test_an_unknown_or_malformed_asin_is_a_404(seller_client, db, asin):
    assert seller_client.get(f"/deals/{asin}/").status_code == 404


def test_the_deal_view_is_for_sellers_and_staff_only(client, django_user_model, db):
    deal = make_deal("0000000045")

    anonymous = client.get(url(deal.asin))
    assert anonymous.status_code == 302
    assert anonymous["Location"] == f"{reverse('login')}?next={url(deal.asin)}"
    client.force_login(django_user_model.objects.create_user("outsider", password="x"))
    assert client.get(url(deal.asin)).status_code == 403


def test_changed_business_costs_are_said_not_hidden(seller_client, stored, settings):
    settings.DEALSITE_BUSINESS = {**settings.DEALSITE_BUSINESS, "PREP_FEE_CENTS": 500}

    page = text(seller_client.get(url(stored.asin)).content.decode())

    assert "The business costs changed since this deal was computed" in page
    assert "Prep $5.00" in page


def test_the_chart_stops_at_now_even_when_keepa_was_quiet(seller_client, stored):
    """The last value holds until now: the used line reaches the right edge."""
    html = seller_client.get(url(stored.asin)).content.decode()
    used = re.search(r'series-used"><polyline points="([^"]+)"', html).group(1)
    assert used.split()[-1].startswith("708.0,")


def test_a_seller_sees_the_trough_month_the_time_to_buy(seller_client, stored):
    page = text(seller_client.get(url(stored.asin)).content.decode())

    assert (stored.trough_season, stored.expected_trough_cents) == ("January", 5500)
    assert "Trough month January · expected $55.00" in page
