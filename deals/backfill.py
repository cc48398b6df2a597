"""Backfill and repair: fetch products for due work and commit each deal as it is computed.

Work is claimed from the database with a lease (``SELECT ... FOR UPDATE SKIP LOCKED`` on
PostgreSQL), so several workers never take the same ASIN and a killed worker's claim simply
expires. Each product is analysed and written through ``services.upsert_deal`` in its own
transaction: a crash loses at most the deal in flight.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q

from deals import services
from deals.keepa.analytics import analyse
from deals.keepa.errors import InvalidParameter, KeepaError, MalformedResponse, NotFound, TransientError
from deals.keepa.product import parse_product
from deals.models import Candidate, Deal

log = logging.getLogger(__name__)

ROOT_CATEGORY_NAMES = {283155: "Books", 465600: "Textbooks", 2625373011: "Movies & TV", 5174: "Music"}


def pipeline_setting(name: str):
    defaults = {
        "CLAIM_LEASE_SECONDS": 600,
        "SMALL_PLAN_RATE": 20,
        "MAX_BATCH": 100,
        "MAX_ATTEMPTS": 5,
        "RETRY_BACKOFF_SECONDS": 300,
        "REFRESH_AFTER_SECONDS": 24 * 3600,
        "STALE_AFTER_SECONDS": 14 * 24 * 3600,
        "REPAIR_MAX_ATTEMPTS": 3,
    }
    return getattr(settings, "DEALSITE_PIPELINE", {}).get(name, defaults[name])


def batch_size_for(refill_rate: int | None, available_tokens: int | None, backlog: int) -> int:
    """One ASIN a call on small plans (a burst never overdraws much); otherwise as many as
    the bucket can pay for, at most 100 (Keepa's limit per /product call)."""
    if not refill_rate or refill_rate < pipeline_setting("SMALL_PLAN_RATE"):
        return 1
    affordable = max(1, available_tokens or 1)
    return max(1, min(pipeline_setting("MAX_BATCH"), affordable, backlog))


def _claimable(now: datetime):
    return Candidate.objects.filter(status=Candidate.Status.PENDING, due_at__lte=now).filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    )


def backlog_size(now: datetime) -> int:
    return _claimable(now).count()


def claim(limit: int, *, now: datetime) -> list[Candidate]:
    """Lease up to ``limit`` due candidates, highest priority and oldest first."""
    with transaction.atomic():
        queryset = _claimable(now).order_by("-priority", "due_at", "id")
        if connection.features.has_select_for_update_skip_locked:
            queryset = queryset.select_for_update(skip_locked=True)
        ids = list(queryset.values_list("id", flat=True)[:limit])
        lease = now + timedelta(seconds=pipeline_setting("CLAIM_LEASE_SECONDS"))
        Candidate.objects.filter(id__in=ids).update(claimed_until=lease)
    return list(Candidate.objects.filter(id__in=ids).order_by("-priority", "due_at", "id"))


def release(candidates: Sequence[Candidate]) -> None:
    Candidate.objects.filter(id__in=[c.id for c in candidates]).update(claimed_until=None)


def finish(candidate: Candidate, *, note: str = "") -> None:
    Candidate.objects.filter(id=candidate.id).update(
        status=Candidate.Status.DONE, claimed_until=None, attempts=0, last_error=note
    )


def fail(candidate: Candidate, reason: str, *, now: datetime, retryable: bool) -> None:
    """Record a failed attempt; retryable failures come back later, up to a bound."""
    attempts = candidate.attempts + 1
    final = not retryable or attempts >= pipeline_setting("MAX_ATTEMPTS")
    backoff = pipeline_setting("RETRY_BACKOFF_SECONDS") * 2 ** (attempts - 1)
    Candidate.objects.filter(id=candidate.id).update(
        status=Candidate.Status.FAILED if final else Candidate.Status.PENDING,
        attempts=attempts,
        last_error=reason[:2000],
        claimed_until=None,
        due_at=now if final else now + timedelta(seconds=backoff),
    )


def deal_fields(raw: object, *, now: datetime) -> tuple[str | None, dict]:
    """Keepa product JSON -> (asin, keyword arguments for ``upsert_deal``). Never raises."""
    snapshot = parse_product(raw)
    analysis = analyse(snapshot, now=now)
    reasons = list(analysis.incomplete_reasons)
    return snapshot.asin, {
        "title": (snapshot.title or "")[:500],
        "category": ROOT_CATEGORY_NAMES.get(snapshot.root_category, str(snapshot.root_category or "")),
        "category_id": snapshot.root_category,
        "binding": (snapshot.binding or "")[:100],
        "sales_rank": analysis.sales_rank,
        "sales_rank_drops_30": analysis.sales_rank_drops_30,
        "used_offer_count": analysis.used_offer_count,
        "peak_season": analysis.peak_season or "",
        "amazon_sells": analysis.amazon_sells,
        "price_now_cents": analysis.price_now_cents,
        "one_year_avg_cents": analysis.one_year_avg_cents,
        "list_at_cents": analysis.list_at_cents,
        "list_at_suspicious": analysis.list_at_suspicious,
        "fba_fee_cents": analysis.fba_fee_cents,
        "referral_percent": analysis.referral_percent,
        "used_price_history": analysis.used_price_history,
        "keepa_updated_at": analysis.keepa_updated_at,
        "fetched_at": now,
        "incomplete_reasons": reasons,
    }


