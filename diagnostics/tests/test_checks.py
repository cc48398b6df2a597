"""Diagnostics as specifications: the pure classifiers table-style, then the command and
/healthz against the real database, a real Redis and the Keepa simulator."""

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from rq import Queue, Worker
from rq.defaults import DEFAULT_WORKER_TTL
from rq.utils import utcformat

from deals.models import Candidate, Deal, JobRun
from diagnostics.checks import (
    WORKER_HEARTBEAT_MARGIN_SECONDS,
    Status,
    backlog_result,
    bucket_result,
    check_workers,
    classify_progress,
    clock_result,
    deals_result,
    heartbeat_max_age,
    last_runs_result,
    memory_result,
    queues_result,
    run_check,
    workers_result,
)
from keepasim.simulator import KeepaSimulator, SimulatorConfig
from tokens.bucket import BucketStatus
from tokens.clock import FakeClock, use_clock
from tokens.services import get_bucket, get_ledger
from tokens.tests.helpers import reading

KEY = "k3y-DIAGNOSE-0123456789abcdef"
NOW = 1_800_000_000.0

BUCKET = BucketStatus(
    known=True,
    tokens=200,
    capacity=300,
    refill_rate=5,
    next_refill_seconds=30.0,
    recharge_active=False,
    recharge_threshold=280,
    recharge_started_at=None,
    recharge_deadline_at=None,
    recharge_reason="",
    recharge_actor="",
    recharge_eta_seconds=None,
    reservations_in_flight=0,
    in_flight_tokens=0,
    last_reading_age_seconds=20.0,
    last_429_at=None,
    fatal_reason="",
    now=NOW,
)
RECHARGING = replace(
    BUCKET, tokens=40, recharge_active=True, recharge_eta_seconds=2880.0, recharge_reason="deploy"
)
EMPTY = replace(BUCKET, tokens=3, in_flight_tokens=3)
PAUSED = replace(BUCKET, fatal_reason="402: payment required")
UNKNOWN = replace(BUCKET, known=False, tokens=0, last_reading_age_seconds=None)


# --- waiting vs stalled --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bucket", "due", "last_progress_ago", "status", "state", "words"),
    [
        (RECHARGING, 50, 3600, Status.OK, "waiting", "recharging to 280 tokens, ETA 48 min 00 s"),
        (EMPTY, 50, 3600, Status.OK, "waiting", "out of tokens, next refill in 30 s"),
        (BUCKET, 0, None, Status.OK, "idle", "nothing is due"),
        (BUCKET, 50, 60, Status.OK, "progressing", "50 due"),
        (BUCKET, 50, 180, Status.OK, "progressing", "last progress 3 min 00 s ago"),
        (BUCKET, 50, 181, Status.FAIL, "stalled", "50 due and 200 tokens available"),
        (BUCKET, 50, None, Status.FAIL, "stalled", "no job progressed ever"),
        (UNKNOWN, 5, None, Status.FAIL, "stalled", "unknown tokens"),
        (None, 5, 7200, Status.FAIL, "stalled", "for 2 h 00 min"),
        (PAUSED, 50, 10, Status.FAIL, "paused", "402: payment required"),
        (replace(RECHARGING, fatal_reason="bad key"), 0, None, Status.FAIL, "paused", "bad key"),
    ],
)
def test_waiting_is_told_apart_from_stalled(bucket, due, last_progress_ago, status, state, words):
    last = None if last_progress_ago is None else NOW - last_progress_ago
    result = classify_progress(bucket=bucket, due_backlog=due, last_progress_at=last, now=NOW)
    assert (result.status, result.data["state"]) == (status, state)
    assert words in result.explanation


def test_stall_window_is_configurable():
    result = classify_progress(
        bucket=BUCKET, due_backlog=1, last_progress_at=NOW - 100, now=NOW, stall_after_seconds=60
    )
    assert result.data["state"] == "stalled"


