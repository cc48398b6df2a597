"""The dashboard in a real browser: Debian's chromium driven by Playwright against a live
server, logging in through the real form, sorting, filtering, paging, and never showing a
zombie that sits in the database."""

from __future__ import annotations

import json
import os
import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect, sync_playwright

from deals import services
from deals.models import Deal, FilterPreset, Fulfillment
from deals.tests.factories import fba_offer, make_deal, make_listless_zombie, make_losing_zombie

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
LAUNCH_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "a-long-test-password-1"
ZOMBIES = ("9999999991", "9999999992")
ROW_ASINS = "#deal-rows td.asin a:first-child"
DAY = 24 * 3600


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: `apt-get install chromium` (make test does it as root)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    with pytest.MonkeyPatch.context() as patch:
        # Playwright's sync API keeps an asyncio loop registered on this thread, so Django's
        # guard would refuse the (truly synchronous) ORM calls the tests make in between.
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
            yield chromium
            chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1500, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture(autouse=True)
def own_redis(settings, real_redis, redis_url):
    """The live server's token-status reads go to this run's own (flushed) Redis database."""
    settings.REDIS_URL = redis_url


@pytest.fixture
def buyer(django_user_model):
    return django_user_model.objects.create_user(username="buyer", password=PASSWORD, is_staff=True)


def log_in(page, url: str) -> None:
    """Through the real login form, starting from the page the user wanted."""
    page.goto(url)
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next="))
    page.fill("#id_username", "buyer")
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    expect(page.locator("#dashboard[data-ready=true]")).to_be_attached()


def make_zombies() -> None:
    """Written straight through the ORM, as the predecessor's buggy paths did; each would
    sort first by rank if it leaked."""
    make_losing_zombie(ZOMBIES[0], title="Zombie losing money", sales_rank=1)
    make_listless_zombie(ZOMBIES[1], title="Zombie without List at", sales_rank=2)


def asins(queryset, ordering: str, page: int = 1, size: int = 5) -> list[str]:
    rows = queryset.order_by(ordering, "asin").values_list("asin", flat=True)
    return list(rows[(page - 1) * size : page * size])


def assert_no_zombie(page) -> None:
    html = page.content()
    for asin in ZOMBIES:
        assert asin not in html


def test_a_buyer_logs_in_sorts_filters_and_pages_and_never_sees_a_zombie(live_server, buyer, page, tmp_path):
    # Twelve displayable deals: profits rise with List at, ranks in a scrambled order.
    now = int(timezone.now().timestamp())
    for i in range(12):
        make_deal(
            f"000000{i:04d}",
            list_at_cents=6000 + 1000 * i,
            sales_rank=((i * 7) % 12 + 1) * 10_000,
            amazon_sells=i == 11,
            keepa_updated_at=timezone.now(),
            used_price_history=[
                [now - day * DAY, 1000 + (day * (i + 3) * 37) % 2500] for day in range(400, 0, -20)
            ],
        )
    make_zombies()
    shown = Deal.objects.displayable()
    assert shown.count() == 12 and Deal.objects.count() == 14

    log_in(page, f"{live_server.url}/?page_size=5")
    rows = page.locator(ROW_ASINS)
    expect(rows).to_have_text(asins(shown, "-profit_cents"))  # best profit first
    expect(page.locator("#status")).to_contain_text("of 12 deals")
    expect(page.locator("#page-info")).to_have_text("Page 1 of 3")
    first = shown.order_by("-profit_cents").first()
    expect(rows.first).to_have_attribute("href", f"https://www.amazon.com/dp/{first.asin}")
    expect(page.locator("#deal-rows a.keepa").first).to_have_attribute(
        "href", f"https://keepa.com/#!product/1-{first.asin}"
    )
    expect(page.locator("#deal-rows svg.spark")).to_have_count(5)
    assert_no_zombie(page)

    # Sort by rank (best first), then flip it.
    page.get_by_role("button", name="Rank").click()
    expect(rows).to_have_text(asins(shown, "sales_rank"))
    expect(page.locator('th[data-order="sales_rank"]')).to_have_attribute("aria-sort", "ascending")
    page.get_by_role("button", name="Rank").click()
    expect(rows).to_have_text(asins(shown, "-sales_rank"))
    page.get_by_role("button", name="Rank").click()
    expect(rows).to_have_text(asins(shown, "sales_rank"))
    assert_no_zombie(page)

    # Filter: profit of at least $45.
    page.fill("#f-min-profit", "45")
    page.get_by_role("button", name="Apply filters").click()
    rich = shown.filter(profit_cents__gte=4500)
    assert rich.count() == 10
    expect(rows).to_have_text(asins(rich, "sales_rank"))
    expect(page.locator("#status")).to_contain_text("of 10 deals")
    assert "min_profit_cents=4500" in page.url
    assert_no_zombie(page)

    # Page on; a reload keeps the place (page, sort and filters live in the URL).
    page.get_by_role("button", name="Next").click()
    expect(rows).to_have_text(asins(rich, "sales_rank", page=2))
    expect(page.get_by_role("button", name="Next")).to_be_disabled()
    page.reload()
    expect(rows).to_have_text(asins(rich, "sales_rank", page=2))
    expect(page.locator("#f-min-profit")).to_have_value("45")
    expect(page.locator("#page-info")).to_have_text("Page 2 of 2")
    page.go_back()
    expect(rows).to_have_text(asins(rich, "sales_rank"))

    # Hide what Amazon itself sells.
    page.check("#f-hide-amazon")
    page.get_by_role("button", name="Apply filters").click()
    expect(page.locator("#status")).to_contain_text("of 9 deals")
    expect(rows).to_have_text(asins(rich.filter(amazon_sells=False), "sales_rank"))

    # Every page without filters, then: exactly the displayable deals, never a zombie.
    page.get_by_role("button", name="Clear").click()
    expect(page.locator("#status")).to_contain_text("of 12 deals")
    seen: list[str] = []
    for number in (1, 2, 3):
        expect(page.locator("#page-info")).to_have_text(f"Page {number} of 3")
        expect(rows).to_have_text(asins(shown, "sales_rank", page=number))
        seen += rows.all_inner_texts()
        assert_no_zombie(page)
        if number < 3:
            page.get_by_role("button", name="Next").click()
    assert sorted(seen) == sorted(shown.values_list("asin", flat=True))

    page.goto(f"{live_server.url}/?page_size=25")
    expect(rows).to_have_count(12)
    screenshot = tmp_path / "dashboard.png"
    page.screenshot(path=str(screenshot), full_page=True)
    print(f"dashboard screenshot: {screenshot}")


