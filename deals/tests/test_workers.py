"""Crash and fault drills with real RQ worker processes, real Redis and the simulator.

The workers and the simulator share a scaled clock (x60: a Keepa minute a second), so
leases, refills and retries happen in seconds while every part is the real one.
"""

from __future__ import annotations

from datetime import timedelta

import django_rq
import pytest
from django.test import override_settings
from rq.job import Job, JobStatus
from rq.utils import now as rq_now
from rq.utils import utcformat

from deals import jobs
from deals.models import Candidate, Deal, JobRun
from dealsite.tests.support import wait_for
from keepasim.harness import API_KEY, PipelineStack

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def rq_settings(redis_url, real_redis):
    queues = {name: {"URL": redis_url, "DEFAULT_TIMEOUT": 600} for name in ("default", "keepa")}
    with override_settings(RQ_QUEUES=queues, REDIS_URL=redis_url):
        yield redis_url


def seed_candidates(stack: PipelineStack, count: int) -> list[str]:
    asins = [p.asin for p in stack.simulator.catalogue if p.kind == "ordinary"][:count]
    Candidate.objects.bulk_create([Candidate(asin=asin) for asin in asins])
    return asins


def settled(asins) -> int:
    return Candidate.objects.filter(asin__in=asins).exclude(status=Candidate.Status.PENDING).count()


def test_kill_9_mid_batch_loses_nothing_and_the_rest_is_done_after_restart(rq_settings):
    stack = PipelineStack(redis_url=rq_settings, refill_rate=5, time_scale=60, products=200)
    with stack:
        stack.simulator.set_faults(latency_ms=150)
        asins = seed_candidates(stack, 40)
        worker = stack.start_worker()
        jobs.ensure_scheduled("backfill")
        wait_for(lambda: Deal.objects.count() >= 5, timeout=60, message="the first deals")
        stack.kill(worker)
        committed = set(Deal.objects.values_list("asin", flat=True))
        assert 5 <= len(committed) < 40, "killed mid-batch"

        # A restart: passes run again; the killed batch's lease expires on the clock
        # (ten Keepa minutes) and a later pass fetches what it held.
        def another_pass() -> bool:
            assert "processed=" in stack.manage("backfill").stdout
            return settled(asins) == 40

        wait_for(another_pass, timeout=120, interval=1, message="all candidates settled")
        assert committed <= set(Deal.objects.values_list("asin", flat=True)), "nothing committed was lost"
        assert Deal.objects.count() == len(set(Deal.objects.values_list("asin", flat=True))) == 40
        assert sum(stack.simulator.stats.tokens_consumed.values()) <= 40 + 2, (
            "at most the deal in flight twice"
        )


def test_a_flushed_redis_loses_no_candidate_and_the_bucket_rebuilds(rq_settings, real_redis):
    stack = PipelineStack(redis_url=rq_settings, refill_rate=20, time_scale=60, products=200)
    with stack:
        stack.simulator.set_faults(latency_ms=100)
        asins = seed_candidates(stack, 30)
        stack.start_worker()
        jobs.ensure_scheduled("backfill")
        wait_for(lambda: Deal.objects.count() >= 3, timeout=60, message="the first deals")
        real_redis.flushdb()  # the queue, the chain pointer and the bucket state are gone
        jobs.ensure_scheduled("backfill")  # what the cron watchdog does every minute
        wait_for(lambda: settled(asins) == 30, timeout=90, message="all candidates settled")
        assert stack.simulator.stats.rate_limited == 0


def test_fault_storms_end_every_candidate_complete_incomplete_or_failed_with_a_reason(rq_settings):
    stack = PipelineStack(
        redis_url=rq_settings,
        refill_rate=20,
        time_scale=60,
        products=200,
        extra_env={"KEEPA_READ_TIMEOUT_SECONDS": "1"},
    )
    with stack:
        stack.simulator.set_faults(
            error_rate=0.2, malformed_rate=0.1, drop_rate=0.05, slow_rate=0.05, slow_seconds=2
        )
        asins = (
            seed_candidates(stack, 25)
            + [p.asin for p in stack.simulator.catalogue if p.kind != "ordinary"][:5]
        )
        Candidate.objects.bulk_create([Candidate(asin=a) for a in asins[25:]])
        ledger = stack.simulator.ledger(API_KEY)
        ledger.set_balance(0)  # a 429 storm first
        for _ in range(2):
            stack.start_worker()
        jobs.ensure_scheduled("backfill")
        wait_for(lambda: settled(asins) == 30, timeout=150, message="every candidate settled")

        for candidate in Candidate.objects.filter(asin__in=asins):
            if candidate.status == Candidate.Status.FAILED:
                assert candidate.last_error, f"{candidate.asin} failed without a reason"
            else:
                deal = Deal.objects.get(asin=candidate.asin)
                assert deal.quality == Deal.Quality.COMPLETE or deal.quality_reason
        records = [str(run.detail) for run in JobRun.objects.all()]
        connection = django_rq.get_connection("keepa")
        records += [repr(connection.hgetall(key)) for key in connection.scan_iter("rq:job:*")]
        records.append(stack.worker_logs())
        assert not any(API_KEY in record for record in records), "the key leaked into a job record"


def test_the_watchdog_restarts_a_chain_whose_running_job_lost_its_worker(rq_settings, real_redis):
    running = jobs.ensure_scheduled("repair", delay_seconds=3600)
    job = Job.fetch(running, connection=real_redis)
    job.set_status(JobStatus.STARTED)
    real_redis.hset(job.key, "last_heartbeat", utcformat(rq_now() - timedelta(seconds=30)))
    assert jobs.ensure_scheduled("repair") == running, "beating 30 s ago: alive"

    real_redis.hset(job.key, "last_heartbeat", utcformat(rq_now() - timedelta(minutes=10)))
    assert jobs.ensure_scheduled("repair") != running, "silent for 10 min: its worker was killed"


def test_two_schedulers_never_double_a_chain(rq_settings):
    first = jobs.ensure_scheduled("discover", delay_seconds=3600)
    second = jobs.ensure_scheduled("discover", delay_seconds=3600)
    assert first == second
    queue = django_rq.get_queue(jobs.QUEUE_NAME)
    assert queue.scheduled_job_registry.get_job_ids() == [first]
