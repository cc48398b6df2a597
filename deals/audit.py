"""What a history row records beyond simple-history's own columns: which job wrote it, and
which saves are not worth a row at all.

A job has no user, so its rows would read "None" under "Changed by". Each pass declares
itself (``@acting_as("backfill")``) and every history row written inside it carries that
actor, however deep in the pass the write happens; staff edits carry their user instead.
A refresh that moves only bookkeeping times (when we fetched or checked) changes nothing a
reader of the history cares about, so ``deals.services`` saves it without a row.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.db import models
from django.dispatch import receiver
from simple_history.signals import pre_create_historical_record

_actor: ContextVar[str] = ContextVar("deals_history_actor", default="")

#: Times that move on every fetch or check; a save changing only these writes no history row.
TIMESTAMPS = frozenset({"fetched_at", "keepa_updated_at", "checked_at", "verified_at", "updated_at"})
SPARKLINE = "used_price_history"

ACTOR_MAX_LENGTH = 40


@contextmanager
def acting_as(actor: str) -> Iterator[None]:
    """History rows written inside the block (or the decorated pass) name ``actor``."""
    token = _actor.set(actor[:ACTOR_MAX_LENGTH])
    try:
        yield
    finally:
        _actor.reset(token)


def current_actor() -> str:
    return _actor.get()


def only_timestamps(before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    """Whether the change from ``before`` to ``after`` (field attname -> value) moves only
    bookkeeping times. The used price sparkline starts a year before each fetch, so its first
    point's time moves every minute: a sparkline whose prices are the same has not changed."""
    changed = {name for name, value in after.items() if before.get(name) != value} - TIMESTAMPS
    if changed == {SPARKLINE} and _prices(before.get(SPARKLINE)) == _prices(after.get(SPARKLINE)):
        changed = set()
    return not changed and before != after


def _prices(sparkline: Any) -> list[Any] | None:
    """The prices of ``[[unix seconds, cents], ...]``, without their times."""
    if not isinstance(sparkline, list):
        return None
    return [point[1] if isinstance(point, list | tuple) and len(point) == 2 else point for point in sparkline]


class ActorHistory(models.Model):
    """The base of the audited models' history rows: the job that wrote the row."""

    actor = models.CharField(
        max_length=ACTOR_MAX_LENGTH,
        blank=True,
        help_text="The job that wrote this row (backfill, repair, verification...); blank for staff.",
    )

    class Meta:
        abstract = True


@receiver(pre_create_historical_record)
def _stamp_actor(sender, instance, history_instance, **kwargs) -> None:
    if isinstance(history_instance, ActorHistory) and not history_instance.actor:
        history_instance.actor = current_actor()
