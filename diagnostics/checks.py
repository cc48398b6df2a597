"""Health checks as plain functions returning a small result.

The pure classifiers (``classify_progress``, ``bucket_result``, ...) take their inputs as
arguments so they can be tested table-style; the ``check_*`` functions gather those inputs
from the database, Redis, RQ and Keepa. ``run_all`` turns any error into a FAIL carrying the
redacted message, never a traceback.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import connection as database
from django.db.migrations.executor import MigrationExecutor
from django.db.models import Q
from rq import Queue, Worker
from rq.defaults import DEFAULT_WORKER_TTL
from rq.registry import FailedJobRegistry

from deals.keepa.client import KeepaClient
from deals.keepa.redaction import redact
from deals.models import Candidate, Deal, JobRun, Quality
from deals.worker import DATABASE_ERROR_FIELD
from tokens.clock import get_clock
from tokens.ledger import describe
from tokens.reporting import clock_skew, duration
from tokens.services import get_bucket, get_ledger, redis_connection

#: How many refill ticks (Keepa refills once a minute) without progress count as "stalled".
STALL_TICKS = 3
REFILL_TICK_SECONDS = 60
#: Slack past a worker's TTL before its silence means it is gone (see ``heartbeat_max_age``).
WORKER_HEARTBEAT_MARGIN_SECONDS = 30
#: A bucket reading older than this while work is due means nothing talks to Keepa.
BUCKET_STALE_SECONDS = 3600
#: Below this the deals table fits any buffer cache; the memory check has nothing to say.
MEMORY_CHECK_FROM_BYTES = 256 * 1024**2
#: A disagreement of clocks the bucket saw within this long ago is still worth a warning.
CLOCK_SKEW_RECENT_SECONDS = 3600


class Status(enum.StrEnum):
    OK = "OK"
    WARN = "WARN"
    FAIL = "FAIL"


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: Status
    explanation: str
    data: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": str(self.status),
            "explanation": self.explanation,
            "data": self.data,
        }


# --- pure classifiers ---------------------------------------------------------------------


def classify_progress(
    *,
    bucket: Any | None,
    due_backlog: int,
    last_progress_at: float | None,
    now: float,
    stall_after_seconds: float = STALL_TICKS * REFILL_TICK_SECONDS,
) -> CheckResult:
    """The operators' question: is ingestion *waiting* (for tokens, with an ETA) or *stalled*
    (tokens available and work due, yet nothing has progressed for a few refill ticks)?

    ``bucket`` is a ``BucketStatus`` (or None when unreadable); ``last_progress_at`` is the
    clock time of the latest job that completed or processed something."""
    data: dict[str, Any] = {
        "due_backlog": due_backlog,
        "last_progress_age_seconds": None if last_progress_at is None else round(now - last_progress_at, 1),
    }
    if bucket is not None and bucket.fatal_reason:
        return CheckResult(
            "progress", Status.FAIL, f"paused: {bucket.fatal_reason}", {**data, "state": "paused"}
        )
    if bucket is not None and bucket.recharge_active:
        eta = bucket.recharge_eta_seconds
        return CheckResult(
            "progress",
            Status.OK,
            f"waiting: recharging to {bucket.recharge_threshold} tokens, ETA {duration(eta)}",
            {**data, "state": "waiting", "eta_seconds": eta},
        )
    if due_backlog == 0:
        return CheckResult("progress", Status.OK, "idle: nothing is due", {**data, "state": "idle"})
    if bucket is not None and bucket.known and bucket.available <= 0:
        eta = bucket.next_refill_seconds
        return CheckResult(
            "progress",
            Status.OK,
            f"waiting: out of tokens, next refill in {duration(eta)}",
            {**data, "state": "waiting", "eta_seconds": eta},
        )
    if last_progress_at is not None and now - last_progress_at <= stall_after_seconds:
        return CheckResult(
            "progress",
            Status.OK,
            f"progressing: {due_backlog} due, last progress {duration(now - last_progress_at)} ago",
            {**data, "state": "progressing"},
        )
    since = "ever" if last_progress_at is None else f"for {duration(now - last_progress_at)}"
    tokens = (
        "unknown tokens" if bucket is None or not bucket.known else f"{bucket.available} tokens available"
    )
    return CheckResult(
        "progress",
        Status.FAIL,
        f"stalled: {due_backlog} due and {tokens}, but no job progressed {since}"
        " (check workers and schedule_jobs)",
        {**data, "state": "stalled"},
    )


def bucket_result(status: Any, *, stale_after_seconds: float = BUCKET_STALE_SECONDS) -> CheckResult:
    """State, staleness, recharge and fatal pause of the shared bucket."""
    data = status.as_dict()
    if status.fatal_reason:
        return CheckResult("bucket", Status.FAIL, f"paused: {status.fatal_reason}", data)
    if not status.known:
        return CheckResult("bucket", Status.WARN, "no Keepa reading yet (fills from the next response)", data)
    level = f"{status.tokens}/{status.capacity} tokens at {status.refill_rate}/min"
    if status.recharge_active:
        eta = duration(status.recharge_eta_seconds)
        explanation = f"recharging: {level}, to {status.recharge_threshold}, ETA {eta}"
        return CheckResult("bucket", Status.OK, explanation, data)
    age = status.last_reading_age_seconds
    if age is not None and age > stale_after_seconds:
        return CheckResult("bucket", Status.WARN, f"{level}, last reading {duration(age)} old", data)
    return CheckResult("bucket", Status.OK, f"active: {level}, {status.in_flight_tokens} in flight", data)


def clock_result(
    status: Any, *, now: float, recent_seconds: float = CLOCK_SKEW_RECENT_SECONDS
) -> CheckResult:
    """Whether the bucket lately saw a clock (a host's, a reading's) off Keepa's own time by
    more than the bound: it corrected it, but the clock itself is still wrong somewhere."""
    data = {
        "kind": status.clock_skew_kind,
        "off_by_seconds": status.clock_skew_seconds,
        "seen_at": status.clock_skew_at,
    }
    if status.clock_skew_at is not None and now - status.clock_skew_at <= recent_seconds:
        return CheckResult(
            "clock",
            Status.WARN,
            f"{clock_skew(status)}; fix the clock that is off (NTP on the host, or a demo's "
            "settings reaching production)",
            data,
        )
    return CheckResult("clock", Status.OK, "every clock agrees with Keepa's timestamps", data)


def backlog_result(
    *,
    failed: int,
    last_failure: str,
    backing_off: int,
    last_fault: str,
    next_try_seconds: float | None,
) -> CheckResult:
    """Candidates failed for good (only an ASIN's own errors do that) and candidates backing
    off after Keepa faults (5xx, timeouts, cut-off answers), which never spend attempts."""
    data = {"failed": failed, "backing_off": backing_off, "next_try_seconds": next_try_seconds}
    parts = []
    if failed:
        parts.append(
            f"{failed} candidates failed for good (latest: {last_failure}); re-queue them with "
            "`backfill --retry-failed` or the admin's Re-fetch action"
        )
    if backing_off:
        parts.append(
            f"{backing_off} candidates backing off after Keepa faults (latest: {last_fault}), "
            f"next try in {duration(next_try_seconds)}"
        )
    if parts:
        return CheckResult("backlog", Status.WARN, "; ".join(parts), data)
    return CheckResult("backlog", Status.OK, "no candidate failed or backing off", data)


def heartbeat_max_age(worker_ttl: int | None = None) -> int:
    """How old a live worker's last heartbeat can be: its TTL (rq's default when unknown)
    plus ``WORKER_HEARTBEAT_MARGIN_SECONDS``.

    A busy rq worker beats every 30 s, but an idle one beats once per blocking dequeue, which
    waits up to ``worker_ttl - 15`` s (420 - 15 by default) for a job. Redis hands each job to
    one waiting worker, so with more than a few idle workers each can stay silent that long.
    The margin covers clock skew between the worker's host and ours and a slow maintenance
    pass; rq itself drops the worker's key ``worker_ttl + 60`` s after its last beat.
    """
    return (worker_ttl or DEFAULT_WORKER_TTL) + WORKER_HEARTBEAT_MARGIN_SECONDS


def workers_result(
    heartbeats: Sequence[tuple[str, datetime | None, int | None]],
    *,
    now: datetime,
    database_errors: dict[str, str] | None = None,
) -> CheckResult:
    """``heartbeats`` holds (name, last heartbeat, worker TTL); a worker is alive while its
    last heartbeat is within ``heartbeat_max_age`` of its TTL. ``database_errors`` maps the
    workers that cannot reach the database (they take no jobs) to why; they are named."""
    database_errors = {name: error for name, error in (database_errors or {}).items() if error}
    alive = [
        name
        for name, beat, ttl in heartbeats
        if beat is not None and (now - beat).total_seconds() <= heartbeat_max_age(ttl)
    ]
    dead = [name for name, _beat, _ttl in heartbeats if name not in alive]
    cut_off = {name: error for name, error in database_errors.items() if name in alive}
    working = [name for name in alive if name not in cut_off]
    data = {"alive": alive, "stale": dead, "no_database": cut_off}
    problems = [
        f"{name} cannot reach the database ({error}) and takes no jobs" for name, error in cut_off.items()
    ]
    if dead:
        problems.append(f"{len(dead)} without a recent heartbeat")
    if not alive:
        return CheckResult("workers", Status.FAIL, "no worker has a recent heartbeat: nothing will run", data)
    if not working:
        return CheckResult("workers", Status.FAIL, "no worker can take jobs: " + "; ".join(problems), data)
    if problems:
        return CheckResult("workers", Status.WARN, f"{len(working)} working; " + "; ".join(problems), data)
    return CheckResult("workers", Status.OK, f"{len(alive)} alive", data)


def queues_result(depths: dict[str, tuple[int, int]]) -> CheckResult:
    """``depths`` maps queue name to (queued, failed)."""
    data = {name: {"queued": queued, "failed": failed} for name, (queued, failed) in depths.items()}
    summary = ", ".join(
        f"{name}: {queued} queued, {failed} failed" for name, (queued, failed) in depths.items()
    )
    failed = sum(failed for _queued, failed in depths.values())
    return CheckResult(
        "queues", Status.WARN if failed else Status.OK, summary or "no queues configured", data
    )


def deals_result(*, zombies: int, unrepairable: int, displayable: int) -> CheckResult:
    """Hidden deals by the one zombie rule (``Deal.objects.zombies()``)."""
    data = {"displayable": displayable, "zombies": zombies, "unrepairable": unrepairable}
    explanation = f"{displayable} displayable, {zombies} hidden (zombies), {unrepairable} unrepairable"
    return CheckResult("deals", Status.WARN if unrepairable else Status.OK, explanation, data)


def last_runs_result(last_ok: dict[str, float | None], *, now: float) -> CheckResult:
    """Age of the last successful run per job kind; a kind that never succeeded is a WARN."""
    data = {kind: None if at is None else round(now - at, 1) for kind, at in last_ok.items()}
    parts = [f"{kind} {'never' if age is None else duration(age) + ' ago'}" for kind, age in data.items()]
    never = [kind for kind, age in data.items() if age is None]
    return CheckResult(
        "last_runs", Status.WARN if never else Status.OK, "last success: " + ", ".join(parts), data
    )


# --- gatherers ----------------------------------------------------------------------------


def check_database() -> CheckResult:
    with database.cursor() as cursor:
        cursor.execute("SELECT 1")
    executor = MigrationExecutor(database)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    pending = [f"{migration.app_label}.{migration.name}" for migration, _backwards in plan]
    if pending:
        return CheckResult(
            "database",
            Status.FAIL,
            f"{len(pending)} migrations not applied: run migrate",
            {"pending": pending},
        )
    return CheckResult("database", Status.OK, f"{database.vendor} reachable, migrations applied", {})


def check_redis() -> CheckResult:
    redis_connection().ping()
    return CheckResult("redis", Status.OK, "reachable", {})


def check_queues(connection=None) -> CheckResult:
    """Depth and failed-job count of every configured queue; every queue lives at
    ``REDIS_URL`` (settings.RQ_QUEUES), the same Redis as the bucket."""
    depths = {}
    for name in settings.RQ_QUEUES:
        queue = Queue(name, connection=connection or redis_connection())
        depths[name] = (len(queue), FailedJobRegistry(queue=queue).count)
    return queues_result(depths)


def check_workers(connection=None) -> CheckResult:
    """rq keeps no worker's TTL in Redis: a worker read back carries its class's, rq's default
    unless the class sets another (our units start workers with the default). Our workers
    record in their hash whether they reach the database (``deals.worker``)."""
    connection = connection or redis_connection()
    workers = Worker.all(connection=connection)
    return workers_result(
        [(worker.name, _aware(worker.last_heartbeat), worker.worker_ttl) for worker in workers],
        now=datetime.now(UTC),
        database_errors={
            worker.name: (connection.hget(worker.key, DATABASE_ERROR_FIELD) or b"").decode()
            for worker in workers
        },
    )


def _aware(moment: datetime | None) -> datetime | None:
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


def check_bucket() -> CheckResult:
    return bucket_result(get_bucket().status())


def check_clock() -> CheckResult:
    return clock_result(get_bucket().status(), now=get_clock().time())


def check_backlog() -> CheckResult:
    now = get_clock().now()
    failed = Candidate.objects.filter(status=Candidate.Status.FAILED)
    # In a run of Keepa faults until a fetch succeeds, whether its next try is ahead or due now
    # (a short backoff under a fast clock is often over by the time this runs).
    backing_off = Candidate.objects.filter(status=Candidate.Status.PENDING, transient_failures__gt=0)
    latest_failure = failed.order_by("-updated_at").values_list("last_error", flat=True).first()
    latest_fault = backing_off.order_by("-updated_at").values_list("last_error", flat=True).first()
    next_due = backing_off.order_by("due_at").values_list("due_at", flat=True).first()
    return backlog_result(
        failed=failed.count(),
        last_failure=redact(latest_failure or "")[:200],
        backing_off=backing_off.count(),
        last_fault=redact(latest_fault or "")[:200],
        next_try_seconds=None if next_due is None else max(0.0, (next_due - now).total_seconds()),
    )


def check_spending() -> CheckResult:
    """What the last hour's Keepa tokens bought: the deal finder, statistics, offers, sellers."""
    spent = get_ledger().last(3600)
    return CheckResult("spending", Status.OK, f"last hour: {describe(spent)}", spent)