def test_deals_found_since_the_last_visit_are_announced(live_server, buyer, page, browser):
    # Found a minute before the visit: the list's times are to the second, and the page counts
    # a deal made in the visit's first second as new.
    make_deal("0000000001", now=timezone.now() - timedelta(minutes=1))
    log_in(page, f"{live_server.url}/")
    expect(page.locator("#new-deals")).to_be_hidden()

    make_deal("0000000002", list_at_cents=20000, category="Textbooks")
    later = page.context.new_page()  # a new tab within the same visit: the same baseline
    later.goto(f"{live_server.url}/?page_size=1&ordering=title")  # deal 2 is not on this page
    expect(later.locator("#new-deals")).to_be_visible()
    expect(later.locator("#new-deals-text")).to_contain_text("1 new deal since your last visit")
    expect(later.locator(ROW_ASINS)).to_have_text(["0000000001"])
    later.goto(f"{live_server.url}/")
    expect(later.locator("tr.is-new")).to_have_attribute("data-asin", "0000000002")
    later.goto(f"{live_server.url}/?category=Books")  # the count follows the filters
    expect(later.locator(ROW_ASINS)).to_have_text(["0000000001"])
    expect(later.locator("#new-deals")).to_be_hidden()

    later.goto(f"{live_server.url}/")  # refreshing the same visit keeps the notice
    expect(later.locator("#new-deals")).to_be_visible()
    later.get_by_role("button", name="Mark as seen").click()
    expect(later.locator("#new-deals")).to_be_hidden()
    expect(later.locator("tr.is-new")).to_have_count(0)

    # The server remembers: another browser, the same user, nothing new.
    elsewhere = browser.new_context(viewport={"width": 1500, "height": 1000}).new_page()
    log_in(elsewhere, f"{live_server.url}/")
    expect(elsewhere.locator(ROW_ASINS)).to_have_count(2)
    expect(elsewhere.locator("#new-deals")).to_be_hidden()
    elsewhere.context.close()