@dataclass
class RunReport:
    """What a pass did; ``wait_seconds`` is set when it stopped for tokens."""

    processed: int = 0
    complete: int = 0
    incomplete: int = 0
    failed: int = 0
    unchanged: int = 0
    tokens_consumed: int = 0
    wait_seconds: float | None = None
    fatal: str | None = None
    errors: list[str] = field(default_factory=list)
    note: str = ""

    def summary(self) -> str:
        return (
            f"processed={self.processed} complete={self.complete} incomplete={self.incomplete} "
            f"failed={self.failed} unchanged={self.unchanged} tokens={self.tokens_consumed}"
        ) + (f" ({self.note})" if self.note else "")


def _is_cached(candidate: Candidate, known: dict[str, datetime | None]) -> bool:
    """The routine refresh skips a product Keepa has not updated since our last fetch."""
    ours = known.get(candidate.asin)
    return bool(
        candidate.source != Candidate.Source.STAFF
        and ours is not None
        and candidate.feed_last_update is not None
        and candidate.feed_last_update <= ours
    )


def store_product(raw: object, *, reason: str, now: datetime) -> Deal | None:
    """Analyse one product and commit it through the one write path."""
    asin, fields = deal_fields(raw, now=now)
    if asin is None:
        return None
    stale_after = timedelta(seconds=pipeline_setting("STALE_AFTER_SECONDS"))
    result = services.upsert_deal(asin=asin, reason=reason, **fields)
    updated = fields["keepa_updated_at"]
    if updated is not None and updated < now - stale_after:
        services.expire_deal(
            result.deal, reason=f"Keepa has not updated this product since {updated:%Y-%m-%d}"
        )
    return result.deal


def fetch_batch(client, asins: Sequence[str]):
    """One /product call for the batch: history and stats, no offers (1 token a product)."""
    return client.products(list(asins), stats=365, history=True)


def process_batch(
    client,
    batch: Sequence[Candidate],
    report: RunReport,
    *,
    now: datetime,
    on_product: Callable[[Candidate, object], None],
    on_missing: Callable[[Candidate, str], None],
) -> None:
    """Fetch a batch and hand each product (or its absence) to the callbacks.

    A 400/404 on a batch of several is retried one ASIN at a time, so one bad ASIN fails
    alone. Token refusals, 402 and transient errors propagate to the caller.
    """
    try:
        response = fetch_batch(client, [c.asin for c in batch])
    except (InvalidParameter, NotFound) as exc:
        if len(batch) > 1:
            for candidate in batch:
                process_batch(
                    client, [candidate], report, now=now, on_product=on_product, on_missing=on_missing
                )
            return
        on_missing(batch[0], f"Keepa rejected the ASIN: {exc}")
        return
    report.tokens_consumed += max(0, response.reading.tokens_consumed)
    by_asin = {p.get("asin"): p for p in response.products if isinstance(p, dict)}
    for candidate in batch:
        raw = by_asin.get(candidate.asin)
        if raw is None:
            on_missing(candidate, "Keepa returned no product for this ASIN")
        else:
            on_product(candidate, raw)


def run_backfill(
    client,
    *,
    clock,
    plan: Callable[[], tuple[int | None, int | None]],
    time_budget_seconds: float = 240,
    limit: int | None = None,
    progress: Callable[[RunReport], None] | None = None,
) -> RunReport:
    """Work through due candidates until none is due, tokens run out, the budget is spent
    or ``limit`` candidates are settled.

    ``plan()`` returns (refill rate, tokens available) from the bucket, for batch sizing.
    """
    report = RunReport()
    started = clock.time()
    schedule_refreshes(now=_now(clock))
    while clock.time() - started < time_budget_seconds:
        now = _now(clock)
        backlog = backlog_size(now)
        settled = report.processed + report.failed + report.unchanged
        if limit is not None:
            backlog = min(backlog, limit - settled)
        if backlog <= 0:
            break
        rate, available = plan()
        batch = claim(batch_size_for(rate, available, backlog), now=now)
        if not batch:
            break
        known = dict(
            Deal.objects.filter(asin__in=[c.asin for c in batch]).values_list("asin", "keepa_updated_at")
        )
        fresh = []
        for candidate in batch:
            if _is_cached(candidate, known):
                finish(candidate, note="unchanged since last fetch")
                report.unchanged += 1
            else:
                fresh.append(candidate)
        if not fresh:
            continue
        if not _fetch_and_store(client, fresh, report, now=now):
            break
        if progress:
            progress(report)
    return report


