"""The bucket as this Django project runs it: the factory that configures it from settings,
and its state changes, each recorded in the audit log (``RechargeEvent``).

Commands, the admin and the API call these; automatic changes (policy, timeout, a 402)
arrive through ``record_transition``, which ``get_bucket`` wires in.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from functools import partial

import redis as redis_lib
from django.conf import settings
from django.db import DatabaseError

from tokens.bucket import BucketStatus, RedisTokenBucket, Transition, bucket_id_for
from tokens.clock import Clock, get_clock
from tokens.ledger import SpendLedger
from tokens.models import RechargeEvent

log = logging.getLogger(__name__)

_connections: dict[str, redis_lib.Redis] = {}


def redis_connection(url: str | None = None) -> redis_lib.Redis:
    """One client (and connection pool) per URL per process."""
    url = url or settings.REDIS_URL
    if url not in _connections:
        _connections[url] = redis_lib.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    return _connections[url]


def get_ledger(api_key: str | None = None) -> SpendLedger:
    """Where the passes record what their tokens went on, beside the key's bucket."""
    return SpendLedger(
        redis_connection(),
        bucket_id=bucket_id_for(settings.KEEPA_API_KEY if api_key is None else api_key),
        clock=get_clock(),
    )


def get_bucket(
    api_key: str | None = None, *, redis: redis_lib.Redis | None = None, clock: Clock | None = None
) -> RedisTokenBucket:
    """The bucket for ``api_key`` (default ``KEEPA_API_KEY``), configured from ``TOKENS``;
    mode changes it causes are written to the audit log (``RechargeEvent``)."""
    config = settings.TOKENS
    return RedisTokenBucket(
        redis if redis is not None else redis_connection(),
        bucket_id=bucket_id_for(settings.KEEPA_API_KEY if api_key is None else api_key),
        clock=clock if clock is not None else get_clock(),
        threshold=config["RECHARGE_THRESHOLD"],
        recharge_timeout_seconds=config["RECHARGE_TIMEOUT_SECONDS"],
        floor=config["FLOOR"],
        auto_recharge=config["AUTO_RECHARGE"],
        auto_below_rate=config["AUTO_RECHARGE_BELOW_RATE"],
        auto_below_balance=config["AUTO_RECHARGE_BELOW_BALANCE"],
        reservation_ttl_seconds=config["RESERVATION_TTL_SECONDS"],
        max_clock_skew_seconds=config["MAX_CLOCK_SKEW_SECONDS"],
        on_transition=record_transition,
    )


def record_transition(change: Transition, *, user=None) -> RechargeEvent | None:
    """Write one audit row. The bucket already changed in Redis; a database outage must not
    undo that or crash the worker, so it is logged instead."""
    try:
        return RechargeEvent.objects.create(
            created_at=datetime.fromtimestamp(change.at, tz=UTC),
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


#: What a release says when there was no recharge (and it wrote no audit row).
NOTHING_TO_RELEASE = "not recharging, nothing to release"
#: What a start says when recharge mode was already on.
ALREADY_RECHARGING = "already recharging, nothing to start"


def set_recharge(
    bucket: RedisTokenBucket, *, active: bool, reason: str, actor: str, user=None
) -> BucketStatus:
    """Turn recharge mode on or off on behalf of ``actor`` (and ``user``); audited."""
    return toggle_recharge(bucket, active=active, reason=reason, actor=actor, user=user)[0]


def toggle_recharge(
    bucket: RedisTokenBucket, *, active: bool, reason: str, actor: str, user=None
) -> tuple[BucketStatus, str | None]:
    """``set_recharge``, also saying when it changed nothing (``NOTHING_TO_RELEASE`` or
    ``ALREADY_RECHARGING``), so a command or the API can tell its caller instead of
    printing a state that looks like its doing."""
    if actor not in RechargeEvent.Actor.values:
        raise ValueError(f"unknown actor {actor!r}")
    changes: list[Transition] = []

    def listener(change: Transition) -> None:
        changes.append(change)
        record_transition(change, user=user)

    if active:
        status = bucket.start_recharge(reason, actor, on_transition=listener)
    else:
        status = bucket.end_recharge(reason, actor, on_transition=listener)
    if changes:
        return status, None
    return status, ALREADY_RECHARGING if active else NOTHING_TO_RELEASE


def release_fatal(bucket: RedisTokenBucket, *, reason: str, actor: str, user=None) -> BucketStatus:
    """An operator lifts the pause a 402 caused (after fixing the key or plan); audited."""
    return bucket.release_fatal(reason, actor, on_transition=partial(record_transition, user=user))
