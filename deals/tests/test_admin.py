"""The Deal admin, through the real admin views: staff see the dashboard's columns, edit
inputs through the one write path (a bad edit is a form error, never a 500), keep a List at
override across refreshes, read who changed what, revert, and ask for a fresh fetch.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import redis
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.urls import resolve, reverse
from django.utils import timezone
from redis.backoff import NoBackoff
from redis.retry import Retry
from rq import Queue

from deals import backfill, jobs, services
from deals.models import Candidate, Deal, DiscoverySelection, Quality
from deals.money import format_cents
from deals.tests.factories import make_deal
from tokens.clock import get_clock

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:deals_deal_changelist")
KEEPA_KEY = "test-keepa-key-5d41402abc4b2a76"


def change_url(deal: Deal) -> str:
    return reverse("admin:deals_deal_change", args=[deal.pk])


def history_url(deal: Deal) -> str:
    return reverse("admin:deals_deal_history", args=[deal.pk])


def revert_url(deal: Deal, version) -> str:
    return reverse("admin:deals_deal_simple_history", args=[deal.pk, version.history_id])


def staff_user(django_user_model, username: str, *codenames: str):
    user = django_user_model.objects.create_user(username, password="not-used-here", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="deals", codename__in=codenames)
    )
    return user


@pytest.fixture
def editor(django_user_model):
    return staff_user(django_user_model, "editor", "view_deal", "change_deal")


@pytest.fixture
def editor_client(client, editor):
    client.force_login(editor)
    return client


def form_data(client, url: str, **changes: str) -> dict[str, str]:
    """What the browser would post: the form as rendered, with the staff's changes."""
    response = client.get(url)
    assert response.status_code == 200
    form = response.context["adminform"].form
    data = {name: "" if form[name].value() is None else str(form[name].value()) for name in form.fields}
    return {**data, **changes, "_save": "Save"}


def history_count(deal: Deal) -> int:
    return deal.history.count()


# --- the list --------------------------------------------------------------------------


def test_the_list_shows_the_dashboard_columns_with_money_in_dollars(admin_client):
    deal = make_deal(title="Dollars and cents", list_at_cents=123456, price_now_cents=99999)
    html = admin_client.get(CHANGELIST).content.decode()

    for header in (
        "ASIN",
        "Title",
        "Category",
        "Sales rank",
        "Price now",
        "1yr avg",
        "List at",
        "List at, computed",
        "Profit",
        "Margin",
        "ROI",
        "Quality",
        "Fetched at",
    ):
        assert re.search(rf">\s*{re.escape(header)}\s*<", html, re.IGNORECASE), header
    assert deal.asin in html and "Dollars and cents" in html
    assert "$999.99" in html and "$1,234.56" in html and "$30.00" in html
    assert format_cents(deal.profit_cents) in html
    assert f"{deal.margin_percent}%" in html and f"{deal.roi_percent}%" in html


def test_money_is_formatted_from_integer_cents():
    assert format_cents(0) == "$0.00"
    assert format_cents(5) == "$0.05"
    assert format_cents(123456789) == "$1,234,567.89"
    assert format_cents(-1999) == "-$19.99"
    assert format_cents(None) == "-"


def test_search_finds_deals_by_asin_and_by_title(admin_client):
    make_deal("0000000001", title="The Art of Computer Programming")
    make_deal("B000000002", title="Cooking for One")

    def found(query: str) -> set[str]:
        response = admin_client.get(CHANGELIST, {"q": query})
        return {deal.asin for deal in response.context["cl"].result_list}

    assert found("B000000002") == {"B000000002"}
    assert found("computer programming") == {"0000000001"}
    assert found("nothing like this") == set()


def test_the_shown_on_dashboard_filter_is_the_querysets_rule(admin_client):
    make_deal("0000000001")  # displayable
    make_deal("0000000002", list_at_cents=None)  # incomplete, due for repair
    backing_off = make_deal("0000000003", one_year_avg_cents=None)
    services.record_repair_failure(backing_off, "still no average", max_attempts=3)
    given_up = make_deal("0000000004", price_now_cents=None)
    services.record_repair_failure(given_up, "no offers", max_attempts=1)
    services.expire_deal(make_deal("0000000005"), reason="stale")  # hidden on purpose, not a zombie

    def shown(value: str) -> set[str]:
        response = admin_client.get(CHANGELIST, {"dashboard": value})
        assert response.status_code == 200
        return {deal.asin for deal in response.context["cl"].result_list}

    expected = {
        "displayable": Deal.objects.displayable(),
        "zombie": Deal.objects.zombies(),
        "incomplete": Deal.objects.incomplete(now=get_clock().now()),
        "unrepairable": Deal.objects.filter(quality=Quality.UNREPAIRABLE),
    }
    for value, queryset in expected.items():
        assert shown(value) == set(queryset.values_list("asin", flat=True)), value
    assert shown("displayable") == {"0000000001"}
    assert shown("zombie") == {"0000000002", "0000000003", "0000000004"}
    assert shown("incomplete") == {"0000000002"}
    assert shown("unrepairable") == {"0000000004"}


