"""The operator's controls: commands, API and admin, over the real bucket in real Redis."""

from __future__ import annotations

import contextlib
import json
from io import StringIO

import pytest
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from dealsite.tests.support import make_seller
from tokens.clock import FakeClock, set_clock
from tokens.interface import Grant
from tokens.models import RechargeEvent
from tokens.services import get_bucket
from tokens.tests.helpers import START, reading

pytestmark = pytest.mark.django_db

JSON_FIELDS = {
    "tokens",
    "capacity",
    "refill_rate",
    "recharge_active",
    "recharge_threshold",
    "recharge_eta_seconds",
    "last_reading_age_seconds",
}


@pytest.fixture
def clock():
    fake = FakeClock(START)
    set_clock(fake)
    yield fake
    set_clock(None)


@pytest.fixture
def bucket(settings, redis_url, real_redis, clock):
    settings.REDIS_URL = redis_url
    settings.KEEPA_API_KEY = "control-test-key"
    settings.TOKENS = {**settings.TOKENS, "AUTO_RECHARGE": False, "RECHARGE_THRESHOLD": 280}
    return get_bucket()


@pytest.fixture
def redis_down(settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"


def teach(bucket, clock, left, rate=5):
    grant = bucket.reserve(1)
    assert isinstance(grant, Grant)
    bucket.settle(grant, reading(clock, left, rate=rate))


def run(*args):
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


# --- bucket_status ---------------------------------------------------------------------


def test_bucket_status_json_has_the_operator_fields_and_exit_0_when_healthy(bucket, clock):
    teach(bucket, clock, 120)
    data = json.loads(run("bucket_status", "--json"))
    assert data.keys() >= JSON_FIELDS
    assert (data["tokens"], data["capacity"], data["refill_rate"]) == (120, 300, 5)
    assert data["healthy"] is True and data["recharge_active"] is False


def test_bucket_status_text_shows_the_recharge_progress_and_eta(bucket, clock):
    teach(bucket, clock, 140)
    bucket.start_recharge("deploy", "deploy")
    text = run("bucket_status")
    assert "140 / 300" in text and "5/min" in text
    assert "[###############---------------]  50%" in text
    assert "ETA 28 min" in text and "deploy" in text


@pytest.mark.parametrize(
    ("setup", "problem"),
    [
        ("unknown", "no Keepa reading yet"),
        ("stale", "stale"),
        ("fatal", "fatal Keepa error"),
    ],
)
def test_bucket_status_exits_1_when_unhealthy(bucket, clock, setup, problem):
    if setup != "unknown":
        teach(bucket, clock, 100)
    if setup == "stale":
        clock.advance(3 * 3600)
    if setup == "fatal":
        bucket.pause_fatal("Keepa answered 402")
    with pytest.raises(CommandError, match=problem) as failure:
        run("bucket_status", "--json")
    assert failure.value.returncode == 1


def test_bucket_status_shows_a_402_as_what_it_is_not_as_a_429(bucket, clock):
    teach(bucket, clock, 50)
    grant = bucket.reserve(1)
    bucket.settle(grant, reading(clock, 0, rate=0, consumed=0), status=402)
    text = _status_text()
    assert "last refusal  402 payment required" in text
    assert "429" not in text
    data = json.loads(_status_json())
    assert data["last_refusal_status"] == 402 and data["last_429_at"] is None


def test_bucket_status_says_what_it_saw_of_a_clock_an_hour_ahead(bucket, clock):
    ahead = get_bucket(clock=FakeClock(clock.time() + 3600))
    teach(ahead, ahead.clock, 0)
    bucket.settle(None, reading(clock, 300, consumed=0))
    text = _status_text()
    assert "tokens        300 / 300" in text
    assert "clock skew    the held Keepa reading was stamped ahead of Keepa's own time" in text
    assert "off by 60 min 00 s" in text


def _status_text(*options: str) -> str:
    """``bucket_status`` output whatever its exit code (unhealthy states exit 1)."""
    out = StringIO()
    with contextlib.suppress(CommandError):
        call_command("bucket_status", *options, stdout=out, stderr=StringIO())
    return out.getvalue()


def _status_json() -> str:
    return _status_text("--json")


def test_bucket_status_exits_2_when_redis_is_unreachable(redis_down):
    with pytest.raises(CommandError, match="Redis is unreachable") as failure:
        run("bucket_status")
    assert failure.value.returncode == 2


def test_bucket_status_rejects_a_nonsense_staleness_limit(bucket):
    with pytest.raises(CommandError, match="stale-after"):
        run("bucket_status", "--stale-after", "-5")


# --- force_pause -----------------------------------------------------------------------


def test_force_pause_turns_recharge_on_and_release_ends_it_both_audited(bucket, clock):
    teach(bucket, clock, 50)
    assert "state: recharging" in run("force_pause", "--reason", "deploy 42", "--actor", "deploy")
    assert bucket.status().recharge_active
    assert "state: active" in run("force_pause", "--release")
    events = list(RechargeEvent.objects.order_by("id").values_list("action", "actor", "reason", "new_state"))
    assert events == [
        ("recharge_on", "deploy", "deploy 42", "recharging"),
        ("recharge_off", "command", "released by operator", "active"),
    ]


def test_force_pause_clear_fatal_lifts_a_402_pause(bucket, clock):
    teach(bucket, clock, 50)
    bucket.pause_fatal("Keepa answered 402")
    assert "state: active" in run("force_pause", "--clear-fatal", "--reason", "key renewed")
    assert RechargeEvent.objects.filter(action="fatal_pause", actor="automatic").exists()
    assert RechargeEvent.objects.filter(action="fatal_release", reason="key renewed").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--reason", "x" * 201], "longer than 200"),
        (["--release", "--clear-fatal"], "not allowed with"),
        (["--actor", "admin"], "invalid choice"),
    ],
)
def test_force_pause_rejects_bad_input_clearly(bucket, args, message):
    with pytest.raises(CommandError, match=message):
        run("force_pause", *args)
    assert not RechargeEvent.objects.exists()