# --- the other classifiers -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bucket", "status", "words"),
    [
        (BUCKET, Status.OK, "active: 200/300 tokens at 5/min"),
        (RECHARGING, Status.OK, "recharging: 40/300 tokens at 5/min, to 280, ETA 48 min 00 s"),
        (PAUSED, Status.FAIL, "paused: 402"),
        (UNKNOWN, Status.WARN, "no Keepa reading yet"),
        (replace(BUCKET, last_reading_age_seconds=4000.0), Status.WARN, "last reading 66 min 40 s old"),
    ],
)
def test_bucket_result(bucket, status, words):
    result = bucket_result(bucket)
    assert result.status == status
    assert words in result.explanation
    assert result.data["capacity"] == 300


def test_workers_need_a_recent_heartbeat():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    fresh, old = now - timedelta(seconds=30), now - timedelta(minutes=10)
    assert workers_result([], now=now).status == Status.FAIL
    assert workers_result([("a", old, None), ("b", None, None)], now=now).status == Status.FAIL
    mixed = workers_result([("a", fresh, None), ("b", old, None)], now=now)
    assert (mixed.status, mixed.data) == (Status.WARN, {"alive": ["a"], "stale": ["b"], "no_database": {}})
    assert workers_result([("a", fresh, None)], now=now).status == Status.OK


def test_a_worker_that_cannot_reach_the_database_is_named_and_not_counted_as_working():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    fresh = now - timedelta(seconds=5)
    beats = [("good", fresh, None), ("bad", fresh, None)]
    error = {"bad": "OperationalError: connection refused"}
    one_bad = workers_result(beats, now=now, database_errors={**error, "good": ""})
    assert one_bad.status == Status.WARN
    assert "bad cannot reach the database (OperationalError: connection refused)" in one_bad.explanation
    assert one_bad.data["no_database"] == error
    only_bad = workers_result(beats[1:], now=now, database_errors=error)
    assert only_bad.status == Status.FAIL and "no worker can take jobs" in only_bad.explanation


def test_an_idle_worker_is_alive_until_its_ttl_has_passed():
    """Idle rq workers beat once per blocking dequeue (up to their TTL less 15 s), not every
    minute: five idle workers sharing the jobs must not look dead."""
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert heartbeat_max_age() == DEFAULT_WORKER_TTL + WORKER_HEARTBEAT_MARGIN_SECONDS
    assert heartbeat_max_age(600) == 600 + WORKER_HEARTBEAT_MARGIN_SECONDS
    idle = [(f"w{i}", now - timedelta(minutes=5), DEFAULT_WORKER_TTL) for i in range(5)]
    assert workers_result(idle, now=now).status == Status.OK
    gone = now - timedelta(seconds=heartbeat_max_age(DEFAULT_WORKER_TTL) + 1)
    stale = workers_result([*idle, ("gone", gone, DEFAULT_WORKER_TTL)], now=now)
    assert (stale.status, stale.data["stale"]) == (Status.WARN, ["gone"])
    # A worker configured with a longer TTL dequeues longer between beats.
    assert workers_result([("slow", gone, 900)], now=now).status == Status.OK


def test_check_workers_reads_each_workers_last_heartbeat_and_ttl(real_redis):
    worker = _live_worker(real_redis)
    assert check_workers(real_redis).data == {"alive": [worker.name], "stale": [], "no_database": {}}
    beat = datetime.now(UTC) - timedelta(seconds=heartbeat_max_age(worker.worker_ttl) + 5)
    real_redis.hset(worker.key, "last_heartbeat", utcformat(beat))
    assert check_workers(real_redis).data == {"alive": [], "stale": [worker.name], "no_database": {}}


def test_queues_warn_on_failed_jobs():
    assert queues_result({"keepa": (3, 0), "default": (0, 0)}).status == Status.OK
    failed = queues_result({"keepa": (3, 2)})
    assert failed.status == Status.WARN
    assert failed.explanation == "keepa: 3 queued, 2 failed"


def test_deals_and_last_runs():
    assert deals_result(zombies=4, unrepairable=0, displayable=10).status == Status.OK
    assert deals_result(zombies=4, unrepairable=1, displayable=10).status == Status.WARN
    runs = last_runs_result({"discover": NOW - 90, "backfill": None}, now=NOW)
    assert runs.status == Status.WARN
    assert runs.explanation == "last success: discover 90 s ago, backfill never"


GB = 1024**3