def test_the_other_filters_narrow_the_list(admin_client):
    make_deal("0000000001", category="Books", amazon_sells=True)
    make_deal("0000000002", category="Textbooks", list_at_suspicious=True)
    make_deal(
        "0000000003", category="Books", list_at_cents=None, fetched_at=timezone.now() - timedelta(days=30)
    )
    services.set_list_at_override(Deal.objects.get(asin="0000000002"), 6000, user=None)
    today = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)

    def shown(**params) -> set[str]:
        response = admin_client.get(CHANGELIST, params)
        assert response.status_code == 200
        return {deal.asin for deal in response.context["cl"].result_list}

    assert shown(category="Textbooks") == {"0000000002"}
    assert shown(quality__exact="incomplete") == {"0000000003"}
    assert shown(list_at_suspicious__exact="1") == {"0000000002"}
    assert shown(amazon_sells__exact="1") == {"0000000001"}
    assert shown(list_at_override_cents__isempty="0") == {"0000000002"}
    since = {
        "fetched_at__gte": str(today - timedelta(days=7)),
        "fetched_at__lt": str(today + timedelta(days=1)),
    }
    assert shown(**since) == {"0000000001", "0000000002"}


# --- the change form ---------------------------------------------------------------------


def test_the_change_form_edits_inputs_in_dollars_and_shows_computed_values_read_only(editor_client):
    deal = make_deal()
    response = editor_client.get(change_url(deal))
    form = response.context["adminform"].form
    assert set(form.fields) == {
        "title",
        "category",
        "price_now_cents",
        "one_year_avg_cents",
        "fba_fee_cents",
        "referral_percent",
        "list_at_override_cents",
    }
    assert form["price_now_cents"].value() == "10.00"
    html = response.content.decode()
    for read_only in ("List at, computed", "List at (effective)", "Profit", "All-in cost", "Amazon fees"):
        assert read_only in html
    assert format_cents(deal.profit_cents) in html and "$100.00" in html
    assert 'name="asin"' not in html and 'name="profit_cents"' not in html


def test_a_staff_edit_is_recomputed_by_the_service_and_records_who(editor_client, editor):
    deal = make_deal(verified=False)  # an estimate: its profit rests on the price now
    profit_before = deal.profit_cents

    response = editor_client.post(
        change_url(deal), form_data(editor_client, change_url(deal), price_now_cents="12.00")
    )

    assert response.status_code == 302
    deal.refresh_from_db()
    assert deal.price_now_cents == 1200
    assert deal.profit_cents == profit_before - 210, "$2 more for the book, and 5% tax on it"
    assert deal.profit_cents == deal.list_at_cents - deal.all_in_cost_cents - deal.amazon_fees_cents
    latest = deal.history.latest()
    assert latest.history_user == editor
    assert latest.history_change_reason == "staff edit: price_now_cents"


