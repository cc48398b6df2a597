"""Drills for Keepa fault storms and skewed clocks (issue 14), with real RQ worker processes,
real Redis, the database and the simulator over HTTP.

The workers and the simulator share a scaled clock (x60: a Keepa minute a second; the storm
x120), so a storm of Keepa-hours and a clock an hour off play out in seconds while every part
is the real one.
"""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from deals import jobs
from deals.keepa.client import KeepaClient
from deals.keepa.errors import PaymentRequired
from deals.models import Candidate
from dealsite.tests.support import wait_for
from keepasim.harness import API_KEY, PipelineStack
from keepasim.simulator import KeepaSimulator, SimulatorConfig
from tokens.bucket import RedisTokenBucket, bucket_id_for
from tokens.clock import FakeClock, use_clock
from tokens.interface import Grant, TokenReading
from tokens.services import get_bucket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

HOUR = 3600


@pytest.fixture
def rq_settings(redis_url, real_redis):
    queues = {name: {"URL": redis_url, "DEFAULT_TIMEOUT": 600} for name in ("default", "keepa")}
    with override_settings(RQ_QUEUES=queues, REDIS_URL=redis_url):
        yield redis_url


def seed_candidates(stack: PipelineStack, count: int) -> list[str]:
    asins = [p.asin for p in stack.simulator.catalogue if p.kind == "ordinary"][:count]
    Candidate.objects.bulk_create([Candidate(asin=asin) for asin in asins])
    return asins


def done(asins) -> int:
    return Candidate.objects.filter(asin__in=asins, status=Candidate.Status.DONE).count()


def diagnose(stack: PipelineStack, *options: str) -> dict[str, dict]:
    """``manage.py diagnose --json`` as an operator runs it (it exits 1 when a check fails)."""
    output = stack.manage("diagnose", "--json", *options, check=False).stdout
    return {result["name"]: result for result in json.loads(output)}


def shared_bucket(stack: PipelineStack, redis, clock) -> RedisTokenBucket:
    """The workers' bucket (named by the key), seen through ``clock``."""
    return RedisTokenBucket(redis, bucket_id=bucket_id_for(API_KEY), clock=clock, auto_recharge=False)


def test_a_storm_of_keepa_500s_backs_the_backlog_off_and_fails_no_candidate(rq_settings):
    """Two attempts a candidate and a minute's retry backoff: before, two failed batches moved
    every candidate to FAILED for good. Now 25 Keepa-minutes of 500s cost no attempt, and the
    backlog is fetched once Keepa answers again. At x120 the storm takes 13 s; the backoffs are
    Keepa time and scale with it, and one worker leaves no lease to race."""
    stack = PipelineStack(
        redis_url=rq_settings,
        refill_rate=20,
        time_scale=120,
        products=200,
        extra_env={
            "DEALSITE_MAX_ATTEMPTS": "2",
            "DEALSITE_RETRY_BACKOFF_SECONDS": "60",
            "DEALSITE_TRANSIENT_BACKOFF_MAX_SECONDS": "300",
        },
    )
    with stack:
        stack.simulator.set_faults(error_rate=1.0)
        asins = seed_candidates(stack, 20)
        stack.start_worker()
        jobs.ensure_scheduled("backfill")
        storm_ends = stack.clock.time() + 25 * 60
        wait_for(
            lambda: stack.clock.time() > storm_ends and stack.simulator.stats.statuses[500] >= 12,
            timeout=90,
            message="25 Keepa-minutes of 500s",
        )

        assert not Candidate.objects.filter(status=Candidate.Status.FAILED).exists()
        assert set(Candidate.objects.values_list("attempts", flat=True)) == {0}
        assert Candidate.objects.filter(transient_failures__gt=1).exists(), "each pass backed them off"
        backlog = diagnose(stack, "--no-keepa")["backlog"]
        assert backlog["status"] == "WARN", backlog
        assert "candidates backing off after Keepa faults" in backlog["explanation"]
        assert "answered 500" in backlog["explanation"]

        stack.simulator.set_faults(error_rate=0.0)
        wait_for(lambda: done(asins) == 20, timeout=90, message="the backlog fetched after the storm")
        assert diagnose(stack, "--no-keepa")["backlog"]["status"] == "OK"