@pytest.mark.parametrize(
    "shared_buffers, deals, status, words",
    [
        (None, 0, Status.OK, "not PostgreSQL"),
        (128 * 1024**2, 100 * 1024**2, Status.OK, "shared_buffers 128 MB, deals table 100 MB"),
        (128 * 1024**2, 2 * GB, Status.WARN, "set shared_buffers to at least 4.0 GB"),
        (2 * GB, 2 * GB, Status.WARN, "will be slow"),
        (4 * GB, 2 * GB, Status.OK, "shared_buffers 4.0 GB, deals table 2.0 GB"),
    ],
)
def test_the_memory_check_wants_the_buffer_cache_to_hold_the_deals_table_twice(
    shared_buffers, deals, status, words
):
    result = memory_result(shared_buffers_bytes=shared_buffers, deals_bytes=deals)
    assert result.status == status
    assert words in result.explanation


def test_an_erroring_check_is_a_fail_without_traceback_or_key(settings):
    settings.KEEPA_API_KEY = KEY

    def broken():
        raise RuntimeError(f"GET https://api.keepa.com/token?key={KEY} refused\nTraceback line")

    result = run_check("keepa", broken)
    assert result.status == Status.FAIL
    assert result.explanation.startswith("error: RuntimeError: GET")
    assert KEY not in result.explanation and "Traceback" not in result.explanation


# --- the command and /healthz against real services ----------------------------------------


@pytest.fixture
def services(settings, real_redis, redis_url):
    clock = FakeClock(NOW)
    config = SimulatorConfig(keys={KEY: 5}, clock=clock, products=10)
    with KeepaSimulator(config) as sim, use_clock(clock):
        settings.REDIS_URL = redis_url
        settings.KEEPA_API_KEY = KEY
        settings.KEEPA_BASE_URL = sim.base_url
        yield {"redis": real_redis, "clock": clock}


def _diagnose(*args):
    from io import StringIO

    out = StringIO()
    try:
        call_command("diagnose", "--json", *args, stdout=out)
        failed = None
    except CommandError as exc:
        failed = str(exc)
    return {r["name"]: r for r in json.loads(out.getvalue())}, failed


def _live_worker(connection):
    worker = Worker([Queue("keepa", connection=connection)], connection=connection)
    worker.register_birth()
    worker.heartbeat()
    return worker


@pytest.mark.django_db
def test_diagnose_all_ok_with_a_live_worker_and_keepa(services):
    _live_worker(services["redis"])
    results, failed = _diagnose()
    assert failed is None, results
    assert {name: r["status"] for name, r in results.items()} == {
        "database": "OK",
        "redis": "OK",
        "queues": "OK",
        "workers": "OK",
        "bucket": "OK",
        "clock": "OK",
        "spending": "OK",
        "deals": "OK",
        "db_memory": "OK",
        "backlog": "OK",
        "last_runs": "WARN",
        "progress": "OK",
        "keepa": "OK",
    }
    assert results["keepa"]["data"]["refill_rate"] == 5
    if connection.vendor == "postgresql":
        assert results["db_memory"]["data"]["shared_buffers_bytes"] > 0


@pytest.mark.django_db
def test_diagnose_says_what_the_last_hours_tokens_bought(services):
    get_ledger().record({"statistics": 40, "offers": 18, "sellers": 2})
    results, _failed = _diagnose()
    assert results["spending"]["explanation"] == "last hour: 60 tokens: offers 18, sellers 2, statistics 40"
    assert "active" in results["bucket"]["explanation"]  # the /token reading filled the bucket
    assert KEY not in json.dumps(results)


@pytest.mark.django_db
def test_diagnose_reports_a_stall_and_fails(services):
    _live_worker(services["redis"])
    now = datetime.fromtimestamp(NOW, UTC)
    Candidate.objects.create(asin="0000000001", due_at=now - timedelta(minutes=5))
    JobRun.objects.create(
        kind=JobRun.Kind.BACKFILL,
        outcome=JobRun.Outcome.OK,
        started_at=now - timedelta(minutes=31),
        finished_at=now - timedelta(minutes=30),
    )
    results, failed = _diagnose()
    assert failed == "failed checks: progress"
    assert results["progress"]["data"]["state"] == "stalled"
    assert results["last_runs"]["data"]["backfill"] == 1800.0


