"""The RQ worker every unit starts (``settings.RQ["WORKER_CLASS"]``): rq's own, hardened
against the faults a probe of the running system found.

- Its scheduler child closes the worker's inherited Redis sockets and exits with its
  parent: a worker killed with -9 otherwise left the child holding the dead worker's
  blocking pop open, so Redis handed the next job to a process that no longer existed.
- A scheduler lock held by a dead scheduler on this host is taken over at once, and an idle
  worker wakes every ``POLL_SECONDS`` and retries the lock every ``MAINTENANCE_SECONDS``
  (rq: a 405 s blocking pop and a 10-minute maintenance), so delayed jobs resume within
  about a minute of a restart of every worker.
- It checks the database before each wait for a job and takes none while it cannot reach
  it, recording why in its Redis hash (``DATABASE_ERROR_FIELD``) for ``diagnose``.
- It survives a Redis outage: heartbeats that fail while a job runs are skipped, the work
  loop restarts once Redis answers, and each heartbeat re-registers the worker in rq's
  worker list, which a restarted Redis no longer holds.
"""

from __future__ import annotations

import logging
import os
import socket
import time

import redis
from django.conf import settings
from django.db import DatabaseError
from django.db import connection as database
from django_rq.cron import DjangoCronScheduler
from rq import Worker, worker_registration
from rq.defaults import DEFAULT_LOGGING_DATE_FORMAT, DEFAULT_LOGGING_FORMAT
from rq.exceptions import StopRequested
from rq.scheduler import SCHEDULER_KEY_TEMPLATE, RQScheduler
from rq.scripts import release_lock
from rq.worker import WorkerStatus

from deals.keepa.redaction import redact

log = logging.getLogger(__name__)

#: The worker hash field holding why this worker cannot reach the database ("" when it can).
DATABASE_ERROR_FIELD = "dealsite_database_error"
REDIS_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


def process_alive(hostname: str | None, pid: int | str | None) -> bool | None:
    """Whether the process ``pid`` on ``hostname`` runs: True/False on this host, None (cannot
    tell) on another, where only heartbeats can judge."""
    if not hostname or not pid or hostname != socket.gethostname():
        return None
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return not _zombie(int(pid))


def _zombie(pid: int) -> bool:
    """A killed process its new parent has not reaped yet still answers ``kill(pid, 0)``."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def worker_gone(connection, name: str | None, job_id: str) -> bool:
    """Whether the worker that started ``job_id`` is gone: its hash expired or marks its
    death, it moved on to another job, or its process on this host no longer exists."""
    if not name:
        return False
    key = Worker.redis_worker_namespace_prefix + name
    fields = connection.hmget(key, "hostname", "pid", "death", "current_job", "birth")
    hostname, pid, death, current, birth = (value.decode() if value else None for value in fields)
    if birth is None or death is not None or (current is not None and current != job_id):
        return True
    return process_alive(hostname, pid) is False


def worker_settings() -> dict:
    return settings.DEALSITE_WORKERS


def database_error() -> str:
    """Why this process cannot query the database, or "" when it can. The connection is
    closed again so no forked work horse inherits (and shares) it."""
    try:
        with database.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        return redact(f"{type(exc).__name__}: {exc}".strip()).splitlines()[0]
    finally:
        database.close()
    return ""


class ChainScheduler(RQScheduler):
    """rq's scheduler process, bound to the worker that forked it."""

    def __init__(self, *args, inherited_pool=None, **kwargs):
        super().__init__(*args, **kwargs)
        self._inherited_pool = inherited_pool
        self._parent_pid = os.getpid()

    def acquire_locks(self, auto_start=False):
        self._release_locks_of_dead_schedulers()
        return super().acquire_locks(auto_start=auto_start)

    def _release_locks_of_dead_schedulers(self) -> None:
        """A lock outlives its holder by up to 61 s; one whose holder ran on this host and is
        gone is released now (a holder elsewhere is judged by the lock's own expiry)."""
        for name in self._queue_names:
            key = self.get_locking_key(name)
            holder = self.connection.get(key)
            if holder is None:
                continue
            holder = holder.decode()
            if holder == self.name:
                continue
            details = self.connection.hmget(SCHEDULER_KEY_TEMPLATE % holder, "hostname", "pid")
            hostname, pid = (value.decode() if value else None for value in details)
            if process_alive(hostname, pid) is False:
                log.warning(
                    "Scheduler lock for %s held by dead scheduler %s (pid %s): released", name, holder, pid
                )
                release_lock(self.connection, key, holder)

    def work(self):
        self._close_inherited_sockets()
        super().work()

    def _close_inherited_sockets(self) -> None:
        """Close this child's copies of the worker's Redis sockets. Otherwise a worker killed
        with -9 leaves its blocking pop open on a socket the child still holds, and Redis
        hands the next job to it: "queued" in no queue. (Private pool lists: redis-py's own
        ``disconnect`` resets a forked pool without closing what it inherited.)"""
        pool = self._inherited_pool
        if pool is None:
            return
        for connection in [*pool._available_connections, *pool._in_use_connections]:
            connection.disconnect()  # in a forked child this closes without shutting down

    def enqueue_scheduled_jobs(self):
        """Each pass (once a second) first checks the worker is still there: an orphaned
        scheduler releases its locks and exits instead of scheduling for a dead worker."""
        if os.getppid() != self._parent_pid:
            self.log.warning("Scheduler: its worker (pid %s) is gone; stopping", self._parent_pid)
            self.request_stop()
            return
        super().enqueue_scheduled_jobs()