def check_deals() -> CheckResult:
    return deals_result(
        zombies=Deal.objects.zombies().count(),
        unrepairable=Deal.objects.filter(quality=Quality.UNREPAIRABLE, expired_at__isnull=True).count(),
        displayable=Deal.objects.displayable().count(),
    )


def check_db_memory() -> CheckResult:
    if database.vendor != "postgresql":
        return memory_result(shared_buffers_bytes=None, deals_bytes=0)
    with database.cursor() as cursor:
        cursor.execute(
            "SELECT pg_size_bytes(current_setting('shared_buffers')), pg_total_relation_size(%s)",
            [Deal._meta.db_table],
        )
        shared_buffers, deals = cursor.fetchone()
    return memory_result(shared_buffers_bytes=shared_buffers, deals_bytes=deals)


def _last_ok(kind: str) -> float | None:
    run = (
        JobRun.objects.filter(kind=kind)
        .filter(Q(outcome=JobRun.Outcome.OK) | Q(outcome=JobRun.Outcome.WAITING, processed__gt=0))
        .exclude(finished_at=None)
        .order_by("-finished_at")
        .first()
    )
    return None if run is None else run.finished_at.timestamp()


def check_last_runs() -> CheckResult:
    kinds = (JobRun.Kind.DISCOVER, JobRun.Kind.BACKFILL)
    return last_runs_result({str(kind): _last_ok(kind) for kind in kinds}, now=get_clock().time())


