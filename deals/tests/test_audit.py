"""The admin and the records tell the truth (issue 13), end to end: the pipeline commands
run as a shell runs them and real RQ workers against the Keepa simulator write the deals,
the history and the job records; staff read them through the admin over HTTP, anonymous
callers ask ``/healthz``.

- staff history pages never answer 500, whatever the URL;
- a refresh that moves only timestamps adds no history row; rows name the job that wrote
  them; times are the site's, to the second; long JSON is summarised;
- form errors name a field once, in the form's unit; a suspicious List at is a warning;
- job records count discovery's tokens and say what "processed" counts;
- ``/healthz`` tells anonymous callers ok or not ok, and staff why.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db.models import Sum
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from deals import audit, backlog, jobs, services
from deals.admin import labelled
from deals.history_admin import summarise_json
from deals.keepa.client import KeepaClient
from deals.keepa.errors import KeepaError
from deals.models import Candidate, Deal, DiscoverySelection, JobRun
from deals.tests.factories import make_deal
from deals.tests.test_admin import form_data
from dealsite.tests.support import wait_for
from keepasim.harness import PipelineStack
from keepasim.simulator import KeepaSimulator, SimulatorConfig
from tokens.clock import FakeClock, use_clock
from tokens.services import get_bucket

FAILING_KEY = "audit-key-0123456789abcdef"
HISTORY_ROW_TIME = re.compile(r"<td>(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [A-Z]{3,4})</td>")


def history_page(client, obj) -> str:
    url = reverse(f"admin:deals_{obj._meta.model_name}_history", args=[obj.pk])
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def changed_by(html: str) -> list[str]:
    """The "Changed by" column of a history page, newest row first."""
    cells = re.findall(
        r'<span class="history-actor"[^>]*>([^<]*)</span>|<a href="[^"]*/auth/user/\d+/[^"]*">([^<]*)</a>',
        html,
    )
    return [actor or user for actor, user in cells]


@pytest.fixture
def staff(client, admin_user):
    """An admin over HTTP with DEBUG-off semantics: an exception is a 500 page, not a raise."""
    client.force_login(admin_user)
    client.raise_request_exception = False
    return client


@pytest.fixture
def stack(redis_url, real_redis, require_postgres):
    """The simulator, real ``manage.py`` processes and real workers on one scaled clock."""
    queues = {name: {"URL": redis_url, "DEFAULT_TIMEOUT": 600} for name in ("default", "keepa")}
    pipeline = PipelineStack(
        redis_url=redis_url,
        refill_rate=60,
        products=60,
        verify_policy="every_candidate",
        extra_env={"DEALSITE_DISCOVER_INTERVAL_SECONDS": "86400"},  # one scan, whose pages we count
    )
    with override_settings(RQ_QUEUES=queues, REDIS_URL=redis_url), pipeline:
        yield pipeline


# --- history pages never 500 ----------------------------------------------------------------


@pytest.mark.django_db
def test_history_pages_answer_for_every_url_staff_can_type(staff):
    deal = make_deal()
    selection = DiscoverySelection.objects.create(name="Used books", selection={"priceTypes": [2]})
    for obj in (deal, selection):
        base = f"/admin/deals/{obj._meta.model_name}"
        version = obj.history.latest().history_id

        from_change_page = staff.get(f"{base}/{obj.pk}/change/history/")
        assert from_change_page.status_code == 302, "the change page's address plus history/"
        assert from_change_page["Location"] == f"{base}/{obj.pk}/history/"
        assert staff.get(f"{base}/{obj.pk}/change/history/", follow=True).status_code == 200
        assert staff.get(f"{base}/{obj.pk}/change/history/{version}/").status_code in (200, 302)
        assert staff.get(f"{base}/{obj.pk}/history/{version}/").status_code == 200

        for bad in (
            f"{base}/not-a-number/history/",
            f"{base}/{obj.pk}/edit/history/",
            f"{base}/999999/history/",
            f"{base}/{obj.pk}/history/not-a-version/",
        ):
            assert staff.get(bad).status_code == 404, bad


# --- the history, written by the pipeline as deployed ----------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_the_history_the_commands_write_names_its_jobs_and_skips_timestamp_only_refreshes(
    stack, client, admin_user, settings
):
    asins = [p.asin for p in stack.simulator.catalogue if p.kind == "ordinary"][:8]
    Candidate.objects.bulk_create([Candidate(asin=asin) for asin in asins])
    assert "processed=" in stack.manage("backfill").stdout
    written = {d.asin: d for d in Deal.objects.filter(asin__in=asins)}
    assert written, "the backfill wrote deals"
    rows_before = {asin: d.history.count() for asin, d in written.items()}
    fetched_before = {asin: d.fetched_at for asin, d in written.items()}

    backlog.request_refetch(list(written), now=timezone.now())  # staff's "re-fetch now"
    stack.manage("backfill")

    only_times = 0
    for asin, deal in written.items():
        deal.refresh_from_db()
        assert deal.fetched_at > fetched_before[asin], "every deal was fetched again"
        new_rows = list(deal.history.all()[: deal.history.count() - rows_before[asin]])
        if not new_rows:
            only_times += 1
        for row in new_rows:
            moved = row.diff_against(row.prev_record).changed_fields
            was, now = ({name: getattr(r, name) for name in moved} for r in (row.prev_record, row))
            assert not audit.only_timestamps(was, now), f"{asin}: a row for timestamps only: {moved}"
    assert only_times, "some refresh moved only timestamps, and wrote no row"

    # An incomplete deal the repair command fixes: its row names "repair".
    broken = next(iter(written))
    services.mark_incomplete(Deal.objects.get(asin=broken), "no used price now")
    Deal.objects.filter(asin=broken).update(next_repair_at=None)
    stack.manage("repair")

    settings.TIME_ZONE = "America/New_York"
    client.force_login(admin_user)
    writers = set()
    for deal in Deal.objects.filter(asin__in=asins):
        html = history_page(client, deal)
        writers.update(changed_by(html))
        assert "None" not in changed_by(html)
        times = HISTORY_ROW_TIME.findall(html)
        assert times and all(t.endswith(("EST", "EDT")) for t in times), "the site's time zone"
        assert not re.search(r"\d\d:\d\d:\d\d\.\d+", html), "no microseconds anywhere"
    assert {"backfill", "verification", "repair"} <= writers, writers


@pytest.mark.django_db
def test_staff_rows_name_the_user_and_unattributed_rows_say_so(staff, admin_user):
    deal = make_deal()  # written outside any pass
    staff.post(
        reverse("admin:deals_deal_change", args=[deal.pk]),
        form_data(staff, reverse("admin:deals_deal_change", args=[deal.pk]), title="Renamed"),
    )
    with audit.acting_as("backfill"):
        services.upsert_deal(asin=deal.asin, reason="backfill", title="From Keepa")

    assert changed_by(history_page(staff, deal)) == [
        "backfill",
        admin_user.username,
        "unrecorded",
        "unrecorded",
    ]


@pytest.mark.django_db
def test_long_json_is_summarised_in_the_history(staff, admin_user):
    history = [[1_700_000_000 + day * 86_400, 1000 + day] for day in range(200)]
    deal = make_deal(used_price_history=history)
    services.upsert_deal(
        asin=deal.asin, reason="backfill", used_price_history=[*history, [1_800_000_000, 999]]
    )
    html = history_page(staff, deal)
    assert "Used price history:</strong>" in html
    assert "200 entries, the last [1717193600, 1199]" in html
    assert "201 entries, the last [1800000000, 999]" in html
    assert "1700086400" not in html, "not the whole list"

    long_selection = {
        "priceTypes": [2],
        "deltaPercentRange": [20, 100],
        "includeCategories": list(range(1, 41)),
    }
    selection = DiscoverySelection.objects.create(name="Many categories", selection=long_selection)
    selection.selection = {**long_selection, "deltaPercentRange": [30, 100]}
    selection.save()
    html = history_page(staff, selection)
    assert "{&quot;deltaPercentRange&quot;: [20, 100]}" in html, "only the key that changed"
    assert "{&quot;deltaPercentRange&quot;: [30, 100]}" in html


def test_json_summaries_say_what_changed_in_a_line():
    assert summarise_json([1, 2], [1, 2, 3]) == ("[1, 2]", "[1, 2, 3]"), "short JSON as it is"
    old, new = summarise_json(list(range(100)), list(range(101)))
    assert (old, new) == ("100 entries, the last 99", "101 entries, the last 100")
    assert summarise_json({"a": 1, "b": [0] * 50}, {"a": 2, "b": [0] * 50}) == ('{"a": 1}', '{"a": 2}')


# --- error messages and flags ------------------------------------------------------------------


@pytest.mark.django_db
def test_a_broken_computed_amount_is_named_once_in_dollars(staff):
    deal = make_deal()
    url = reverse("admin:deals_deal_change", args=[deal.pk])

    response = staff.post(url, form_data(staff, url, referral_percent="-50"))

    form = response.context["adminform"].form
    messages = [str(m) for errors in form.errors.values() for m in errors]
    assert "Amazon fees must not be negative." in messages
    for message in messages:
        assert "¢" not in message, message
        assert message.lower().count("amazon fees") <= 1, message


@pytest.mark.django_db
def test_a_computed_field_error_from_the_model_gets_one_dollar_label(staff):
    deal = make_deal()
    url = reverse("admin:deals_deal_change", args=[deal.pk])

    response = staff.post(
        url, form_data(staff, url, price_now_cents="0.01", list_at_override_cents="99999999.99")
    )

    form = response.context["adminform"].form
    assert response.status_code == 200
    assert any(m.startswith("ROI %: ") for m in form.non_field_errors()), form.errors
    assert "¢" not in str(form.errors)


def test_an_error_about_a_computed_amount_names_it_once_without_cents():
    assert labelled("amazon_fees_cents", "Amazon fees (¢) must not be negative") == (
        "Amazon fees must not be negative"
    )
    assert (
        labelled("amazon_fees_cents", "Amazon fees must not be negative.")
        == "Amazon fees must not be negative."
    )
    assert (
        labelled("all_in_cost_cents", "Ensure this value is valid.")
        == "All-in cost ($): Ensure this value is valid."
    )
    assert labelled("roi_percent", "Ensure that there are no more than 10 digits in total.") == (
        "ROI %: Ensure that there are no more than 10 digits in total."
    )


@pytest.mark.django_db
def test_a_suspicious_list_at_shows_a_warning_not_a_green_check(staff):
    suspicious = make_deal(list_at_suspicious=True)
    fine = make_deal("0000000002")

    html = staff.get(reverse("admin:deals_deal_change", args=[suspicious.pk])).content.decode()
    assert "icon-alert.svg" in html and "Suspicious: List at is over 3x the used price now." in html
    assert "icon-yes.svg" not in html

    html = staff.get(reverse("admin:deals_deal_change", args=[fine.pk])).content.decode()
    assert "Not suspicious" in html and "icon-alert.svg" not in html


# --- job records ------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_job_records_count_discoverys_tokens_and_say_what_processed_counts(stack, client, admin_user):
    stack.start_worker()
    jobs.ensure_scheduled("discover")
    run = wait_for(
        lambda: JobRun.objects.filter(kind="discover").exclude(outcome="running").first(),
        timeout=60,
        message="a discover run",
    )
    pages = stack.simulator.stats.calls["deal"]
    assert run.outcome == JobRun.Outcome.OK, run.detail
    assert pages >= 1 and run.tokens_consumed == 5 * pages, "what the deal pages cost"
    assert run.processed == Candidate.objects.count() > 0

    jobs.ensure_scheduled("backfill")
    wait_for(
        lambda: JobRun.objects.filter(kind="backfill", outcome="ok", processed__gt=0).exists(),
        timeout=60,
        message="a backfill run that wrote deals",
    )
    written = JobRun.objects.filter(kind="backfill").aggregate(n=Sum("processed"))["n"]

    client.force_login(admin_user)
    html = client.get(reverse("admin:deals_jobrun_changelist")).content.decode()
    assert f"{run.processed} candidates queued" in html
    assert "deals written" in html
    assert written >= Deal.objects.count() > 0


@pytest.mark.django_db
def test_a_discover_run_that_fails_mid_scan_still_records_what_its_pages_cost(
    settings, redis_url, real_redis, monkeypatch
):
    """A page is bought and its candidates committed; then Keepa fails for good."""
    clock = FakeClock(timezone.now().timestamp())
    with (
        KeepaSimulator(SimulatorConfig(keys={FAILING_KEY: 20}, clock=clock, products=400)) as sim,
        use_clock(clock),
    ):
        settings.REDIS_URL, settings.KEEPA_API_KEY, settings.KEEPA_BASE_URL = (
            redis_url,
            FAILING_KEY,
            sim.base_url,
        )
        KeepaClient.from_settings(bucket=get_bucket()).token_status()  # the plan: a scan of pages
        respond = sim.respond

        def fail_after_the_next_page(method, path, query, body):
            reply = respond(method, path, query, body)
            if path.strip("/") == "deal":
                sim.set_faults(error_rate=1.0)
            return reply

        monkeypatch.setattr(sim, "respond", fail_after_the_next_page)
        with pytest.raises(KeepaError):
            jobs.discover_job()

    run = JobRun.objects.get(kind=JobRun.Kind.DISCOVER)
    assert run.outcome == JobRun.Outcome.FAILED and "TransientError" in run.detail
    assert run.tokens_consumed == 5, "the page bought before the failure"
    assert run.processed == Candidate.objects.count() > 0
    assert FAILING_KEY not in run.detail


# --- /healthz ---------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("redis_up", [True, False])
def test_healthz_tells_anonymous_callers_only_ok_or_not(client, admin_client, settings, redis_url, redis_up):
    settings.REDIS_URL = redis_url if redis_up else "redis://127.0.0.1:1/0"
    client.raise_request_exception = False

    response = client.get("/healthz")

    assert response.status_code == (200 if redis_up else 503)
    assert response.json() == {"status": "ok" if redis_up else "fail"}
    assert "127.0.0.1" not in response.content.decode() and ":1" not in response.content.decode()

    for_staff = admin_client.get("/healthz").json()
    assert set(for_staff["checks"]) == {"database", "redis"}, "staff are told why"


def test_only_bookkeeping_times_and_the_sparklines_moving_start_are_timestamps():
    """The times every fetch or check moves, and the sparkline's first point (a year before
    the fetch) are bookkeeping; a price, a repair's schedule or an expiry is news."""
    now, later = timezone.now(), timezone.now() + timedelta(minutes=5)
    sparkline = [[1_700_000_000, 2500], [1_710_000_000, 1000]]
    before = {"fetched_at": now, "used_price_history": sparkline, "next_repair_at": None}
    assert audit.only_timestamps(before, {**before, "fetched_at": later})
    moved_start = [[1_700_000_300, 2500], [1_710_000_000, 1000]]
    assert audit.only_timestamps(before, {**before, "fetched_at": later, "used_price_history": moved_start})
    new_price = [*sparkline, [1_720_000_000, 900]]
    assert not audit.only_timestamps(before, {**before, "used_price_history": new_price})
    assert not audit.only_timestamps(before, {**before, "fetched_at": later, "next_repair_at": later})
    assert not audit.only_timestamps(before, before), "no change at all is not a refresh"
