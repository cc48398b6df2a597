"""RQ entry points for discovery, backfill and repair (thin: the work is in discovery.py,
backfill.py and repair.py).

Each kind runs as a chain of unique jobs: one live job per kind, whose id a Redis pointer
names. A run that finishes schedules its successor; a run refused tokens returns rq's
``Retry`` with the bucket's wait, so it frees its worker instead of sleeping; the watchdog
(``ensure_scheduled``, called by the cron scheduler, ``schedule_jobs`` and deploys) restarts
a chain that died. Two schedulers or a restart therefore never double a job.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from datetime import timedelta

import django_rq
from django.conf import settings
from django.db import DatabaseError
from rq import get_current_job
from rq.job import Job, JobStatus, Retry
from rq.registry import ScheduledJobRegistry
from rq.utils import now as rq_now

from deals import backfill, backlog, discovery, repair, verification
from deals.keepa.client import KeepaClient
from deals.keepa.redaction import redact
from deals.models import JobRun
from deals.passes import RunReport
from deals.worker import worker_gone
from tokens.clock import get_clock
from tokens.retry import real_seconds, retry_after
from tokens.services import get_bucket, get_ledger

log = logging.getLogger(__name__)

QUEUE_NAME = "keepa"
ALIVE = {JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.STARTED, JobStatus.DEFERRED}


def interval_seconds(kind: str) -> float:
    return float(settings.DEALSITE_JOB_INTERVALS[kind])


def _connection():
    return django_rq.get_connection(QUEUE_NAME)


def _pointer(kind: str) -> str:
    return f"dealsite:chain:{kind}"


def _is_alive(job_id: str | None, connection) -> bool:
    """Whether the job will still run (or runs): scheduled in its registry, queued in its
    queue, or started on a worker that is still there.

    A "queued" job in no queue, no worker's hands and no intermediate list was popped by a
    process that died (a killed worker's blocking pop), and a "started" job whose worker is
    gone (see ``deals.worker.worker_gone``) or silent for ``JOB_STALE_SECONDS`` was killed:
    rq notices neither until its timeout or maintenance, so the chain would stall."""
    if not job_id:
        return False
    job = Job.fetch_many([job_id], connection=connection)[0]
    if job is None:
        return False
    status = job.get_status(refresh=False)
    if status == JobStatus.STARTED:
        return _still_running(job, connection)
    if status == JobStatus.QUEUED:
        return _in_a_queue(job, connection) or _still_running(job, connection, refresh=True)
    if status == JobStatus.SCHEDULED:
        return job.id in ScheduledJobRegistry(job.origin, connection=connection)
    return status in ALIVE


def _in_a_queue(job: Job, connection) -> bool:
    queue = django_rq.get_queue(job.origin, connection=connection)
    return (
        connection.lpos(queue.key, job.id) is not None
        or connection.lpos(queue.intermediate_queue_key, job.id) is not None
    )


def _still_running(job: Job, connection, *, refresh: bool = False) -> bool:
    """A started job whose worker is there and beats; ``refresh`` re-reads a job last seen
    queued, which a worker may have taken between the two reads."""
    if refresh:
        job = Job.fetch_many([job.id], connection=connection)[0]
        if job is None or job.get_status(refresh=False) != JobStatus.STARTED:
            return False
    beat = job.last_heartbeat or job.started_at
    stale = settings.DEALSITE_WORKERS["JOB_STALE_SECONDS"]
    if beat is None or (rq_now() - beat).total_seconds() >= stale:
        return False
    return not worker_gone(connection, job.worker_name, job.id)


def _enqueue(kind: str, delay_seconds: int, connection) -> str:
    queue = django_rq.get_queue(QUEUE_NAME, connection=connection, commit_mode="auto")
    job_id = f"dealsite-{kind}-{uuid.uuid4().hex[:12]}"
    options = {"job_id": job_id, "job_timeout": 600, "result_ttl": 3600, "failure_ttl": 7 * 24 * 3600}
    if delay_seconds > 0:
        queue.enqueue_in(timedelta(seconds=delay_seconds), JOBS[kind], **options)
    else:
        queue.enqueue(JOBS[kind], **options)
    connection.set(_pointer(kind), job_id)
    return job_id


@contextmanager
def _chain(kind: str):
    """The kind's chain pointer, read under its lock: (connection, current job id or None)."""
    connection = _connection()
    with connection.lock(f"{_pointer(kind)}:lock", timeout=30, blocking_timeout=10):
        current = connection.get(_pointer(kind))
        yield connection, current.decode() if isinstance(current, bytes) else current


def ensure_scheduled(kind: str, *, delay_seconds: int = 0) -> str:
    """Start the kind's chain unless a live job already carries it; returns the live job id."""
    with _chain(kind) as (connection, current):
        if _is_alive(current, connection):
            return current
        return _enqueue(kind, delay_seconds, connection)


def ensure_all_scheduled() -> dict[str, str]:
    return {kind: ensure_scheduled(kind) for kind in JOBS}


def _schedule_successor(kind: str, own_id: str | None, delay_seconds: int) -> None:
    with _chain(kind) as (connection, current):
        if own_id is not None and current not in (None, own_id) and _is_alive(current, connection):
            return  # the watchdog replaced this chain while we ran
        _enqueue(kind, delay_seconds, connection)


def _run(kind: str, work: Callable) -> Retry | str:
    """Run one pass and decide what comes next: a successor, or a Retry after the wait."""
    clock = get_clock()
    bucket = get_bucket()
    client = KeepaClient.from_settings(bucket=bucket)
    job = get_current_job()
    run = JobRun.objects.create(kind=kind, started_at=clock.now(), job_id=job.id if job else "")

    def checkpoint(report: RunReport) -> None:
        """What the pass committed so far, so a killed run is abandoned with it. Bookkeeping
        only: a busy database (SQLite's lock under ``make run``) must not fail the pass."""
        try:
            JobRun.objects.filter(pk=run.pk).update(
                processed=report.processed, tokens_consumed=report.tokens_consumed
            )
        except DatabaseError as exc:
            log.warning("%s: checkpoint skipped (%s)", kind, exc)

    report = RunReport()
    try:
        report = work(client, bucket, clock, report, checkpoint)
    except Exception as exc:
        # What the pass bought and committed before the error is still on the record.
        JobRun.objects.filter(pk=run.pk).update(
            outcome=JobRun.Outcome.FAILED,
            finished_at=clock.now(),
            processed=report.processed,
            tokens_consumed=report.tokens_consumed,
            detail=redact(f"{type(exc).__name__}: {exc}"),
        )
        raise
    get_ledger().record(report.spent)
    outcome = JobRun.Outcome.WAITING if report.wait_seconds is not None else JobRun.Outcome.OK
    detail = report.summary() + (f" fatal={report.fatal}" if report.fatal else "")
    JobRun.objects.filter(pk=run.pk).update(
        outcome=outcome,
        finished_at=clock.now(),
        processed=report.processed,
        tokens_consumed=report.tokens_consumed,
        detail=redact(detail),
    )
    if report.wait_seconds is not None:
        retry = retry_after(report.wait_seconds, clock=clock)
        log.info("%s: %s; waiting %ss for tokens", kind, report.summary(), retry.intervals[0])
        return retry
    if report.processed or report.fatal:
        log.info("%s: %s", kind, detail)
    _schedule_successor(kind, job.id if job else None, real_seconds(interval_seconds(kind), clock))
    return detail


def _discover_pass(client, bucket, clock, report: RunReport, checkpoint) -> RunReport:
    return discovery.run_discovery(client, now=clock.now(), bucket=bucket, report=report)


def bucket_plan(bucket) -> Callable[[], tuple[int | None, int | None]]:
    def plan() -> tuple[int | None, int | None]:
        status = bucket.status()
        return status.refill_rate, status.tokens - status.in_flight_tokens

    return plan


def _backfill_pass(client, bucket, clock, report: RunReport, checkpoint) -> RunReport:
    return backfill.run_backfill(
        client, clock=clock, plan=bucket_plan(bucket), report=report, progress=checkpoint
    )


def _repair_pass(client, bucket, clock, report: RunReport, checkpoint) -> RunReport:
    return repair.run_repair(client, clock=clock, report=report)


def discover_job():
    return _run("discover", _discover_pass)


def backfill_job():
    return _run("backfill", _backfill_pass)


def repair_job():
    return _run("repair", _repair_pass)


def abandon_dead_runs(connection=None) -> int:
    """Mark "running" JobRuns whose job is no longer alive (killed with its worker, or gone
    from Redis) as abandoned, keeping what they committed (their last checkpoint)."""
    connection = connection or _connection()
    running = JobRun.objects.filter(outcome=JobRun.Outcome.RUNNING).exclude(job_id="")
    dead = [run.pk for run in running.only("pk", "job_id") if not _still_runs(run.job_id, connection)]
    if not dead:
        return 0
    return JobRun.objects.filter(pk__in=dead, outcome=JobRun.Outcome.RUNNING).update(
        outcome=JobRun.Outcome.ABANDONED,
        finished_at=get_clock().now(),
        detail="abandoned: its job died with its worker (killed, or lost with Redis); "
        "processed and tokens are what it committed before",
    )


def _still_runs(job_id: str, connection) -> bool:
    job = Job.fetch_many([job_id], connection=connection)[0]
    return (
        job is not None
        and job.get_status(refresh=False) == JobStatus.STARTED
        and _still_running(job, connection)
    )


def watchdog_job() -> dict[str, str]:
    """Called by the cron scheduler (``WATCHDOG_SECONDS``): restarts any chain that died and
    closes the runs that died with it."""
    scheduled = ensure_all_scheduled()
    abandon_dead_runs()
    return scheduled


def verify_job(asins: list[str]) -> str:
    """Staff's "verify now" for these ASINs (a one-off job, not a chain)."""
    clock = get_clock()
    client = KeepaClient.from_settings(bucket=get_bucket())
    run = JobRun.objects.create(kind=JobRun.Kind.VERIFY, started_at=clock.now())
    report = verification.run_verification(client, clock=clock, limit=len(asins), asins=asins)
    get_ledger().record(report.spent)
    detail = redact(report.summary() + (f" fatal={report.fatal}" if report.fatal else ""))
    JobRun.objects.filter(pk=run.pk).update(
        outcome=JobRun.Outcome.WAITING if report.wait_seconds is not None else JobRun.Outcome.OK,
        finished_at=clock.now(),
        processed=report.verified + report.rejected,
        tokens_consumed=report.tokens_consumed,
        detail=detail,
    )
    return detail


def enqueue_verification(asins: list[str]) -> str:
    queue = django_rq.get_queue(QUEUE_NAME, connection=_connection(), commit_mode="auto")
    job = queue.enqueue(verify_job, list(asins), job_timeout=600, result_ttl=3600, failure_ttl=7 * 24 * 3600)
    return job.id


def enqueue_refetch(asins: list[str]) -> int:
    """Staff's "re-fetch from Keepa now": top-priority candidates, then a backfill pass."""
    count = backlog.request_refetch(asins, now=get_clock().now())
    ensure_scheduled("backfill")
    return count


JOBS: dict[str, Callable] = {"discover": discover_job, "backfill": backfill_job, "repair": repair_job}