@pytest.mark.django_db
def test_diagnose_no_keepa_skips_the_call_and_missing_workers_fail(services):
    results, failed = _diagnose("--no-keepa")
    assert "keepa" not in results
    assert failed == "failed checks: workers"
    assert results["bucket"]["status"] == "WARN"  # no reading yet without the /token call


@pytest.mark.django_db
def test_diagnose_counts_zombies_by_the_one_rule(services):
    _live_worker(services["redis"])
    assert Deal.objects.zombies().count() == 0
    results, _failed = _diagnose("--no-keepa")
    assert results["deals"]["data"] == {"displayable": 0, "zombies": 0, "unrepairable": 0}


@pytest.mark.django_db
def test_healthz_is_200_when_db_and_redis_answer(client, settings, redis_url):
    settings.REDIS_URL = redis_url
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


@pytest.mark.django_db
def test_healthz_is_503_when_redis_is_down_and_tells_staff_why(admin_client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = admin_client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail"
    assert body["checks"]["database"] == "reachable"
    assert body["checks"]["redis"].startswith("error: ConnectionError")


# --- clocks and the backlog's failures (issue 14) -------------------------------------------


@pytest.mark.parametrize(
    ("skew", "status", "words"),
    [
        ({}, Status.OK, "every clock agrees with Keepa's timestamps"),
        (
            {"clock_skew_kind": "reading_ahead", "clock_skew_seconds": 3600.0, "clock_skew_at": NOW - 60},
            Status.WARN,
            "the held Keepa reading was stamped ahead of Keepa's own time; the bucket resynced "
            "from the next real reading (off by 60 min 00 s",
        ),
        (
            {"clock_skew_kind": "caller_ahead", "clock_skew_seconds": 3600.0, "clock_skew_at": NOW - 60},
            Status.WARN,
            "a caller's clock was ahead of Keepa's; that caller corrects it",
        ),
        (  # long ago: the bucket has been fine since
            {"clock_skew_kind": "caller_ahead", "clock_skew_seconds": 3600.0, "clock_skew_at": NOW - 7200},
            Status.OK,
            "every clock agrees",
        ),
    ],
)
def test_the_clock_check_warns_of_a_skew_the_bucket_saw_lately(skew, status, words):
    result = clock_result(replace(BUCKET, **skew), now=NOW)
    assert result.status == status
    assert words in result.explanation


@pytest.mark.parametrize(
    ("counts", "status", "words"),
    [
        ({}, Status.OK, "no candidate failed or backing off"),
        (
            {"failed": 1338, "last_failure": "Keepa rejected the ASIN"},
            Status.WARN,
            "1338 candidates failed for good (latest: Keepa rejected the ASIN); re-queue them with "
            "`backfill --retry-failed`",
        ),
        (
            {
                "backing_off": 40,
                "last_fault": "TransientError: /product answered 500",
                "next_try_seconds": 90.0,
            },
            Status.WARN,
            "40 candidates backing off after Keepa faults (latest: TransientError: /product answered "
            "500), next try in 90 s",
        ),
    ],
)
def test_the_backlog_check_counts_failed_candidates_and_those_backing_off(counts, status, words):
    quiet = {"failed": 0, "last_failure": "", "backing_off": 0, "last_fault": "", "next_try_seconds": None}
    result = backlog_result(**{**quiet, **counts})
    assert result.status == status
    assert words in result.explanation


@pytest.mark.django_db
def test_diagnose_warns_of_failed_candidates_and_of_a_clock_an_hour_ahead(services):
    _live_worker(services["redis"])
    Candidate.objects.create(asin="0000000001", status=Candidate.Status.FAILED, last_error="no product")
    earlier_demo = get_bucket(clock=FakeClock(NOW + 3600))  # its x60 clock ran an hour ahead
    grant = earlier_demo.reserve(1)
    earlier_demo.settle(grant, reading(earlier_demo.clock, 0, rate=5))

    results, _failed = _diagnose()  # its Keepa check's /token reading is Keepa's own time

    assert results["backlog"]["status"] == "WARN"
    assert results["backlog"]["data"]["failed"] == 1
    assert results["clock"]["status"] == "WARN"
    assert "resynced from the next real reading (off by 60 min 00 s" in results["clock"]["explanation"]
    assert results["bucket"]["data"]["tokens"] == 300, "the simulator's full bucket, not the frozen 0"