def test_saving_an_unchanged_form_writes_no_history_row(editor_client):
    deal = make_deal()
    before = history_count(deal)
    response = editor_client.post(change_url(deal), form_data(editor_client, change_url(deal)))
    assert response.status_code == 302
    assert history_count(deal) == before


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("price_now_cents", "-5", "Price now must be more than $0."),
        ("price_now_cents", "0", "Price now must be more than $0."),
        ("price_now_cents", "0.00", "Price now must be more than $0."),
        ("price_now_cents", "abc", "Enter an amount in dollars"),
        ("price_now_cents", "12.345", "at most two decimals"),
        ("price_now_cents", "99999999999999", "too large"),
        ("one_year_avg_cents", "0", "1yr avg must be more than $0."),
        ("fba_fee_cents", "-1.50", "FBA pick & pack must not be negative."),
        ("referral_percent", "150", "Referral percent must be between 0 and 100."),
        ("referral_percent", "abc", "Enter a number."),
        ("list_at_override_cents", "0", "List at must be more than $0."),
        ("list_at_override_cents", "-3", "List at, staff override must not be negative."),
        ("title", "x" * 501, "at most 500 characters"),
        ("title", "", "A deal needs a title."),
        ("title", "   ", "A deal needs a title."),
    ],
)
def test_an_edit_that_breaks_a_rule_is_a_form_error_and_changes_nothing(editor_client, field, value, message):
    deal = make_deal()
    stored = Deal.objects.filter(pk=deal.pk).values().get()
    versions = history_count(deal)

    response = editor_client.post(
        change_url(deal), form_data(editor_client, change_url(deal), **{field: value})
    )

    assert response.status_code == 200, "the form again, with the error"
    errors = response.context["adminform"].form.errors
    assert message in " ".join(errors[field]), errors
    assert Deal.objects.filter(pk=deal.pk).values().get() == stored
    assert history_count(deal) == versions


def test_a_save_the_service_refuses_after_the_form_accepted_it_is_a_message_not_a_500(
    editor_client, monkeypatch
):
    """Say the row changed between validation and save and the service now refuses."""
    deal = make_deal()
    stored = Deal.objects.filter(pk=deal.pk).values().get()

    def refuse(*args, **kwargs):
        raise ValidationError({"price_now_cents": "the row changed meanwhile"})

    monkeypatch.setattr(services, "save_staff_edit", refuse)
    data = form_data(editor_client, change_url(deal), price_now_cents="12.00")
    response = editor_client.post(change_url(deal), data, follow=True)

    assert response.status_code == 200
    assert response.redirect_chain == [(change_url(deal), 302)]
    assert "Not saved: the row changed meanwhile" in response.content.decode()
    assert Deal.objects.filter(pk=deal.pk).values().get() == stored


def test_read_only_fields_cannot_be_forged_by_a_post(editor_client):
    """A bad ASIN or a profit that disagrees with the inputs never reaches the row: those
    fields are not in the form, and the profit is always the recomputed one."""
    deal = make_deal()
    data = form_data(editor_client, change_url(deal), title="Edited")
    data.update(asin="bad-asin", profit_cents="999999", quality="complete", list_at_cents="1")

    response = editor_client.post(change_url(deal), data)

    assert response.status_code == 302
    deal.refresh_from_db()
    assert (deal.asin, deal.title) == ("0000000001", "Edited")
    assert deal.profit_cents == deal.list_at_cents - deal.all_in_cost_cents - deal.amazon_fees_cents
    assert deal.list_at_cents == 10000


def test_an_edit_that_makes_the_deal_a_zombie_is_saved_hidden_with_the_reason(editor_client):
    """Blanking an input is a legitimate edit: the deal is kept, incomplete, off the dashboard."""
    deal = make_deal()
    response = editor_client.post(
        change_url(deal), form_data(editor_client, change_url(deal), price_now_cents="")
    )
    assert response.status_code == 302
    deal.refresh_from_db()
    assert deal.quality == Quality.INCOMPLETE and "no used price now" in deal.quality_reason
    assert not Deal.objects.displayable().filter(pk=deal.pk).exists()


# --- the List at override ------------------------------------------------------------------


def test_a_list_at_override_survives_refreshes_until_staff_clear_it(editor_client, editor, admin_client):
    deal = make_deal(list_at_cents=4500)

    response = editor_client.post(
        change_url(deal), form_data(editor_client, change_url(deal), list_at_override_cents="50.00")
    )
    assert response.status_code == 302
    deal.refresh_from_db()
    assert (deal.list_at_cents, deal.list_at_override_cents, deal.list_at_computed_cents) == (
        5000,
        5000,
        4500,
    )
    latest = deal.history.latest()
    assert (latest.history_user, latest.history_change_reason) == (editor, "List at override set")

    # A later automated refresh computes a new List at: it is kept beside the override.
    services.upsert_deal(asin=deal.asin, reason="job refresh", list_at_cents=4700, fetched_at=timezone.now())
    deal.refresh_from_db()
    assert (deal.list_at_cents, deal.list_at_computed_cents) == (5000, 4700)
    assert deal.profit_cents == 5000 - deal.all_in_cost_cents - deal.amazon_fees_cents

    row = admin_client.get(CHANGELIST).content.decode()
    assert "$50.00" in row and "(override)" in row and "$47.00" in row
    page = editor_client.get(change_url(deal))
    assert page.context["adminform"].form["list_at_override_cents"].value() == "50.00"
    assert "$47.00" in page.content.decode(), "the computed value is shown beside the override"

    # Clearing the override makes the computed value effective again.
    response = editor_client.post(
        change_url(deal), form_data(editor_client, change_url(deal), list_at_override_cents="")
    )
    assert response.status_code == 302
    deal.refresh_from_db()
    assert (deal.list_at_cents, deal.list_at_override_cents) == (4700, None)
    assert deal.profit_cents == 4700 - deal.all_in_cost_cents - deal.amazon_fees_cents
    assert deal.history.latest().history_change_reason == "List at override cleared"


