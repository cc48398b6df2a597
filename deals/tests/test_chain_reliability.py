"""Job chains must not die or stall (issue 14): drills with real RQ worker processes, the
watchdog process, real Redis, PostgreSQL and the simulator.

Each drill replays a fault a probe of the running system found; the intervals are short
through ``DEALSITE_*`` settings so a drill takes seconds.
"""

from __future__ import annotations

import os
import signal

import django_rq
import psutil
import pytest
import redis
from django.test import override_settings
from rq import Worker
from rq.job import Job, JobStatus

from deals import jobs
from deals.models import Candidate, Deal, JobRun
from deals.worker import DATABASE_ERROR_FIELD
from dealsite.embedded_redis import EmbeddedRedis
from dealsite.tests.support import wait_for
from diagnostics.checks import Status, check_workers
from keepasim.harness import PipelineStack

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

#: Short intervals for drills; POLL_SECONDS stays rq-like long unless a drill needs it short,
#: so a fault that lives as long as a blocking pop shows.
DRILL_ENV = {
    "DEALSITE_WORKER_POLL_SECONDS": "300",
    "DEALSITE_WORKER_MAINTENANCE_SECONDS": "2",
    "DEALSITE_JOB_HEARTBEAT_SECONDS": "1",
    "DEALSITE_WATCHDOG_SECONDS": "2",
}


def queues_at(url: str) -> dict:
    return {name: {"URL": url, "DEFAULT_TIMEOUT": 600} for name in ("default", "keepa")}


@pytest.fixture
def rq_settings(redis_url, real_redis):
    with override_settings(RQ_QUEUES=queues_at(redis_url), REDIS_URL=redis_url):
        yield redis_url


def blocked_pops(connection: redis.Redis) -> int:
    """Clients of this Redis database waiting in a blocking pop (idle workers)."""
    db = str(connection.connection_pool.connection_kwargs.get("db", 0))
    return sum(1 for c in connection.client_list() if c["cmd"] in ("blpop", "blmove") and c["db"] == db)


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def ran(kind: str) -> bool:
    return JobRun.objects.filter(kind=kind).exclude(outcome=JobRun.Outcome.RUNNING).exists()


def scheduler_lock(connection: redis.Redis) -> bytes | None:
    return connection.get("rq:scheduler-lock:keepa")


def test_a_worker_killed_while_idle_does_not_swallow_the_next_chain_job(rq_settings, real_redis):
    """kill -9 of an idle worker's main process: its scheduler child must not keep the dead
    worker's blocking pop open (Redis would hand it the next job: "queued" in no queue)."""
    with PipelineStack(redis_url=rq_settings, products=50, extra_env=DRILL_ENV) as stack:
        first = stack.start_worker("keepa", "default")  # two queues, as the units: a BLPOP
        wait_for(lambda: blocked_pops(real_redis) == 1, timeout=30, message="the worker waiting for jobs")
        wait_for(lambda: scheduler_lock(real_redis), timeout=30, message="its scheduler")
        children = [child.pid for child in psutil.Process(first.pid).children()]
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)

        wait_for(lambda: all(gone(pid) for pid in children), timeout=10, message="its scheduler to exit")
        wait_for(lambda: blocked_pops(real_redis) == 0, timeout=10, message="Redis to drop the dead pop")
        job_id = jobs.ensure_scheduled("repair")
        queue = django_rq.get_queue(jobs.QUEUE_NAME)
        assert real_redis.lpos(queue.key, job_id) is not None, "the job waits in its queue"

        stack.start_worker("keepa", "default")
        wait_for(lambda: ran("repair"), timeout=30, message="the next worker to run the chain job")


def test_a_chain_job_queued_in_no_queue_is_replaced_by_the_watchdog(rq_settings, real_redis):
    """However a job left its queue without reaching a worker (a pop by a process that then
    died), the next watchdog run replaces it instead of returning its id forever."""
    lost = jobs.ensure_scheduled("discover")
    queue = django_rq.get_queue(jobs.QUEUE_NAME)
    assert jobs.ensure_scheduled("discover") == lost, "queued in its queue: alive"

    real_redis.lrem(queue.key, 1, lost)  # popped into a connection nobody reads
    assert Job.fetch(lost, connection=real_redis).get_status() == JobStatus.QUEUED
    replacement = jobs.watchdog_job()["discover"]
    assert replacement != lost
    assert real_redis.lpos(queue.key, replacement) is not None


def test_a_scheduled_chain_job_missing_from_the_schedule_is_replaced(rq_settings, real_redis):
    waiting = jobs.ensure_scheduled("repair", delay_seconds=3600)
    queue = django_rq.get_queue(jobs.QUEUE_NAME)
    real_redis.zrem(queue.scheduled_job_registry.key, waiting)
    assert jobs.ensure_scheduled("repair") != waiting


def test_workers_restarted_after_all_were_killed_run_delayed_jobs_at_once(rq_settings, real_redis):
    """Every worker killed (and its scheduler with it), then restarted as systemd does: rq's
    scheduler lock outlives the dead scheduler by 61 s and rq retries it only in its 10-minute
    maintenance; delayed jobs (chain successors, token waits) must not wait for that."""
    fast = {**DRILL_ENV, "DEALSITE_WORKER_POLL_SECONDS": "1"}
    with PipelineStack(redis_url=rq_settings, products=50, extra_env=fast) as stack:
        first = stack.start_worker("keepa", "default")
        dead_holder = wait_for(lambda: scheduler_lock(real_redis), timeout=30, message="a scheduler")
        stack.kill(first)  # the whole process group: worker and scheduler, with -9

        stack.start_worker("keepa", "default")
        jobs.ensure_scheduled("repair", delay_seconds=1)  # a successor with its pause
        wait_for(lambda: ran("repair"), timeout=30, message="the delayed job to run")
        assert scheduler_lock(real_redis) not in (None, dead_holder), "the new worker's scheduler took over"