def _fetch_and_store(client, batch: Sequence[Candidate], report: RunReport, *, now: datetime) -> bool:
    """Returns False when the pass must stop (tokens, 402); the batch is then released."""
    from deals.keepa.errors import NotEnoughTokens, PaymentRequired

    def stored(candidate: Candidate, raw: object) -> None:
        with transaction.atomic():
            deal = store_product(raw, reason="backfill", now=now)
            finish(candidate)
        report.processed += 1
        if deal is not None and deal.quality == Deal.Quality.COMPLETE:
            report.complete += 1
        else:
            report.incomplete += 1

    def missing(candidate: Candidate, reason: str) -> None:
        fail(candidate, reason, now=now, retryable=False)
        report.failed += 1

    try:
        process_batch(client, batch, report, now=now, on_product=stored, on_missing=missing)
    except NotEnoughTokens as exc:
        release(batch)
        report.wait_seconds = exc.wait_seconds
        return False
    except PaymentRequired as exc:
        release(batch)
        report.fatal = str(exc)
        return False
    except (TransientError, MalformedResponse, KeepaError) as exc:
        for candidate in Candidate.objects.filter(id__in=[c.id for c in batch], claimed_until__isnull=False):
            fail(candidate, f"{type(exc).__name__}: {exc}", now=now, retryable=True)
        report.errors.append(str(exc))
    return True


def schedule_refreshes(*, now: datetime, limit: int = 500) -> int:
    """Known deals that never reappear in the feed are refreshed on their own schedule;
    ones we could not refresh for too long are hidden (expired) with a reason."""
    refresh_before = now - timedelta(seconds=pipeline_setting("REFRESH_AFTER_SECONDS"))
    stale_before = now - timedelta(seconds=pipeline_setting("STALE_AFTER_SECONDS"))
    for deal in Deal.objects.filter(expired_at__isnull=True, fetched_at__lt=stale_before)[:limit]:
        services.expire_deal(deal, reason=f"not refreshed since {deal.fetched_at:%Y-%m-%d}")
    pending = Candidate.objects.filter(asin=OuterRef("asin"), status=Candidate.Status.PENDING)
    due = list(
        Deal.objects.filter(expired_at__isnull=True, fetched_at__lt=refresh_before)
        .exclude(quality=Deal.Quality.UNREPAIRABLE)
        .exclude(Exists(pending))
        .order_by("fetched_at")
        .values_list("asin", flat=True)[:limit]
    )
    for asin in due:
        Candidate.objects.update_or_create(
            asin=asin,
            defaults={
                "status": Candidate.Status.PENDING,
                "source": Candidate.Source.REFRESH,
                "priority": -1,
                "due_at": now,
                "attempts": 0,
                "claimed_until": None,
                "feed_last_update": None,
            },
        )
    return len(due)


def request_refetch(asins: Sequence[str], *, now: datetime) -> int:
    """Staff asked for a re-fetch: top priority, the cache ignored."""
    for asin in asins:
        Candidate.objects.update_or_create(
            asin=asin,
            defaults={
                "status": Candidate.Status.PENDING,
                "source": Candidate.Source.STAFF,
                "priority": 10,
                "due_at": now,
                "attempts": 0,
                "claimed_until": None,
            },
        )
    return len(asins)


def run_repair(client, *, clock, limit: int = 100) -> RunReport:
    """Re-fetch incomplete deals ignoring the cache; after N failures a deal is unrepairable."""
    from deals.keepa.errors import NotEnoughTokens, PaymentRequired

    report = RunReport()
    now = _now(clock)
    max_attempts = pipeline_setting("REPAIR_MAX_ATTEMPTS")
    for deal in list(Deal.objects.incomplete(now=now).order_by("next_repair_at", "id")[:limit]):
        try:
            response = fetch_batch(client, [deal.asin])
        except NotEnoughTokens as exc:
            report.wait_seconds = exc.wait_seconds
            break
        except PaymentRequired as exc:
            report.fatal = str(exc)
            break
        except KeepaError as exc:
            services.record_repair_failure(
                deal, f"{type(exc).__name__}: {exc}", max_attempts=max_attempts, now=now
            )
            report.failed += 1
            continue
        report.tokens_consumed += max(0, response.reading.tokens_consumed)
        raw = next((p for p in response.products if isinstance(p, dict) and p.get("asin") == deal.asin), None)
        report.processed += 1
        if raw is None:
            services.record_repair_failure(
                deal, "Keepa returned no product for this ASIN", max_attempts=max_attempts, now=now
            )
            report.failed += 1
            continue
        with transaction.atomic():
            repaired = store_product(raw, reason="repair", now=now)
            if repaired is not None and repaired.quality != Deal.Quality.COMPLETE:
                services.record_repair_failure(
                    repaired,
                    repaired.quality_reason or "still incomplete",
                    max_attempts=max_attempts,
                    now=now,
                )
        if repaired is not None and repaired.quality == Deal.Quality.COMPLETE:
            report.complete += 1
        else:
            report.incomplete += 1
    return report


def _now(clock) -> datetime:
    from datetime import UTC

    return datetime.fromtimestamp(clock.time(), tz=UTC)