def due_backlog(now: datetime) -> int:
    """Candidates due and unclaimed plus deals due for repair: the work that waits."""
    return Candidate.objects.claimable(now).count() + Deal.objects.incomplete(now=now).count()


def _last_progress() -> float | None:
    run = (
        JobRun.objects.filter(Q(outcome=JobRun.Outcome.OK) | Q(processed__gt=0))
        .exclude(finished_at=None)
        .order_by("-finished_at")
        .first()
    )
    return None if run is None else run.finished_at.timestamp()


def check_progress() -> CheckResult:
    clock = get_clock()
    try:
        bucket = get_bucket().status()
    except Exception:  # the bucket check reports it; progress still judges the backlog
        bucket = None
    return classify_progress(
        bucket=bucket,
        due_backlog=due_backlog(clock.now()),
        last_progress_at=_last_progress(),
        now=clock.time(),
    )


def check_keepa() -> CheckResult:
    """The free ``/token`` call: the key works and Keepa answers."""
    reading = KeepaClient.from_settings(bucket=get_bucket()).token_status()
    return CheckResult(
        "keepa",
        Status.OK,
        f"reachable: {reading.tokens_left} tokens, {reading.refill_rate}/min",
        {"tokens_left": reading.tokens_left, "refill_rate": reading.refill_rate},
    )