def test_a_killed_job_frees_its_chain_and_its_run_is_abandoned_with_what_it_committed(rq_settings):
    stack = PipelineStack(
        redis_url=rq_settings, refill_rate=5, time_scale=60, products=200, extra_env=DRILL_ENV
    )
    with stack:
        stack.simulator.set_faults(latency_ms=150)
        asins = [p.asin for p in stack.simulator.catalogue if p.kind == "ordinary"][:40]
        Candidate.objects.bulk_create([Candidate(asin=asin) for asin in asins])
        worker = stack.start_worker()
        running = jobs.ensure_scheduled("backfill")
        wait_for(lambda: Deal.objects.count() >= 3, timeout=60, message="the first deals")
        run = JobRun.objects.get(job_id=running)
        wait_for(lambda: JobRun.objects.get(pk=run.pk).processed >= 2, timeout=30, message="a checkpoint")
        family = [worker.pid, *(child.pid for child in psutil.Process(worker.pid).children(recursive=True))]
        for pid in family:  # worker, scheduler and work horse (in its own process group)
            os.kill(pid, signal.SIGKILL)
        worker.wait(timeout=10)
        wait_for(lambda: all(gone(pid) for pid in family), timeout=10, message="the processes to die")

        replaced = jobs.watchdog_job()["backfill"]
        assert replaced != running, "the killed job no longer holds the chain"
        run.refresh_from_db()
        assert run.outcome == JobRun.Outcome.ABANDONED
        assert run.finished_at is not None
        assert 0 < run.processed <= Deal.objects.count(), "what it committed, by its last checkpoint"


def test_a_worker_that_cannot_reach_the_database_takes_no_jobs_and_diagnose_names_it(rq_settings, real_redis):
    fast = {**DRILL_ENV, "DEALSITE_WORKER_POLL_SECONDS": "1"}
    with PipelineStack(redis_url=rq_settings, products=50, extra_env=fast) as stack:
        job_id = jobs.ensure_scheduled("repair")
        stack.start_worker(
            "keepa", "default", env={"DATABASE_URL": "postgres://postgres@127.0.0.1:9/nowhere"}
        )
        job = Job.fetch(job_id, connection=real_redis)

        def bad_worker_settled():
            workers = Worker.all(connection=real_redis)
            flagged = [w for w in workers if real_redis.hget(w.key, DATABASE_ERROR_FIELD)]
            return flagged or job.get_status() != JobStatus.QUEUED

        wait_for(bad_worker_settled, timeout=30, message="the misconfigured worker to start")
        assert job.get_status() == JobStatus.QUEUED, "the misconfigured worker took no job"
        result = check_workers(real_redis)
        assert result.status == Status.FAIL
        (bad,) = result.data["no_database"]
        assert bad in result.explanation and "cannot reach the database" in result.explanation

        stack.start_worker("keepa", "default")
        wait_for(lambda: ran("repair"), timeout=30, message="the healthy worker to run it")
        result = check_workers(real_redis)
        assert result.status == Status.WARN and bad in result.explanation


def test_workers_and_the_watchdog_ride_out_a_redis_outage_and_diagnose_tells_the_truth():
    """Redis goes away (and comes back empty, as a restart without persistence does) while one
    worker runs a job and another waits: all keep running, both are listed again, and the
    watchdog re-creates the chains."""
    server = EmbeddedRedis().start()
    fast = {**DRILL_ENV, "DEALSITE_WORKER_POLL_SECONDS": "1"}
    try:
        with (
            override_settings(RQ_QUEUES=queues_at(server.url), REDIS_URL=server.url),
            PipelineStack(redis_url=server.url, products=50, extra_env=fast) as stack,
        ):
            connection = redis.Redis.from_url(server.url)
            first, second = stack.start_worker("keepa", "default"), stack.start_worker("keepa", "default")
            watchdog = stack.start_watchdog()
            wait_for(lambda: len(Worker.all(connection=connection)) == 2, timeout=30, message="two workers")
            wait_for(lambda: connection.get(jobs._pointer("repair")), timeout=30, message="the watchdog")
            sleeper = django_rq.get_queue("default").enqueue("time.sleep", 8)
            wait_for(lambda: sleeper.get_status() == JobStatus.STARTED, timeout=30, message="a busy worker")

            server.stop()
            processes = (first, second, watchdog)

            def noticed() -> bool:
                logs = [(stack.log_dir / f"worker-{i}.log").read_text() for i in range(3)]
                if any(p.poll() is not None for p in processes):
                    return True
                signs = ("lost Redis", "heartbeat for job", "could not connect to Redis")
                return all(any(sign in log for sign in signs) for log in logs)

            wait_for(noticed, timeout=30, message="the workers and the watchdog to notice")
            server = EmbeddedRedis(port=server.port).start()  # empty: every key is gone

            wait_for(lambda: connection.get(jobs._pointer("repair")), timeout=60, message="chains again")
            wait_for(
                lambda: len(Worker.all(connection=connection)) == 2, timeout=30, message="both workers listed"
            )
            assert [p.poll() for p in processes] == [None, None, None], "nothing exited"
            result = check_workers(connection)
            assert result.status == Status.OK, result.explanation
    finally:
        server.stop()