def test_the_optimal_preset_and_a_saved_preset(live_server, buyer, page, browser):
    trusted = {"sales_rank": 500_000, "deal_trust_percent": Decimal("80")}
    make_deal("0000000001", list_at_cents=20000, **trusted)  # profit $147.26, ROI 854%
    make_deal("0000000002", list_at_cents=6000, **trusted)  # profit $28.26
    make_deal("0000000003", list_at_cents=20000, sales_rank=2_000_000, deal_trust_percent=Decimal("80"))
    make_deal("0000000004", list_at_cents=20000, sales_rank=500_000, deal_trust_percent=Decimal("50"))
    log_in(page, f"{live_server.url}/")
    rows = page.locator(ROW_ASINS)
    expect(rows).to_have_count(4)

    page.get_by_role("button", name="Optimal").click()
    expect(rows).to_have_text(["0000000001"])
    expect(page.locator("#f-min-profit")).to_have_value("45")
    expect(page.locator("#f-min-roi")).to_have_value("20")
    expect(page.locator("#f-max-rank")).to_have_value("1,000,000")
    expect(page.locator("#f-min-drops")).to_have_value("2")
    expect(page.locator("#f-min-trust")).to_have_value("70")
    expect(page.locator("#f-min-seller-score")).to_have_value("5")
    expect(page.locator("#f-min-percent-down")).to_have_value("10")
    expect(page.locator("#f-hide-amazon")).to_be_checked()
    expect(page.locator('#deal-rows tr[data-asin="0000000001"] td.trust')).to_have_text("80.00%")

    page.fill("#f-max-rank", "")
    page.fill("#f-min-trust", "")
    page.fill("#f-search", "0000000003")
    page.fill("#preset-name", "Number three")
    page.get_by_role("button", name="Save filters as a preset").click()
    expect(page.locator("#status")).to_contain_text("Saved preset Number three")
    page.get_by_role("button", name="Clear").click()
    expect(rows).to_have_count(4)

    # Kept on the server: another browser signed in as the same user has it.
    elsewhere = browser.new_context(viewport={"width": 1500, "height": 1000}).new_page()
    log_in(elsewhere, f"{live_server.url}/")
    expect(elsewhere.locator("#preset option")).to_have_count(2)
    elsewhere.select_option("#preset", index=1)
    expect(elsewhere.locator(ROW_ASINS)).to_have_text(["0000000003"])
    elsewhere.get_by_role("button", name="Delete").click()
    expect(elsewhere.locator("#preset option")).to_have_count(1)
    elsewhere.context.close()
    assert not FilterPreset.objects.exists()


def test_bad_filter_input_is_explained_not_sent(live_server, buyer, page):
    make_deal("0000000001")
    log_in(page, f"{live_server.url}/")
    page.fill("#f-min-profit", "forty")
    page.get_by_role("button", name="Apply filters").click()
    expect(page.locator("#filter-error")).to_contain_text("Min profit must be dollars")
    expect(page.locator("#f-min-profit")).to_have_attribute("aria-invalid", "true")
    assert "min_profit" not in page.url


TOKEN_STATUS = {
    "known": True,
    "state": "recharging",
    "tokens": 120,
    "available": 120,
    "in_flight_tokens": 0,
    "capacity": 300,
    "refill_rate": 5,
    "recharge_active": True,
    "recharge_threshold": 280,
    "recharge_eta_seconds": 1920,
    "last_reading_age_seconds": 12,
}


def test_the_bucket_widget_shows_recharge_and_degrades_when_status_fails(live_server, buyer, page):
    redis_down = False  # the widget polls every second: it answers 200 until Redis "goes down"

    def token_status(route):
        status, body = (503, {"detail": "Redis is down"}) if redis_down else (200, TOKEN_STATUS)
        route.fulfill(status=status, content_type="application/json", body=json.dumps(body))

    page.route("**/api/tokens/status/", token_status)
    log_in(page, f"{live_server.url}/")
    expect(page.locator("#bucket-tokens")).to_have_text("120 / 300 tokens")
    expect(page.locator("#bucket-detail")).to_contain_text("Recharging to 280, ready in ~32 min")
    expect(page.locator("#bucket-detail")).to_contain_text("refill 5/min")
    expect(page.locator("#bucket")).to_have_attribute("data-state", "recharging")

    redis_down = True
    page.get_by_role("button", name="Refresh").click()
    expect(page.locator("#bucket")).to_have_attribute("data-state", "unavailable")
    expect(page.locator("#bucket-detail")).to_have_text("Token status unavailable right now.")
    expect(page.locator("#dashboard[data-loaded=true]")).to_be_attached()  # the deals still load


