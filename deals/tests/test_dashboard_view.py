"""The dashboard page at ``/`` as Django serves it (the browser test drives the rest)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.urls import reverse

from deals.tests.factories import make_deal, make_listless_zombie

pytestmark = pytest.mark.django_db

STATIC_ASSETS = ("deals/dashboard.js", "deals/dashboard.css")


def test_anonymous_visitors_are_sent_to_the_login_page(client):
    response = client.get("/")

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next=/"


def test_the_page_is_a_shell_fed_by_the_api(admin_client):
    make_deal("0000000001")

    response = admin_client.get(reverse("dashboard"))

    assert response.status_code == 200
    assert [t.name for t in response.templates][:1] == ["deals/dashboard.html"]
    html = response.content.decode()
    assert 'data-deals-url="/api/deals/"' in html
    assert 'data-tokens-url="/api/tokens/status/"' in html
    for asset in STATIC_ASSETS:
        assert f"/static/{asset}" in html
    # No deal is rendered by the server: the table only ever holds what the API returns.
    assert "0000000001" not in html


def test_the_category_suggestions_come_from_displayable_deals_only(admin_client):
    make_deal("0000000001", category="Textbooks")
    make_listless_zombie("0000000002", category="Zombie category")

    html = admin_client.get("/").content.decode()

    assert '<option value="Textbooks">' in html
    assert "Zombie category" not in html
    assert "0000000002" not in html


def test_filters_and_table_headers_are_labelled(admin_client):
    html = admin_client.get("/").content.decode()

    for field_id in (
        "f-min-profit",
        "f-min-margin",
        "f-min-roi",
        "f-max-rank",
        "f-min-percent-down",
        "f-min-drops",
        "f-min-trust",
        "f-category",
        "f-search",
        "f-show-estimates",
        "f-min-seller-score",
        "f-not-acceptable",
        "preset",
    ):
        assert f'<label for="{field_id}">' in html
        assert f'id="{field_id}"' in html
    assert html.count('<th scope="col"') == 21
    assert "<caption" in html


def test_logging_out_is_a_post_with_a_csrf_token(admin_client):
    html = admin_client.get("/").content.decode()

    form = re.search(r'<form method="post" action="([^"]+)">\s*<input type="hidden" name="csrf', html)
    assert form and form.group(1) == reverse("logout")


@pytest.mark.parametrize("asset", STATIC_ASSETS)
def test_static_assets_are_local_and_load_nothing_from_elsewhere(asset):
    """The machine has no network: no CDN, no web fonts; the only outside URLs are the
    product links the user clicks."""
    path = finders.find(asset)
    assert path, f"{asset} is not found by the static files finders"
    text = Path(path).read_text()
    outside = set(re.findall(r"https?://[^\s\"')]+", text)) - {"http://www.w3.org/2000/svg"}
    assert {url.split("/")[2] for url in outside} <= {"www.amazon.com", "keepa.com"}
    assert "@import" not in text
