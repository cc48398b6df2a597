"""A job refused tokens hands its worker back and is scheduled again after the wait."""

from __future__ import annotations

import math

import pytest
from rq import Queue, SimpleWorker
from rq.job import JobStatus, Retry

from tokens.clock import FakeClock, ScaledClock
from tokens.interface import Refusal
from tokens.retry import real_seconds, requeue_after, retry_after
from tokens.tests.jobs_for_tests import noop_job, refused_job


@pytest.mark.parametrize(
    ("wait", "clock", "expected"),
    [
        (42.5, FakeClock(), 43),
        (0.01, FakeClock(), 1),
        (0, FakeClock(), 1),
        (Refusal(wait_seconds=3000, reason="recharging"), ScaledClock(60), 50),
        (30, ScaledClock(60), 1),
    ],
)
def test_waits_become_whole_real_seconds_for_rq(wait, clock, expected):
    assert real_seconds(wait, clock) == expected


@pytest.mark.parametrize("bad", [math.inf, math.nan])
def test_a_nonsense_wait_is_refused(bad):
    with pytest.raises(ValueError):
        real_seconds(bad, FakeClock())


def test_retry_after_is_an_rq_retry_with_an_integer_interval():
    retry = retry_after(Refusal(wait_seconds=7.2, reason="empty"), clock=FakeClock())
    assert isinstance(retry, Retry) and retry.intervals == [8] and retry.max > 1000


def test_a_job_returning_retry_after_is_scheduled_again_and_frees_its_worker(real_redis):
    queue = Queue("tokens-retry", connection=real_redis)
    job = queue.enqueue(refused_job, job_id="refused-once")
    SimpleWorker([queue], connection=real_redis).work(burst=True)
    job.refresh()
    assert job.get_status() == JobStatus.SCHEDULED
    assert queue.count == 0  # nothing holds the worker or the queue meanwhile
    assert "refused-once" in queue.scheduled_job_registry.get_job_ids()


def test_requeue_after_schedules_a_fresh_job_under_a_unique_id(real_redis):
    queue = Queue("tokens-retry", connection=real_redis)
    wait = Refusal(wait_seconds=90, reason="empty")
    first = requeue_after(wait, noop_job, "a", queue=queue, clock=FakeClock(), job_id_prefix="backfill")
    second = requeue_after(wait, noop_job, "b", queue=queue, clock=FakeClock(), job_id_prefix="backfill")
    assert first.id != second.id and first.id.startswith("backfill-")
    assert set(queue.scheduled_job_registry.get_job_ids()) == {first.id, second.id}