def test_money_is_formatted_from_integer_cents_without_float(live_server, buyer, page):
    log_in(page, f"{live_server.url}/")
    results = page.evaluate(
        """() => {
          const d = window.dealsDashboard;
          return {
            cents: [0, 5, 29, 4500, 123456, -1424, 900719925474099].map(d.formatCents),
            parsed: ["45", "$1,045.5", "0.29", "19.99", "", "4.999", "-3", "abc"]
              .map(d.dollarsToCents).map((v) => (Number.isNaN(v) ? "invalid" : v)),
            input: [4500, 4550, 29, 100000].map(d.centsToDollarsInput),
            percent: ["25.50", "20.00", "361.14", null].map(d.formatPercent),
          };
        }"""
    )
    assert results["cents"] == [
        "$0.00",
        "$0.05",
        "$0.29",
        "$45.00",
        "$1,234.56",
        "-$14.24",
        "$9,007,199,254,740.99",
    ]
    assert results["parsed"] == [4500, 104550, 29, 1999, None, "invalid", "invalid", "invalid"]
    assert results["input"] == ["45", "45.50", "0.29", "1000"]
    assert results["percent"] == ["25.50%", "20.00%", "361.14%", "—"]


def test_only_displayable_deals_reach_the_api_the_page_reads(live_server, buyer, page):
    """The page's own data source, fetched with the browser's session cookie."""
    make_deal("0000000001")
    make_zombies()
    log_in(page, f"{live_server.url}/")
    body = page.evaluate(
        "() => fetch('/api/deals/?page_size=100', {credentials: 'same-origin'}).then(r => r.json())"
    )
    assert Deal.objects.filter(asin__in=ZOMBIES).count() == 2
    assert [deal["asin"] for deal in body["results"]] == ["0000000001"]


def test_a_seller_sees_the_offer_behind_each_deal_and_can_show_estimates(live_server, buyer, page, tmp_path):
    make_deal("0000000001", list_at_cents=9000)  # verified: FBA, Very Good, Test Books 9.6
    acceptable = make_deal("0000000002", list_at_cents=8000, verified=False)
    services.record_verification(
        acceptable,
        offer=fba_offer(
            1399,
            shipping_cents=399,
            fulfillment=Fulfillment.MFN,
            condition_code=5,
            condition="Used - Acceptable",
            seller_name="Cheap Reads",
            seller_score=Decimal("7.2"),
        ),
        live_used_offers=2,
        reason="",
        now=timezone.now() - timedelta(minutes=12),
    )
    make_deal("0000000003", list_at_cents=7000, verified=False)  # an estimate

    log_in(page, f"{live_server.url}/")
    rows = page.locator(ROW_ASINS)
    expect(rows).to_have_text(["0000000001", "0000000002"])
    mfn = page.locator('#deal-rows tr[data-asin="0000000002"]')
    expect(mfn.locator("td.buy")).to_contain_text("$13.99")
    expect(mfn.locator("td.buy")).to_contain_text("incl. $3.99 ship")
    expect(mfn.locator("td.seller")).to_contain_text("MFN")
    expect(mfn.locator("td.seller")).to_contain_text("Cheap Reads")
    expect(mfn.locator("td.seller")).to_contain_text("score 7.2/10")
    expect(mfn.locator("td.verified")).to_contain_text("verified 12 min ago")
    expect(mfn).to_contain_text("Used - Acceptable")
    fba = page.locator('#deal-rows tr[data-asin="0000000001"]')
    expect(fba.locator("td.seller .badge-fba")).to_have_text("FBA")
    expect(fba.locator("td.buy")).to_contain_text("free shipping")

    page.check("#f-show-estimates")
    page.get_by_role("button", name="Apply filters").click()
    expect(rows).to_have_text(["0000000001", "0000000002", "0000000003"])
    expect(page.locator('#deal-rows tr[data-asin="0000000003"] td.verified')).to_have_text("estimate")
    assert "verified=false" in page.url

    page.check("#f-not-acceptable")
    page.fill("#f-min-seller-score", "9")
    page.get_by_role("button", name="Apply filters").click()
    expect(rows).to_have_text(["0000000001"])
    assert "exclude_conditions=acceptable" in page.url and "min_seller_score=9" in page.url
    page.reload()
    expect(page.locator("#f-not-acceptable")).to_be_checked()
    expect(page.locator("#f-min-seller-score")).to_have_value("9")
    page.fill("#f-min-seller-score", "eleven")
    page.get_by_role("button", name="Apply filters").click()
    expect(page.locator("#filter-error")).to_contain_text("Min seller score must be 0 to 10")
    page.screenshot(path=str(tmp_path / "offers.png"), full_page=True)
