"""State changes of the bucket, each recorded in the audit log (``RechargeEvent``).

Commands, the admin and the API call these; automatic changes (policy, timeout, a 402)
arrive through ``record_transition``, which the bucket factory wires in.
"""

from __future__ import annotations

import logging
from functools import partial

from django.db import DatabaseError

from tokens.bucket import BucketStatus, RedisTokenBucket, Transition
from tokens.models import RechargeEvent

log = logging.getLogger(__name__)


def record_transition(change: Transition, *, user=None) -> RechargeEvent | None:
    """Write one audit row. The bucket already changed in Redis; a database outage must not
    undo that or crash the worker, so it is logged instead."""
    try:
        return RechargeEvent.objects.create(
            user=user if user is not None and user.is_authenticated else None,
            actor=change.actor if change.actor in RechargeEvent.Actor.values else "automatic",
            action=change.action,
            reason=change.reason,
            old_state=change.old_state,
            new_state=change.new_state,
            tokens=change.tokens,
            refill_rate=change.refill_rate,
        )
    except DatabaseError:
        log.exception("could not record token bucket %s by %s", change.action, change.actor)
        return None


def set_recharge(
    bucket: RedisTokenBucket, *, active: bool, reason: str, actor: str, user=None
) -> BucketStatus:
    """Turn recharge mode on or off on behalf of ``actor`` (and ``user``); audited."""
    if actor not in RechargeEvent.Actor.values:
        raise ValueError(f"unknown actor {actor!r}")
    listener = partial(record_transition, user=user)
    if active:
        return bucket.start_recharge(reason, actor, on_transition=listener)
    return bucket.end_recharge(reason, actor, on_transition=listener)


def release_fatal(bucket: RedisTokenBucket, *, reason: str, actor: str, user=None) -> BucketStatus:
    """An operator lifts the pause a 402 caused (after fixing the key or plan); audited."""
    return bucket.release_fatal(reason, actor, on_transition=partial(record_transition, user=user))