class DealsiteWorker(Worker):
    """rq's forking worker with the intervals of ``settings.DEALSITE_WORKERS``."""

    def __init__(self, *args, **kwargs):
        options = worker_settings()
        kwargs.setdefault("maintenance_interval", options["MAINTENANCE_SECONDS"])
        kwargs.setdefault("job_monitoring_interval", options["JOB_HEARTBEAT_SECONDS"])
        super().__init__(*args, **kwargs)
        self._database_error: str | None = None

    @property
    def dequeue_timeout(self) -> int:
        """An idle worker wakes this often for maintenance (rq: ``worker_ttl - 15``)."""
        return max(1, min(worker_settings()["POLL_SECONDS"], self.worker_ttl - 15))

    def _start_scheduler(
        self,
        burst=False,
        logging_level="INFO",
        date_format=DEFAULT_LOGGING_DATE_FORMAT,
        log_format=DEFAULT_LOGGING_FORMAT,
    ):
        """rq's, with our scheduler class (rq names its own inside the method)."""
        self.scheduler = ChainScheduler(
            self.queues,
            connection=self.connection,
            logging_level=logging_level if logging_level is not None else self.log.level,
            date_format=date_format,
            log_format=log_format,
            serializer=self.serializer,
            inherited_pool=self.connection.connection_pool,
        )
        self.scheduler.acquire_locks()
        if self.scheduler.acquired_locks:
            if burst:
                try:
                    self.scheduler.register_birth()
                    self.scheduler.enqueue_scheduled_jobs()
                finally:
                    self.scheduler.release_locks()
                    self.scheduler.register_death()
            else:
                self.scheduler.start()

    # --- the database ------------------------------------------------------------------

    def dequeue_job_and_maintain_ttl(self, timeout, max_idle_time=None):
        """Take no job while the database is unreachable: such a worker would only fail
        every job it took, while healthy workers wait. rq's loop waits for a job across any
        number of timeouts; this one returns to the database check after each."""
        while True:
            self._await_database()
            if self._stopping:
                return None
            if timeout is None or max_idle_time is not None:  # burst or idle-limited: rq's way
                return super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)
            result = super().dequeue_job_and_maintain_ttl(timeout, max_idle_time=timeout)
            if result is not None or self._stopping:
                return result

    def _await_database(self) -> None:
        while not self._stopping:
            error = database_error()
            self._record_database_error(error)
            if not error:
                return
            self.log.error("Worker %s: cannot reach the database, taking no jobs: %s", self.name, error)
            self.heartbeat()
            if self.should_run_maintenance_tasks:
                self.run_maintenance_tasks()
            self._sleep(worker_settings()["POLL_SECONDS"])

    def _record_database_error(self, error: str) -> None:
        if error != self._database_error:
            self.connection.hset(self.key, DATABASE_ERROR_FIELD, error)
            self._database_error = error

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self._stopping and time.monotonic() < deadline:
            time.sleep(min(0.5, seconds))

    # --- Redis outages ------------------------------------------------------------------

    def heartbeat(self, timeout=None, pipeline=None):
        """rq's heartbeat, which also puts the worker back into rq's worker list and its
        hash back together when a restarted Redis lost them."""
        if pipeline is not None:
            super().heartbeat(timeout, pipeline=pipeline)
            worker_registration.register(self, pipeline)
            return
        with self.connection.pipeline() as own:
            super().heartbeat(timeout, pipeline=own)
            worker_registration.register(self, own)
            own.hexists(self.key, "birth")
            *_, complete = own.execute()
        if not complete:
            self.log.warning(
                "Worker %s: its registration was lost (Redis restarted?); re-registered", self.name
            )
            with self.connection.pipeline() as own:
                own.hset(self.key, mapping={**self.serialize(), "state": WorkerStatus.IDLE})
                own.hset(self.key, DATABASE_ERROR_FIELD, self._database_error or "")
                own.expire(self.key, timeout or self.worker_ttl + 60)
                own.execute()

    def maintain_heartbeats(self, job):
        """While Redis is away the job goes on; its heartbeat resumes when Redis answers."""
        try:
            super().maintain_heartbeats(job)
        except REDIS_ERRORS as exc:
            self.log.warning("Worker %s: heartbeat for job %s failed (%s); retrying", self.name, job.id, exc)

    def work(self, burst=False, *args, **kwargs):
        """rq's work loop quits on the first Redis error; this one waits for Redis and starts
        over, unless it was asked to stop (or to work in bursts)."""
        while True:
            try:
                worked = super().work(burst, *args, **kwargs)
                failed = False
            except REDIS_ERRORS as exc:
                self.log.error("Worker %s: lost Redis (%s)", self.name, exc)
                self._drop_pubsub()
                failed = True
            if self._stopping or burst or kwargs.get("max_jobs") or kwargs.get("max_idle_time"):
                if failed:
                    raise SystemExit(1)
                return worked
            try:
                self._sleep(1)  # a loop that keeps failing for another reason must not spin
                self._await_redis()
            except StopRequested:
                return worked
            self.log.warning("Worker %s: restarting the work loop", self.name)

    def _drop_pubsub(self) -> None:
        """The teardown that failed on Redis left the command listener running; the next
        loop subscribes afresh."""
        if self.pubsub_thread:
            self.pubsub_thread.stop()
            self.pubsub_thread.join(timeout=1)
            self.pubsub_thread = None

    @property
    def _stopping(self) -> bool:
        """Asked to stop: rq sets the flag when busy, and only the date when idle."""
        return self._stop_requested or self._shutdown_requested_date is not None

    def _await_redis(self) -> None:
        """Wait until Redis answers, then clear this worker's half-torn-down registration so
        it can register afresh under the same name."""
        wait = 1.0
        while not self._stopping:
            try:
                self.connection.delete(self.key)
                return
            except REDIS_ERRORS:
                self._sleep(wait)
                wait = min(wait * 2, worker_settings()["POLL_SECONDS"])


class WatchdogScheduler(DjangoCronScheduler):
    """rq's cron scheduler (``manage.py watchdog``), which outlives a Redis outage: rq's own
    exits on the first connection error, and with it the watchdog that restarts chains."""

    def start(self):
        wait = 1.0
        while True:
            try:
                return super().start()
            except REDIS_ERRORS as exc:
                self.log.error("Watchdog %s: lost Redis (%s); retrying in %ss", self.name, exc, wait)
            try:
                time.sleep(wait)
            except StopRequested:
                return None
            wait = min(wait * 2, worker_settings()["POLL_SECONDS"])
