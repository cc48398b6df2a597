"""The dashboard on a phone: at 390 px wide the page never scrolls sideways, each deal is a
card with its ASIN, title, condition, buy price, profit, ROI and rank, and the filters fold
away. Chromium through Playwright against a live server, signed in as a seller (not staff)
through the site's login form."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from deals.tests.factories import make_deal
from deals.tests.test_dashboard_browser import PASSWORD, browser  # noqa: F401 (the module's fixture)
from dealsite.tests.support import make_seller

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
CARD_LABELS = ["ASIN", "Title", "Condition", "Buy price", "Rank", "Profit", "ROI"]


@pytest.fixture(autouse=True)
def own_redis(settings, real_redis, redis_url):
    settings.REDIS_URL = redis_url


@pytest.fixture
def phone(browser):  # noqa: F811 (the imported fixture)
    context = browser.new_context(viewport=PHONE, device_scale_factor=3, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def sideways_overflow(page) -> int:
    """How many pixels the page is wider than the screen (0: no sideways scroll)."""
    return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")


def test_at_390px_each_deal_is_a_card_and_nothing_scrolls_sideways(live_server, django_user_model, phone):
    make_seller(django_user_model, password=PASSWORD)
    make_deal(
        "0000000001",
        title="An extraordinarily long title without many breaks: " + "Supercalifragilistic" * 4,
        sales_rank=12_345,
        price_now_cents=1500,  # verified with an FBA copy in Very Good at this price
    )
    make_deal("0000000002", title="Organic Chemistry", sales_rank=2_000)

    phone.goto(f"{live_server.url}/")
    expect(phone).to_have_url(re.compile(r"/accounts/login/\?next="))
    assert sideways_overflow(phone) == 0, "the login page fits the phone"
    phone.fill("#id_username", "seller")
    phone.fill("#id_password", PASSWORD)
    phone.click("main button[type=submit]")
    expect(phone.locator("#dashboard[data-ready=true]")).to_be_attached()
    cards = phone.locator("#deal-rows tr[data-asin]")
    expect(cards.first).to_be_visible()

    assert sideways_overflow(phone) == 0
    expect(phone.locator("#filters")).to_be_hidden()  # folded away
    expect(phone.locator("#deals thead")).not_to_be_in_viewport()
    card = phone.locator("#deal-rows tr[data-asin='0000000001']")
    box = card.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    expect(card.locator("td.asin a").first).to_have_text("0000000001")
    expect(card.locator("td.title")).to_contain_text("An extraordinarily long title")
    shown = card.locator("td:visible")
    labels = [label for label in shown.evaluate_all("cells => cells.map(c => c.dataset.label)") if label]
    assert labels == CARD_LABELS, "the card holds the key figures and nothing else"
    for cell in ("condition", "buy", "profit", "roi", "rank"):
        figure = card.locator(f"td.{cell}")
        expect(figure).to_be_visible()
        cell_box = figure.bounding_box()
        assert cell_box["x"] >= 0 and cell_box["x"] + cell_box["width"] <= PHONE["width"], cell
    expect(card.locator("td.buy")).to_contain_text("$15.00")
    expect(card.locator("td.rank")).to_have_text("12,345")
    expect(card.locator("td.condition")).to_have_text("Used - Very Good")

    phone.click("#filters-fold > summary")
    expect(phone.locator("#filters")).to_be_visible()
    assert sideways_overflow(phone) == 0, "the unfolded filters fit too"
    phone.fill("#f-max-rank", "5000")
    phone.click("#filters button[type=submit]")
    expect(cards).to_have_count(1)
    expect(cards.first).to_have_attribute("data-asin", "0000000002")
    assert sideways_overflow(phone) == 0

    cards.first.locator("td.title a").click()  # the deal view fits the phone too
    expect(phone).to_have_url(re.compile(r"/deals/0000000002/$"))
    expect(phone.locator("h1")).to_have_text("Organic Chemistry")
    assert sideways_overflow(phone) == 0


def test_a_wide_screen_keeps_the_table_and_the_filters_open(live_server, django_user_model, browser):  # noqa: F811
    make_seller(django_user_model, password=PASSWORD)
    make_deal("0000000001")
    context = browser.new_context(viewport={"width": 1500, "height": 1000})
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/accounts/login/?next=/")
        page.fill("#id_username", "seller")
        page.fill("#id_password", PASSWORD)
        page.click("main button[type=submit]")
        expect(page.locator("#dashboard[data-ready=true]")).to_be_attached()
        expect(page.locator("#filters")).to_be_visible()
        expect(page.locator("#filters-fold > summary")).to_be_hidden()
        expect(page.locator("#deals thead")).to_be_visible()
    finally:
        context.close()
