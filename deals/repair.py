"""Repair: re-fetch deals hidden for missing or nonsensical data, ignoring any cache.

A deal that a repair does not fix backs off; after ``REPAIR_MAX_ATTEMPTS`` it is
unrepairable (still kept, still visible to staff). A transient Keepa fault (5xx, timeout,
cut-off answer) is no failure of the deal: the pass stops and the next one tries again.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction

from deals import services
from deals.audit import acting_as
from deals.ingest import fetch_products, store_product
from deals.keepa.errors import KeepaError, TransientError
from deals.models import Deal
from deals.passes import RunReport, stop_for_tokens
from tokens.clock import Clock


@acting_as("repair")
def run_repair(client, *, clock: Clock, limit: int = 100, report: RunReport | None = None) -> RunReport:
    """Re-fetch up to ``limit`` incomplete deals, most overdue first."""
    report = report if report is not None else RunReport()
    now = clock.now()
    max_attempts = settings.DEALSITE_PIPELINE["REPAIR_MAX_ATTEMPTS"]

    def failed(deal: Deal, reason: str) -> None:
        services.record_repair_failure(deal, reason, max_attempts=max_attempts, now=now)
        report.failed += 1

    for deal in list(Deal.objects.incomplete(now=now).order_by("next_repair_at", "id")[:limit]):
        response = None
        try:
            with stop_for_tokens(report):
                response = fetch_products(client, [deal.asin])
        except TransientError as exc:
            report.keepa_fault = f"{type(exc).__name__}: {exc}"
            report.errors.append(str(exc))
            break
        except KeepaError as exc:
            failed(deal, f"{type(exc).__name__}: {exc}")
            continue
        if report.stopped:
            break
        report.spend("statistics", response.reading)
        raw = next((p for p in response.products if isinstance(p, dict) and p.get("asin") == deal.asin), None)
        report.processed += 1
        if raw is None:
            failed(deal, "Keepa returned no product for this ASIN")
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
