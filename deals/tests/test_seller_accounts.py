"""Seller accounts: members of the "sellers" group who are not staff sign in on the site's
own login page and read the dashboard, the deal view and the API; they never reach the
admin, the recharge controls or any write. Staff keep everything; a signed-in user in
neither group is told why they are refused. The API answers 401 with ``WWW-Authenticate``
when no credentials come, and its schema documents token and session authentication.
"""

from __future__ import annotations

import json
from importlib import import_module

import pytest
from django.apps import apps as django_apps
from django.contrib.auth.models import Group
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from deals.tests.factories import make_deal
from dealsite.access import REFUSED, SELLERS_GROUP
from dealsite.tests.support import make_seller

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-test-password-1"


@pytest.fixture
def seller(django_user_model):
    return make_seller(django_user_model, password=PASSWORD)


@pytest.fixture
def outsider(django_user_model):
    return django_user_model.objects.create_user("outsider", password=PASSWORD)


def test_the_sellers_group_comes_with_the_migrations():
    migration = import_module("deals.migrations.0011_seller_accounts")
    Group.objects.filter(name=SELLERS_GROUP).delete()  # whatever earlier tests left

    migration.create_sellers_group(django_apps, None)

    assert Group.objects.filter(name=SELLERS_GROUP).exists()
    assert any(
        getattr(op, "code", None) is migration.create_sellers_group for op in migration.Migration.operations
    )


# --- signing in -------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_the_sites_own_login_page(client):
    response = client.get("/")

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next=/"
    page = client.get(response["Location"])
    assert [t.name for t in page.templates][:1] == ["deals/login.html"]
    assert "admin" not in page.content.decode().split("<main", 1)[1].lower()


def test_a_seller_signs_in_on_the_site_and_lands_on_the_dashboard(client, seller):
    response = client.post(reverse("login"), {"username": "seller", "password": PASSWORD, "next": "/"})

    assert response.status_code == 302 and response["Location"] == "/"
    dashboard = client.get("/")
    assert dashboard.status_code == 200
    html = dashboard.content.decode()
    assert 'href="/admin/"' not in html, "no admin link for a seller"


def test_a_wrong_password_is_said_on_the_login_page(client, seller):
    response = client.post(reverse("login"), {"username": "seller", "password": "wrong"})

    assert response.status_code == 200
    assert "didn't match" in response.content.decode()


def test_signing_out_is_a_post_back_to_the_login_page(client, seller):
    client.force_login(seller)

    response = client.post(reverse("logout"))

    assert response.status_code == 302 and response["Location"] == reverse("login")
    assert client.get("/").status_code == 302


# --- what a seller reads and never reaches ------------------------------------------------


def test_a_seller_reads_the_dashboard_and_the_api(client, seller):
    make_deal("0000000001")
    client.force_login(seller)

    assert client.get("/").status_code == 200
    assert client.get("/api/deals/").json()["count"] == 1
    assert client.get("/api/deals/0000000001/").json()["asin"] == "0000000001"


def test_a_seller_never_reaches_the_admin(client, seller):
    client.force_login(seller)

    for url in ("/admin/", "/admin/deals/deal/", "/admin/tokens/rechargeevent/toggle/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login")), url


def test_a_seller_never_writes(seller):
    make_deal("0000000001")
    api = APIClient()
    api.force_authenticate(seller)

    recharge = api.post("/api/tokens/recharge/", {"active": True, "reason": "x"}, format="json")
    assert recharge.status_code == 403
    assert api.post("/api/deals/", {"asin": "0000000002"}, format="json").status_code == 405
    assert api.patch("/api/deals/0000000001/", {"title": "x"}, format="json").status_code == 405
    assert api.delete("/api/deals/0000000001/").status_code == 405


def test_staff_keep_the_dashboard_the_api_and_the_admin(admin_client):
    make_deal("0000000001")

    assert admin_client.get("/").status_code == 200
    assert admin_client.get("/api/deals/").json()["count"] == 1
    assert admin_client.get("/admin/deals/deal/").status_code == 200
    assert 'href="/admin/"' in admin_client.get("/").content.decode()


