"""Backfill: fetch products for the due backlog and commit each deal as it is computed, and
spend the offer tokens of verification where they are worth more.

Candidates are leased from the backlog (``deals.backlog``), fetched in batches sized to the
plan, and settled one by one: a crash loses at most the deal in flight. Between batches the
pass asks ``verification.offers_first`` whether the next tokens buy the best estimate's live
offers instead, so statistics and offers share one budget by value per token and neither
starves (``DEALSITE_VERIFICATION``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef

from deals import backlog, services, verification
from deals.audit import acting_as
from deals.ingest import fetch_products, store_product
from deals.keepa.errors import KeepaError, NotEnoughTokens, PaymentRequired, TransientError
from deals.keepa.facts import MIN_OFFERS
from deals.models import Candidate, Deal
from deals.passes import RunReport, stop_for_tokens
from tokens.clock import Clock


def _pipeline(name: str):
    return settings.DEALSITE_PIPELINE[name]


def batch_size_for(refill_rate: int | None, available_tokens: int | None, backlog_size: int) -> int:
    """One ASIN a call on small plans (a burst never overdraws much); otherwise as many as
    the bucket can pay for, at most 100 (Keepa's limit per /product call)."""
    if not refill_rate or refill_rate < _pipeline("SMALL_PLAN_RATE"):
        return 1
    affordable = max(1, available_tokens or 1)
    return max(1, min(_pipeline("MAX_BATCH"), affordable, backlog_size))


def unchanged_since_fetch(candidate: Candidate, fetched_update: datetime | None) -> bool:
    """A routine fetch skips a product Keepa has not updated since the one we hold
    (``fetched_update`` is its Keepa lastUpdate); staff requests always fetch."""
    return bool(
        candidate.source != Candidate.Source.STAFF
        and fetched_update is not None
        and candidate.feed_last_update is not None
        and candidate.feed_last_update <= fetched_update
    )


def process_batch(
    client,
    batch: Sequence[Candidate],
    report: RunReport,
    *,
    on_product: Callable[[Candidate, object], None],
    on_missing: Callable[[Candidate, str], None],
    on_error: Callable[[Candidate, str], None] | None = None,
    offers: int | None = None,
) -> None:
    """Fetch a batch (with ``offers``, its live offers too) and hand each product (or its
    absence, or its error) to the callbacks.

    Token refusals, 402 and transient faults (Keepa's trouble, whatever the ASINs) propagate
    to the caller. Any other error on a batch of several is retried one ASIN at a time, so only
    an ASIN that fails alone is blamed: a 400/404 marks it missing, anything else goes to
    ``on_error`` (or propagates without one).
    """
    try:
        response = fetch_products(client, [c.asin for c in batch], offers=offers)
    except (NotEnoughTokens, PaymentRequired, TransientError):
        raise
    except KeepaError as exc:
        if len(batch) > 1:
            for candidate in batch:
                process_batch(
                    client,
                    [candidate],
                    report,
                    on_product=on_product,
                    on_missing=on_missing,
                    on_error=on_error,
                    offers=offers,
                )
            return
        if exc.status in (400, 404, 405):
            on_missing(batch[0], f"Keepa rejected the ASIN: {exc}")
            return
        if on_error is None:
            raise
        on_error(batch[0], f"{type(exc).__name__}: {exc}")
        return
    report.spend("offers" if offers else "statistics", response.reading)
    by_asin = {p.get("asin"): p for p in response.products if isinstance(p, dict)}
    for candidate in batch:
        raw = by_asin.get(candidate.asin)
        if raw is None:
            on_missing(candidate, "Keepa returned no product for this ASIN")
        else:
            on_product(candidate, raw)


@acting_as("backfill")
def run_backfill(
    client,
    *,
    clock: Clock,
    plan: Callable[[], tuple[int | None, int | None]],
    time_budget_seconds: float = 240,
    limit: int | None = None,
    progress: Callable[[RunReport], None] | None = None,
    report: RunReport | None = None,
) -> RunReport:
    """Work through due candidates until none is due, tokens run out, the budget is spent
    or ``limit`` candidates are settled.

    ``plan()`` returns (refill rate, tokens available) from the bucket, for batch sizing.
    """
    report = report if report is not None else RunReport()
    ranked_offers = settings.DEALSITE_VERIFICATION["POLICY"] == "value"
    offers_with_products = settings.DEALSITE_VERIFICATION["POLICY"] == "every_candidate"
    started = clock.time()
    schedule_refreshes(now=clock.now())
    tried: set[int] = set()
    # Learned once a pass, when a deal first asks for offers: it moves slowly, and at a
    # million deals counting it is a scan that an idle pass need not pay.
    verify_rate: verification.VerifyRate | None = None
    while clock.time() - started < time_budget_seconds:
        now = clock.now()
        # Counted no further than a batch can take: the pile may be a million long.
        claimable = Candidate.objects.claimable(now)[: _pipeline("MAX_BATCH")].count()
        settled = report.processed + report.failed + report.unchanged
        if limit is not None:
            claimable = min(claimable, limit - settled)
        best = verification.next_to_verify(now, skip=tried) if ranked_offers else None
        if best is not None:
            verify_rate = verify_rate or verification.VerifyRate.recent(now)
        if best is not None and verification.offers_first(
            best, backlog=claimable, report=report, now=now, rate=verify_rate
        ):
            tried.add(best.pk)
            try:
                verification.verify(client, [best], now=now, report=report)
            except KeepaError as exc:  # transient: nothing was written; the next pass tries again
                report.errors.append(f"{type(exc).__name__}: {exc}")
                break
            if report.stopped:
                break
            continue
        if claimable <= 0:
            break
        rate, available = plan()
        if offers_with_products and available is not None:
            available //= verification.expected_cost(None) + 1  # the worst offers page and a seller
        batch = backlog.claim(batch_size_for(rate, available, claimable), now=now)
        if not batch:
            break
        fetched_updates = dict(
            Deal.objects.filter(asin__in=[c.asin for c in batch]).values_list("asin", "keepa_updated_at")
        )
        fresh = []
        for candidate in batch:
            if unchanged_since_fetch(candidate, fetched_updates.get(candidate.asin)):
                backlog.finish(candidate, now=now, note="unchanged since last fetch")
                report.unchanged += 1
            else:
                fresh.append(candidate)
        if not fresh:
            continue
        _fetch_and_store(client, fresh, report, now=now)
        if report.stopped or report.keepa_fault:
            break
        if progress:
            progress(report)
    return report


def _fetch_and_store(client, batch: Sequence[Candidate], report: RunReport, *, now: datetime) -> None:
    """Settle every candidate of the batch; on a stop for tokens the batch is released.
    Under the every-candidate policy the same call brings the live offers, recorded once the
    batch is stored (one /seller call for all its sellers)."""
    offers = MIN_OFFERS if settings.DEALSITE_VERIFICATION["POLICY"] == "every_candidate" else None
    with_offers: list[tuple[Deal, object]] = []

    def stored(candidate: Candidate, raw: object) -> None:
        with transaction.atomic():
            deal = store_product(raw, reason="backfill", now=now)
            backlog.finish(candidate, now=now)
        if offers and deal is not None and deal.quality == Deal.Quality.COMPLETE:
            with_offers.append((deal, raw))
        report.processed += 1
        if deal is not None and deal.quality == Deal.Quality.COMPLETE:
            report.complete += 1
        else:
            report.incomplete += 1

    def missing(candidate: Candidate, reason: str) -> None:
        backlog.fail(candidate, reason, now=now, retryable=False)
        report.failed += 1

    def errored(candidate: Candidate, reason: str) -> None:
        backlog.fail(candidate, reason, now=now, retryable=True)
        report.errors.append(reason)

    try:
        with stop_for_tokens(report, on_stop=lambda: backlog.release(batch)):
            process_batch(
                client, batch, report, on_product=stored, on_missing=missing, on_error=errored, offers=offers
            )
            if with_offers:
                deals, products = zip(*with_offers, strict=True)
                verification.record_offers(client, deals, products, now=now, report=report)
    except TransientError as exc:
        # Keepa's trouble, not the ASINs': what the batch still holds backs off, attempts
        # untouched, and the pass stops rather than spend the backlog on a failing Keepa.
        reason = f"{type(exc).__name__}: {exc}"
        backlog.defer(_still_held(batch), reason, now=now)
        report.keepa_fault = reason
        report.errors.append(str(exc))
    except KeepaError as exc:
        for candidate in _still_held(batch):
            backlog.fail(candidate, f"{type(exc).__name__}: {exc}", now=now, retryable=True)
        report.errors.append(str(exc))


def _still_held(batch: Sequence[Candidate]) -> list[Candidate]:
    """The batch's candidates not yet settled (stored or failed ones gave up their claim)."""
    return list(Candidate.objects.filter(id__in=[c.id for c in batch], claimed_until__isnull=False))


def schedule_refreshes(*, now: datetime, limit: int = 500) -> int:
    """Known deals that never reappear in the feed are refreshed on their own schedule;
    ones we could not refresh for too long are hidden (expired) with a reason."""
    refresh_before = now - timedelta(seconds=_pipeline("REFRESH_AFTER_SECONDS"))
    stale_before = now - timedelta(seconds=_pipeline("STALE_AFTER_SECONDS"))
    for deal in Deal.objects.filter(expired_at__isnull=True, fetched_at__lt=stale_before)[:limit]:
        services.expire_deal(deal, reason=f"not refreshed since {deal.fetched_at:%Y-%m-%d}", now=now)
    pending = Candidate.objects.filter(asin=OuterRef("asin"), status=Candidate.Status.PENDING)
    due = list(
        Deal.objects.filter(expired_at__isnull=True, fetched_at__lt=refresh_before)
        .exclude(quality=Deal.Quality.UNREPAIRABLE)
        .exclude(Exists(pending))
        .order_by("fetched_at")
        .values_list("asin", flat=True)[:limit]
    )
    for asin in due:
        backlog.make_due(asin, source=Candidate.Source.REFRESH, now=now)
    return len(due)