def test_force_pause_exits_2_when_redis_is_unreachable(redis_down):
    with pytest.raises(CommandError) as failure:
        run("force_pause")
    assert failure.value.returncode == 2


def test_automatic_recharges_are_audited(settings, bucket, clock):
    settings.TOKENS = {**settings.TOKENS, "AUTO_RECHARGE": True}
    automatic = get_bucket()
    teach(automatic, clock, 10)
    assert automatic.reserve(1).reason == "recharging"
    event = RechargeEvent.objects.get()
    assert (event.action, event.actor, event.user, event.tokens) == ("recharge_on", "automatic", None, 10)
    assert event.created_at == clock.now(), "stamped by the bucket's clock, like the job that caused it"


# --- API -------------------------------------------------------------------------------


@pytest.fixture
def user(django_user_model):
    return make_seller(django_user_model, "buyer")


@pytest.fixture
def operator(django_user_model):
    person = django_user_model.objects.create_user("operator", password="pw", is_staff=True)
    person.user_permissions.add(Permission.objects.get(codename="toggle_recharge"))
    return person


def api(person=None):
    client = APIClient()
    if person is not None:
        client.force_authenticate(person)
    return client


def test_the_status_api_needs_a_signed_in_user(bucket):
    assert api().get("/api/tokens/status/").status_code in (401, 403)


def test_the_status_api_returns_the_same_fields_as_the_command(bucket, clock, user):
    teach(bucket, clock, 77)
    response = api(user).get("/api/tokens/status/")
    assert response.status_code == 200
    assert response.json().keys() >= JSON_FIELDS
    assert response.json()["tokens"] == 77 and response.json()["state"] == "active"


def test_toggling_recharge_by_api_needs_the_permission(bucket, user):
    response = api(user).post("/api/tokens/recharge/", {"active": True, "reason": "x"}, format="json")
    assert response.status_code == 403
    assert not RechargeEvent.objects.exists()


def test_toggling_recharge_by_api_is_audited_with_the_user(bucket, clock, operator):
    teach(bucket, clock, 77)
    body = {"active": True, "reason": "plan upgrade"}
    on = api(operator).post("/api/tokens/recharge/", body, format="json")
    assert on.status_code == 200 and on.json()["recharge_active"] is True
    off = api(operator).post("/api/tokens/recharge/", {"active": False, "reason": "done"}, format="json")
    assert off.json()["recharge_active"] is False
    events = RechargeEvent.objects.order_by("id")
    assert [(e.action, e.actor, e.user, e.reason) for e in events] == [
        ("recharge_on", "api", operator, "plan upgrade"),
        ("recharge_off", "api", operator, "done"),
    ]