def test_an_override_set_together_with_other_edits_is_one_audited_save(editor_client):
    deal = make_deal()
    versions = history_count(deal)
    data = form_data(editor_client, change_url(deal), list_at_override_cents="60", title="Both")
    assert editor_client.post(change_url(deal), data).status_code == 302
    deal.refresh_from_db()
    assert (deal.title, deal.list_at_cents, deal.list_at_computed_cents) == ("Both", 6000, 10000)
    assert history_count(deal) == versions + 1


# --- history and revert ------------------------------------------------------------------


def test_the_history_shows_who_changed_which_field_from_what_to_what(editor_client):
    deal = make_deal()
    editor_client.post(change_url(deal), form_data(editor_client, change_url(deal), price_now_cents="12.50"))

    html = editor_client.get(history_url(deal)).content.decode()

    assert "editor" in html
    assert "staff edit: price_now_cents" in html
    assert re.search(r"Price now:</strong>\s*\$10\.00\s*&nbsp;&rarr;&nbsp;&nbsp;\$12\.50", html), html
    assert "job refresh" in html, "the automated writes are in the same history"


def test_revert_restores_the_old_values_and_is_itself_recorded(editor_client, editor):
    deal = make_deal(title="Original title")
    original = deal.history.latest()
    original_profit = deal.profit_cents
    editor_client.post(
        change_url(deal),
        form_data(editor_client, change_url(deal), title="A mistake", price_now_cents="30.00"),
    )
    deal.refresh_from_db()
    assert deal.title == "A mistake"
    versions = history_count(deal)

    page = editor_client.get(revert_url(deal, original))
    assert page.status_code == 200
    assert page.context["adminform"].form["title"].value() == "Original title"
    response = editor_client.post(
        revert_url(deal, original), form_data(editor_client, revert_url(deal, original))
    )

    assert response.status_code == 302
    deal.refresh_from_db()
    assert (deal.title, deal.price_now_cents, deal.profit_cents) == ("Original title", 1000, original_profit)
    assert history_count(deal) == versions + 1
    latest = deal.history.latest()
    assert latest.history_user == editor
    assert latest.history_change_reason == f"revert to version {original.history_id}"


def test_a_revert_cannot_bypass_the_rules(editor_client):
    """History rows carry no constraints; a version that breaks a rule is refused on revert."""
    deal = make_deal()
    bad = deal.history.latest()
    bad.pk = None
    bad.price_now_cents = -500
    bad.save()
    stored = Deal.objects.filter(pk=deal.pk).values().get()

    response = editor_client.post(revert_url(deal, bad), form_data(editor_client, revert_url(deal, bad)))

    assert response.status_code == 200
    assert "Price now must be more than $0." in str(response.context["adminform"].form.errors)
    assert Deal.objects.filter(pk=deal.pk).values().get() == stored


def test_staff_who_may_only_view_cannot_revert(client, django_user_model):
    deal = make_deal(title="Original title")
    original = deal.history.latest()
    deal.title = "Edited"
    services.save_staff_edit(deal, user=None)
    client.force_login(staff_user(django_user_model, "viewer", "view_deal"))

    assert client.get(revert_url(deal, original)).status_code == 200
    response = client.post(revert_url(deal, original), {"title": "Original title", "_save": "Save"})

    assert response.status_code == 403
    assert Deal.objects.get(pk=deal.pk).title == "Edited"


# --- the re-fetch action -------------------------------------------------------------------


