"""Jobs never sleep for tokens: a refused job hands its worker back and runs again later.

Two ways, both generic (nothing here knows what the job does):

* Return ``retry_after(refusal)`` from the job function: rq reschedules *the same job*
  (same unique id, so a scheduler or watchdog never doubles it) after the wait::

      def backfill_job():
          outcome = bucket.reserve(cost)
          if isinstance(outcome, Refusal):
              return retry_after(outcome)
          ...

* Or ``requeue_after(refusal, func, *args, queue=queue)`` to enqueue a fresh job with a new
  unique id after the wait (when the current job should finish as done).

The run needs a worker started with the scheduler (``rqworker --with-scheduler``). Waits are
clock seconds; rq schedules in whole real seconds, so a scaled demo clock is converted.
"""

from __future__ import annotations

import math
import uuid
from datetime import timedelta
from typing import Any

from rq import Queue
from rq.job import Job, Retry

from tokens.clock import Clock, get_clock
from tokens.interface import Refusal

# A token wait is bounded by the bucket (recharge timeout, reservation ttl), not by a count.
RETRY_FOREVER = 1_000_000


def real_seconds(wait: float | Refusal, clock: Clock | None = None) -> int:
    """The wait in whole real seconds (at least 1), as rq's scheduler wants it."""
    seconds = wait.wait_seconds if isinstance(wait, Refusal) else float(wait)
    if not math.isfinite(seconds):
        raise ValueError(f"wait must be a finite number of seconds, got {seconds!r}")
    scale = getattr(clock if clock is not None else get_clock(), "scale", 1.0)
    return max(1, math.ceil(seconds / scale))


def retry_after(
    wait: float | Refusal, *, clock: Clock | None = None, max_retries: int = RETRY_FOREVER
) -> Retry:
    """What a refused job returns so rq runs it again after the wait."""
    return Retry(max=max_retries, interval=real_seconds(wait, clock))


def requeue_after(
    wait: float | Refusal,
    func: Any,
    *args: Any,
    queue: Queue,
    clock: Clock | None = None,
    job_id_prefix: str = "tokens-wait",
    **kwargs: Any,
) -> Job:
    """Enqueue ``func(*args, **kwargs)`` to run after the wait, under a new unique job id."""
    job_id = f"{job_id_prefix}-{uuid.uuid4().hex[:16]}"
    delay = timedelta(seconds=real_seconds(wait, clock))
    return queue.enqueue_in(delay, func, *args, job_id=job_id, **kwargs)
