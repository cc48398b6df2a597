"""The candidate backlog: how an ASIN becomes due, and the lease that lets many workers
share it.

Work is claimed from the database with a lease (``SELECT ... FOR UPDATE SKIP LOCKED`` on
PostgreSQL), so several workers never take the same ASIN and a killed worker's claim simply
expires. Which candidates are due or claimable is ``CandidateQuerySet``'s to say.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q

from deals.models import Candidate

Source = Candidate.Source

#: Staff requests jump the queue; routine refreshes wait behind new deals.
PRIORITY = {Source.STAFF: 10, Source.DISCOVERY: 0, Source.REFRESH: -1}

#: A discovered candidate whose feed prices promise less than this is fetched only when no
#: better one is due, and does not count towards the backlog discovery keeps.
PROMISE_FLOOR_CENTS = 0

#: Where the count of Keepa faults in a row stops (the backoff is long capped by then).
TRANSIENT_FAILURES_CAP = 10_000


def _pipeline(name: str):
    return settings.DEALSITE_PIPELINE[name]


def claim_order() -> tuple:
    """Highest priority first; among equals, with ``RANK_BY_FEED``, what the feed's prices
    promise (so statistics tokens go first where a profit is likely), then longest due."""
    if _pipeline("RANK_BY_FEED"):
        return ("-priority", F("feed_profit_cents").desc(nulls_last=True), "due_at", "id")
    return ("-priority", "due_at", "id")


def worth_fetching() -> Q:
    """Candidates the backlog counts: with ``RANK_BY_FEED``, not the ones whose feed prices
    promise no profit (refreshes and staff requests carry no promise and always count)."""
    if not _pipeline("RANK_BY_FEED"):
        return Q()
    return Q(feed_profit_cents__isnull=True) | Q(feed_profit_cents__gte=PROMISE_FLOOR_CENTS)


def _due_fields(
    source: str, now: datetime, feed_last_update: datetime | None, feed_profit_cents: int | None = None
) -> dict:
    """Everything "due now" means, whatever the candidate was before."""
    return {
        "source": source,
        "priority": PRIORITY[source],
        "status": Candidate.Status.PENDING,
        "due_at": now,
        "claimed_until": None,
        "attempts": 0,
        "transient_failures": 0,
        "last_error": "",
        "feed_last_update": feed_last_update,
        "feed_profit_cents": feed_profit_cents,
        "updated_at": now,
    }


def new_candidate(
    asin: str,
    *,
    source: str,
    now: datetime,
    feed_last_update: datetime | None = None,
    feed_profit_cents: int | None = None,
) -> Candidate:
    """An unsaved due candidate, for bulk inserts."""
    return Candidate(
        asin=asin, discovered_at=now, **_due_fields(source, now, feed_last_update, feed_profit_cents)
    )


def make_due(
    asin: str,
    *,
    source: str,
    now: datetime,
    feed_last_update: datetime | None = None,
    feed_profit_cents: int | None = None,
) -> None:
    """Queue ``asin`` for a fetch now, new or known, pending, done or failed.

    ``feed_last_update`` is Keepa's lastUpdate as the deal feed reported it: a routine fetch
    skips a product not updated since our last fetch; None (refreshes, staff) never skips.
    ``feed_profit_cents`` is what the feed's prices promise (``claim_order``).
    """
    due = _due_fields(source, now, feed_last_update, feed_profit_cents)
    Candidate.objects.update_or_create(asin=asin, defaults=due, create_defaults={"discovered_at": now, **due})


def request_refetch(asins: Sequence[str], *, now: datetime) -> int:
    """Staff asked for a re-fetch: top priority, and the product is fetched even when Keepa
    has not updated it."""
    for asin in asins:
        make_due(asin, source=Source.STAFF, now=now)
    return len(asins)


def retry_failed(*, now: datetime) -> int:
    """Every candidate that failed for good is due again with fresh attempts: the operator's
    way back after a cause outside the ASINs (an outage from before faults backed off, a
    fixed bug) failed many at once."""
    return Candidate.objects.filter(status=Candidate.Status.FAILED).update(
        status=Candidate.Status.PENDING,
        due_at=now,
        claimed_until=None,
        attempts=0,
        transient_failures=0,
        updated_at=now,
    )


def claim(limit: int, *, now: datetime) -> list[Candidate]:
    """Lease up to ``limit`` claimable candidates in ``claim_order``."""
    order = claim_order()
    with transaction.atomic():
        queryset = Candidate.objects.claimable(now).order_by(*order)
        if connection.features.has_select_for_update_skip_locked:
            queryset = queryset.select_for_update(skip_locked=True)
        ids = list(queryset.values_list("id", flat=True)[:limit])
        lease = now + timedelta(seconds=_pipeline("CLAIM_LEASE_SECONDS"))
        Candidate.objects.filter(id__in=ids).update(claimed_until=lease)
    return list(Candidate.objects.filter(id__in=ids).order_by(*order))


def release(candidates: Sequence[Candidate]) -> None:
    """Hand claimed candidates back untouched (the pass stopped before fetching them)."""
    Candidate.objects.filter(id__in=[c.id for c in candidates]).update(claimed_until=None)


def finish(candidate: Candidate, *, now: datetime, note: str = "") -> None:
    Candidate.objects.filter(id=candidate.id).update(
        status=Candidate.Status.DONE,
        claimed_until=None,
        attempts=0,
        transient_failures=0,
        last_error=note,
        updated_at=now,
    )


def transient_backoff_seconds(failures: int) -> int:
    """How long a candidate waits after its ``failures``-th Keepa fault in a row: doubling from
    ``TRANSIENT_BACKOFF_SECONDS``, at most ``TRANSIENT_BACKOFF_MAX_SECONDS``, so a long outage
    costs a try now and then, and the backlog moves within that maximum once Keepa is back."""
    first, most = _pipeline("TRANSIENT_BACKOFF_SECONDS"), _pipeline("TRANSIENT_BACKOFF_MAX_SECONDS")
    return min(most, first * 2 ** min(max(0, failures - 1), 20))


def defer(candidates: Sequence[Candidate], reason: str, *, now: datetime) -> None:
    """Keepa failed the call, not the ASIN (5xx, timeout, a cut-off answer): hand the claimed
    candidates back to try later, their attempts untouched. Spending attempts here turned hours
    of Keepa 500s into a backlog failed for good."""
    for candidate in candidates:
        failures = min(candidate.transient_failures + 1, TRANSIENT_FAILURES_CAP)
        Candidate.objects.filter(id=candidate.id).update(
            claimed_until=None,
            transient_failures=failures,
            last_error=reason[:2000],
            due_at=now + timedelta(seconds=transient_backoff_seconds(failures)),
            updated_at=now,
        )


def fail(candidate: Candidate, reason: str, *, now: datetime, retryable: bool) -> None:
    """Record a failed attempt about this ASIN alone; retryable failures come back later with
    a doubling backoff, up to ``MAX_ATTEMPTS``. Keepa's own faults go to ``defer``."""
    attempts = candidate.attempts + 1
    final = not retryable or attempts >= _pipeline("MAX_ATTEMPTS")
    backoff = _pipeline("RETRY_BACKOFF_SECONDS") * 2 ** (attempts - 1)
    Candidate.objects.filter(id=candidate.id).update(
        status=Candidate.Status.FAILED if final else Candidate.Status.PENDING,
        attempts=attempts,
        last_error=reason[:2000],
        claimed_until=None,
        due_at=now if final else now + timedelta(seconds=backoff),
        updated_at=now,
    )


def why_idle(now: datetime) -> str:
    """Why nothing is claimable at ``now``, in an operator's words: the due candidates are
    leased to running workers, the next one falls due later, or the backlog is empty."""
    pending = Candidate.objects.filter(status=Candidate.Status.PENDING)
    leased_until = (
        pending.filter(due_at__lte=now, claimed_until__gte=now)
        .order_by("claimed_until")
        .values_list("claimed_until", flat=True)
        .first()
    )
    if leased_until is not None:
        return (
            "every due candidate is claimed by a running worker "
            f"(the first lease ends at {leased_until:%Y-%m-%d %H:%M:%S} UTC)"
        )
    next_due = pending.filter(due_at__gt=now).order_by("due_at").values_list("due_at", flat=True).first()
    if next_due is not None:
        return f"the backlog has nothing due; the next candidate is due at {next_due:%Y-%m-%d %H:%M:%S} UTC"
    return "the backlog is empty (discover adds candidates; known deals return when their refresh is due)"