@pytest.fixture(params=["fake_redis", "real_redis"])
def rq_connection(request, monkeypatch):
    """The job queue's Redis: fakeredis, and a real one (``REDIS_URL`` or a private server)."""
    if request.param == "fake_redis":
        connection = request.getfixturevalue("fake_redis")
    else:
        request.getfixturevalue("real_redis")
        connection = redis.Redis.from_url(request.getfixturevalue("redis_url"))
    monkeypatch.setattr(jobs, "_connection", lambda: connection)
    return connection


def test_refetch_marks_top_priority_cache_ignoring_candidates_and_queues_a_backfill(
    admin_client, rq_connection
):
    first, second, untouched = make_deal("0000000001"), make_deal("0000000002"), make_deal("0000000003")
    Candidate.objects.create(
        asin=first.asin,
        status=Candidate.Status.DONE,
        attempts=2,
        feed_last_update=first.fetched_at - timedelta(days=1),  # the routine refresh would skip it
    )
    Candidate.objects.create(asin="0000000009", priority=5)

    response = admin_client.post(
        CHANGELIST, {"action": "refetch_from_keepa", "_selected_action": [first.pk, second.pk]}, follow=True
    )

    assert response.status_code == 200
    assert "2 ASIN(s) queued for a fresh fetch from Keepa" in response.content.decode()
    top = Candidate.objects.order_by("-priority", "due_at")[:2]
    assert {c.asin for c in top} == {first.asin, second.asin}
    for candidate in top:
        assert candidate.status == Candidate.Status.PENDING
        assert candidate.source == Candidate.Source.STAFF
        assert candidate.due_at <= timezone.now()
        assert (candidate.attempts, candidate.claimed_until) == (0, None)
        assert not backfill.unchanged_since_fetch(candidate, timezone.now()), "the cache is ignored"
    assert not Candidate.objects.filter(asin=untouched.asin).exists()

    queue = Queue(jobs.QUEUE_NAME, connection=rq_connection)
    (job_id,) = queue.get_job_ids()
    assert queue.fetch_job(job_id).func_name == "deals.jobs.backfill_job"
    assert rq_connection.get("dealsite:chain:backfill").decode() == job_id


def test_refetch_with_the_queue_unreachable_still_marks_the_deals_and_says_so(admin_client, monkeypatch):
    deal = make_deal()
    # Refused at once: redis-py's default retries would take seconds to say the same.
    down = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))
    monkeypatch.setattr(jobs, "_connection", lambda: down)

    response = admin_client.post(
        CHANGELIST, {"action": "refetch_from_keepa", "_selected_action": [deal.pk]}, follow=True
    )

    assert response.status_code == 200
    assert "the job queue is unreachable" in response.content.decode()
    assert Candidate.objects.get(asin=deal.asin).source == Candidate.Source.STAFF


def test_verify_now_queues_a_job_for_exactly_those_deals_and_says_it_costs_tokens(
    admin_client, rq_connection
):
    first, second = make_deal("0000000001", verified=False), make_deal("0000000002", verified=False)

    response = admin_client.post(
        CHANGELIST, {"action": "verify_now", "_selected_action": [first.pk, second.pk]}, follow=True
    )

    assert "2 deal(s) queued for verification against live offers: about 12 tokens" in (
        response.content.decode()
    )
    queue = Queue(jobs.QUEUE_NAME, connection=rq_connection)
    (job_id,) = queue.get_job_ids()
    job = queue.fetch_job(job_id)
    assert job.func_name == "deals.jobs.verify_job"
    assert sorted(job.args[0]) == [first.asin, second.asin]


def test_the_verification_is_shown_read_only_with_its_history(admin_client):
    deal = make_deal()
    html = admin_client.get(change_url(deal)).content.decode()
    assert "Live offer (read-only" in html and "Test Books" in html and "$10.00" in html
    for field in ("buy_price_cents", "seller_name", "seller_score", "verification", "verified_at"):
        assert f'name="{field}"' not in html
    history = admin_client.get(history_url(deal)).content.decode()
    assert "verified" in history


# --- who may do what -----------------------------------------------------------------------


def test_deals_cannot_be_added_or_deleted_from_the_admin(admin_client):
    deal = make_deal()
    assert admin_client.get(reverse("admin:deals_deal_add")).status_code == 403
    assert admin_client.get(reverse("admin:deals_deal_delete", args=[deal.pk])).status_code == 403
    assert (
        admin_client.post(reverse("admin:deals_deal_delete", args=[deal.pk]), {"post": "yes"}).status_code
        == 403
    )
    actions = dict(admin_client.get(CHANGELIST).context["action_form"].fields["action"].choices)
    assert "delete_selected" not in actions and "refetch_from_keepa" in actions
    assert Deal.objects.filter(pk=deal.pk).exists()