def test_a_user_in_neither_group_is_told_why_not(client, outsider):
    client.force_login(outsider)

    page = client.get("/")
    assert page.status_code == 403
    assert "sellers group" in page.content.decode()
    api = client.get("/api/deals/")
    assert api.status_code == 403 and api.json() == {"detail": REFUSED}


def test_an_inactive_seller_reads_nothing(seller):
    token = Token.objects.create(user=seller)
    seller.is_active = False
    seller.save()

    response = APIClient().get("/api/deals/", HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 401


def test_a_seller_is_known_as_one_with_no_query_of_its_own(client, seller, django_assert_num_queries):
    """The session's user and the token's are loaded knowing whether they are sellers."""
    make_deal("0000000001")
    client.force_login(seller)
    token = Token.objects.create(user=seller)

    with django_assert_num_queries(3):  # the session, its user, the page (too short to count)
        assert client.get("/api/deals/").status_code == 200
    with django_assert_num_queries(2):  # the token with its user, the page
        assert APIClient().get("/api/deals/", HTTP_AUTHORIZATION=f"Token {token.key}").status_code == 200


def test_a_session_signed_in_before_the_seller_aware_backend_still_reads(client, seller):
    """A deploy must not sign everyone out: a session naming Django's own backend still works
    (asking the group in a query of its own)."""
    client.force_login(seller, backend="django.contrib.auth.backends.ModelBackend")
    assert client.get("/api/deals/").status_code == 200
    seller.groups.clear()
    assert client.get("/api/deals/").status_code == 403


@pytest.mark.parametrize("signed_in", ["session", "token"])
def test_a_seller_taken_out_of_the_group_is_refused_from_the_next_request_on(client, seller, signed_in):
    make_deal("0000000001")
    client.force_login(seller)
    token = Token.objects.create(user=seller)

    def read(url):
        if signed_in == "session":
            return client.get(url).status_code
        return APIClient().get(url, HTTP_AUTHORIZATION=f"Token {token.key}").status_code

    assert read("/api/deals/") == 200
    seller.groups.clear()
    assert read("/api/deals/") == 403
    assert read("/api/deals/0000000001/") == 403
    if signed_in == "session":
        assert read("/") == 403
    seller.groups.add(Group.objects.get(name=SELLERS_GROUP))
    assert read("/api/deals/") == 200


# --- the API's answer to no credentials, and its schema -----------------------------------


@pytest.mark.parametrize("url", ["/api/deals/", "/api/deals/0000000001/", "/api/tokens/status/"])
def test_no_credentials_is_a_401_naming_the_scheme(url):
    response = APIClient().get(url)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_a_bad_token_is_a_401_too():
    response = APIClient().get("/api/deals/", HTTP_AUTHORIZATION="Token not-a-real-token")

    assert response.status_code == 401 and response["WWW-Authenticate"] == "Token"


def test_a_seller_reads_the_api_with_a_token(seller):
    make_deal("0000000001")
    token = Token.objects.create(user=seller)

    response = APIClient().get("/api/deals/", HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 200 and response.json()["count"] == 1


def test_the_schema_documents_token_and_session_authentication(client, seller):
    client.force_login(seller)
    schema = json.loads(client.get("/api/schema/", {"format": "json"}).content)

    schemes = schema["components"]["securitySchemes"]
    assert schemes["tokenAuth"]["type"] == "apiKey" and schemes["tokenAuth"]["in"] == "header"
    assert schemes["tokenAuth"]["name"] == "Authorization"
    assert schemes["cookieAuth"] == {"type": "apiKey", "in": "cookie", "name": "sessionid"}
    listing = schema["paths"]["/api/deals/"]["get"]
    assert {"tokenAuth": []} in listing["security"] and {"cookieAuth": []} in listing["security"]
    assert {"401", "403"} <= set(listing["responses"])