def _size(size_bytes: int) -> str:
    if size_bytes >= 1024**3:
        return f"{size_bytes / 1024**3:.1f} GB"
    return f"{size_bytes // 1024**2} MB"


def memory_result(*, shared_buffers_bytes: int | None, deals_bytes: int) -> CheckResult:
    """Whether PostgreSQL's buffer cache holds the deals table twice over (``None``: not
    PostgreSQL). A costs change writes a new version of every deal and of its index entries in
    one transaction; with less cache that runs through the OS's page cache, about 1.4 times
    slower at a million deals (docs/BENCHMARKS.md, "Recalculating every deal")."""
    data = {"shared_buffers_bytes": shared_buffers_bytes, "deals_bytes": deals_bytes}
    if shared_buffers_bytes is None:
        return CheckResult("db_memory", Status.OK, "not PostgreSQL: nothing to size", data)
    sizes = f"shared_buffers {_size(shared_buffers_bytes)}, deals table {_size(deals_bytes)}"
    if deals_bytes >= MEMORY_CHECK_FROM_BYTES and shared_buffers_bytes < 2 * deals_bytes:
        return CheckResult(
            "db_memory",
            Status.WARN,
            f"{sizes}: a costs change recalculating every deal will be slow; set shared_buffers "
            f"to at least {_size(2 * deals_bytes)} (docs/OPERATIONS.md)",
            data,
        )
    return CheckResult("db_memory", Status.OK, sizes, data)


Check = Callable[[], CheckResult]

CHECKS: dict[str, Check] = {
    "database": check_database,
    "redis": check_redis,
    "queues": check_queues,
    "workers": check_workers,
    # Keepa before the bucket: its free /token reading refreshes what the bucket reports.
    "keepa": check_keepa,
    "bucket": check_bucket,
    "clock": check_clock,
    "spending": check_spending,
    "deals": check_deals,
    "db_memory": check_db_memory,
    "backlog": check_backlog,
    "last_runs": check_last_runs,
    "progress": check_progress,
}


def run_check(name: str, check: Check) -> CheckResult:
    """Run one check; an error becomes a FAIL with a one-line, key-free message."""
    try:
        return check()
    except Exception as exc:  # a diagnostic must report, never crash
        message = redact(f"{type(exc).__name__}: {exc}").splitlines()[0] if str(exc) else type(exc).__name__
        return CheckResult(name, Status.FAIL, f"error: {message}", {})


def run_all(*, skip: Iterable[str] = ()) -> list[CheckResult]:
    skipped = set(skip)
    return [run_check(name, check) for name, check in CHECKS.items() if name not in skipped]