@pytest.mark.parametrize("who", ["anonymous", "not staff"])
def test_only_staff_reach_the_admin(client, django_user_model, who):
    deal = make_deal()
    if who == "not staff":
        client.force_login(django_user_model.objects.create_user("customer", password="x", is_staff=False))
    for url in (CHANGELIST, change_url(deal), history_url(deal)):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login")), url
    response = client.post(change_url(deal), {"title": "hacked"})
    assert response.status_code == 302
    assert Deal.objects.get(pk=deal.pk).title == "Book 0000000001"


def test_staff_without_change_permission_can_look_but_not_edit(client, django_user_model):
    deal = make_deal()
    client.force_login(staff_user(django_user_model, "viewer", "view_deal"))

    page = client.get(change_url(deal))
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert client.post(change_url(deal), {"title": "Edited", "_save": "Save"}).status_code == 403
    action_form = client.get(CHANGELIST).context["action_form"]
    assert action_form is None or "refetch_from_keepa" not in dict(action_form.fields["action"].choices)
    client.post(CHANGELIST, {"action": "refetch_from_keepa", "_selected_action": [deal.pk]})
    assert Deal.objects.get(pk=deal.pk).title == "Book 0000000001"
    assert not Candidate.objects.exists()


def test_staff_without_any_deal_permission_are_refused(client, django_user_model):
    deal = make_deal()
    client.force_login(staff_user(django_user_model, "nobody"))
    assert client.get(CHANGELIST).status_code == 403
    assert client.get(change_url(deal)).status_code == 403


# --- the rest of the admin -----------------------------------------------------------------


def test_the_admin_index_links_to_the_job_queues(admin_client):
    html = admin_client.get(reverse("admin:index")).content.decode()
    links = set(re.findall(r'href="(/admin/django[_-]rq/[^"]*)"', html))
    queue_views = [link for link in links if resolve(link).func.__module__.startswith("django_rq")]
    assert queue_views, f"a link to django-rq's queue views among {links}"
    assert resolve("/admin/django-rq/").func.__module__.startswith("django_rq")


def test_the_keepa_key_never_appears_in_admin_pages(admin_client, settings):
    settings.KEEPA_API_KEY = KEEPA_KEY
    deal = make_deal()
    admin_client.post(change_url(deal), form_data(admin_client, change_url(deal), title="Edited"))
    version = deal.history.earliest()
    for url in (
        reverse("admin:index"),
        CHANGELIST,
        change_url(deal),
        history_url(deal),
        revert_url(deal, version),
        reverse("admin:deals_candidate_changelist"),
        reverse("admin:deals_jobrun_changelist"),
        reverse("admin:deals_discoveryselection_changelist"),
    ):
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert KEEPA_KEY not in response.content.decode(), url


def test_the_pipeline_tables_are_registered(admin_client):
    for name in ("candidate", "discoveryselection", "jobrun"):
        assert admin_client.get(reverse(f"admin:deals_{name}_changelist")).status_code == 200


@pytest.mark.parametrize(
    ("selection", "message"),
    [
        ("{not json", "Enter a valid JSON."),
        ('{"priceTypes": [99]}', "priceTypes must hold exactly one price type"),
        ('{"noSuchKey": 1, "priceTypes": [2]}', "unknown selection keys: noSuchKey"),
        ("[1, 2]", "the selection must be a JSON object"),
    ],
)
def test_an_invalid_discovery_selection_is_a_form_error(admin_client, selection, message):
    response = admin_client.post(
        reverse("admin:deals_discoveryselection_add"),
        {"name": "Used books", "active": "on", "selection": selection, "_save": "Save"},
    )
    assert response.status_code == 200
    assert message in str(response.context["adminform"].form.errors["selection"])
    assert not DiscoverySelection.objects.exists()


def test_a_valid_discovery_selection_is_saved_and_audited(admin_client, admin_user):
    response = admin_client.post(
        reverse("admin:deals_discoveryselection_add"),
        {
            "name": "Used books",
            "active": "on",
            "selection": '{"priceTypes": [2], "dateRange": 1}',
            "_save": "Save",
        },
    )
    assert response.status_code == 302
    selection = DiscoverySelection.objects.get()
    assert selection.selection["priceTypes"] == [2]
    assert selection.history.latest().history_user == admin_user