def test_a_bucket_left_an_hour_ahead_by_an_earlier_run_resyncs_from_the_first_real_reading(
    rq_settings, real_redis
):
    """The second `make run` on the same Redis: the first run's x60 clock left the bucket's
    reading and time an hour ahead, at a balance of 0. Before, every real reading was thrown
    away as older and nothing was granted for that hour while Keepa held 1,200 tokens."""
    stack = PipelineStack(redis_url=rq_settings, refill_rate=20, time_scale=60, products=200)
    with stack:
        asins = seed_candidates(stack, 20)
        earlier_run = shared_bucket(stack, real_redis, FakeClock(stack.clock.time() + HOUR))
        grant = earlier_run.reserve(1)
        assert isinstance(grant, Grant)
        stamped = int(earlier_run.clock.time() * 1000)
        earlier_run.settle(grant, TokenReading(0, 60_000, 20, stamped, tokens_consumed=1))

        stack.start_worker()
        jobs.ensure_scheduled("backfill")
        wait_for(lambda: done(asins) == 20, timeout=45, message="the backlog fetched within the hour")

        status = shared_bucket(stack, real_redis, stack.clock).status()
        assert status.known and status.clock_skew_kind in ("bucket_ahead", "reading_ahead")
        keepa_balance = stack.simulator.ledger(API_KEY).balance()
        assert abs(status.tokens - keepa_balance) <= 40, "the bucket follows Keepa, not the frozen 0"
        assert stack.simulator.stats.rate_limited == 0
        clock = diagnose(stack)["clock"]
        assert clock["status"] == "WARN" and "resynced from the next real reading" in clock["explanation"]


def test_a_worker_whose_clock_runs_an_hour_ahead_is_corrected_and_freezes_no_one(rq_settings, real_redis):
    """A worker on a host whose clock is an hour ahead: before, its first call moved the
    bucket's time an hour on, freezing every projection there. Keepa's timestamp now shows
    the worker its error, it corrects it, and the bucket keeps Keepa's time."""
    stack = PipelineStack(redis_url=rq_settings, refill_rate=20, time_scale=60, products=200)
    with stack:
        asins = seed_candidates(stack, 30)
        # Scaled time is epoch + (t - epoch) x 60: an epoch 3600/59 s earlier runs an hour ahead.
        stack.extra_env["TOKENS_CLOCK_EPOCH"] = repr(stack.clock.epoch - HOUR / 59)
        stack.start_worker()
        del stack.extra_env["TOKENS_CLOCK_EPOCH"]  # the operator's terminal keeps good time
        jobs.ensure_scheduled("backfill")
        wait_for(lambda: done(asins) == 30, timeout=60, message="the backlog fetched")

        status = shared_bucket(stack, real_redis, stack.clock).status()
        assert abs(status.now - stack.clock.time()) < 60, "the bucket keeps Keepa's time, not the hour ahead"
        assert "correcting it for the token bucket" in stack.worker_logs()
        keepa_balance = stack.simulator.ledger(API_KEY).balance()
        assert abs(status.tokens - keepa_balance) <= 40, "and projects Keepa's balance"
        assert stack.simulator.stats.rate_limited == 0
        clock = diagnose(stack)["clock"]
        assert clock["status"] == "WARN" and "a caller's clock was ahead of Keepa's" in clock["explanation"]


def test_a_402_from_keepa_shows_in_bucket_status_as_a_402_never_as_a_429(settings, rq_settings):
    """An expired key: Keepa answers 402 with a token envelope of 0 left and nothing charged,
    which the bucket used to file as a 429."""
    clock = FakeClock(1_800_000_000.0)
    config = SimulatorConfig(keys={"some-live-key": 20}, clock=clock, products=10)
    with KeepaSimulator(config) as simulator, use_clock(clock):
        settings.KEEPA_API_KEY = "an-expired-key"
        settings.KEEPA_BASE_URL = simulator.base_url
        client = KeepaClient.from_settings(bucket=get_bucket())
        with pytest.raises(PaymentRequired):
            client.products(["0000000001"])

        out = StringIO()
        with pytest.raises(CommandError, match="paused by a fatal Keepa error"):
            call_command("bucket_status", stdout=out)
    text = out.getvalue()
    assert "last refusal  402 payment required: key expired or plan lacks access at 2027-01-15" in text
    assert "429" not in text