def test_releasing_by_api_when_nothing_recharges_says_so_and_writes_no_audit_row(bucket, operator):
    off = api(operator).post("/api/tokens/recharge/", {"active": False, "reason": "done"}, format="json")
    assert off.status_code == 200
    assert off.json()["detail"] == "not recharging, nothing to release"
    assert off.json()["recharge_active"] is False
    assert not RechargeEvent.objects.exists()
    on = api(operator).post("/api/tokens/recharge/", {"active": True, "reason": "deploy"}, format="json")
    assert "detail" not in on.json(), "a change needs no explanation"


@pytest.mark.parametrize(
    "body",
    [{}, {"active": "maybe", "reason": "x"}, {"active": True}, {"active": True, "reason": "x" * 201}, []],
)
def test_a_bad_recharge_body_is_a_400(bucket, operator, body):
    response = api(operator).post("/api/tokens/recharge/", body, format="json")
    assert response.status_code == 400
    assert not RechargeEvent.objects.exists()


def test_the_api_answers_503_when_redis_is_unreachable(redis_down, operator):
    assert api(operator).get("/api/tokens/status/").status_code == 503
    body = {"active": True, "reason": "x"}
    assert api(operator).post("/api/tokens/recharge/", body, format="json").status_code == 503


def test_the_openapi_schema_documents_the_token_endpoints(user):
    response = api(user).get("/api/schema/", {"format": "json"})
    paths = json.loads(response.content)["paths"]
    assert "/api/tokens/status/" in paths and "/api/tokens/recharge/" in paths
    assert "recharge_eta_seconds" in json.dumps(response.content.decode())


# --- admin -----------------------------------------------------------------------------

CHANGELIST = "/admin/tokens/rechargeevent/"
TOGGLE = "/admin/tokens/rechargeevent/toggle/"


@pytest.fixture
def staff(django_user_model):
    person = django_user_model.objects.create_user("staff", password="pw", is_staff=True)
    person.user_permissions.add(Permission.objects.get(codename="view_rechargeevent"))
    return person


def test_staff_see_the_status_panel_and_the_log_but_no_toggle_without_the_permission(
    bucket, clock, staff, client
):
    teach(bucket, clock, 120)
    client.force_login(staff)
    page = client.get(CHANGELIST).content.decode()
    assert 'id="bucket-panel"' in page and "120 / 300" in page
    assert 'id="recharge-toggle"' not in page
    assert client.post(TOGGLE, {"active": "on", "reason": "x"}).status_code == 403
    assert not bucket.status().recharge_active


def test_the_admin_toggle_is_audited_with_the_staff_user(bucket, clock, staff, client):
    staff.user_permissions.add(Permission.objects.get(codename="toggle_recharge"))
    teach(bucket, clock, 120)
    client.force_login(staff)
    assert 'id="recharge-toggle"' in client.get(CHANGELIST).content.decode()
    response = client.post(TOGGLE, {"active": "on", "reason": "big backfill tonight"})
    assert response.status_code == 302
    assert bucket.status().recharge_active
    event = RechargeEvent.objects.get()
    assert (event.actor, event.user, event.reason) == ("admin", staff, "big backfill tonight")
    page = client.get(CHANGELIST).content.decode()
    assert "End recharge now" in page and "big backfill tonight" in page


@pytest.mark.parametrize("form", [{"active": "on", "reason": ""}, {"active": "sideways", "reason": "x"}, {}])
def test_the_admin_toggle_refuses_bad_input_without_changing_anything(bucket, clock, staff, client, form):
    staff.user_permissions.add(Permission.objects.get(codename="toggle_recharge"))
    client.force_login(staff)
    response = client.post(TOGGLE, form, follow=True)
    assert response.status_code == 200
    assert not RechargeEvent.objects.exists()
    assert not bucket.status().recharge_active


def test_the_admin_panel_survives_redis_being_down(redis_down, staff, client):
    client.force_login(staff)
    page = client.get(CHANGELIST)
    assert page.status_code == 200 and "unreachable" in page.content.decode()
