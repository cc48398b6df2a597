"""From a Keepa product to a committed deal: the step backfill and repair share.

Each product is analysed and written through ``services.upsert_deal`` in its own
transaction, so a crash loses at most the deal in flight.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from django.conf import settings

from deals import services
from deals.keepa.analytics import analyse
from deals.keepa.facts import ROOT_CATEGORY_NAMES
from deals.keepa.product import parse_product
from deals.models import AverageSource, Deal

#: analytics' name for where the 1yr average came from -> the stored choice.
AVERAGE_SOURCES = {"sales": AverageSource.SALES, "stats.avg365": AverageSource.KEEPA}


def fetch_products(client, asins: Sequence[str], *, offers: int | None = None):
    """One /product call: history and stats (1 token a product); with ``offers`` the live
    offers too, at 6 tokens per page of 10 instead (the every-candidate policy)."""
    if offers:
        return client.products(list(asins), stats=365, history=True, offers=offers, only_live_offers=True)
    return client.products(list(asins), stats=365, history=True)


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
        "trough_season": analysis.trough_season or "",
        "expected_trough_cents": analysis.expected_trough_cents,
        "deal_trust_percent": analysis.deal_trust_percent,
        "amazon_sells": analysis.amazon_sells,
        "price_now_cents": analysis.price_now_cents,
        "one_year_avg_cents": analysis.one_year_avg_cents,
        "one_year_avg_source": AVERAGE_SOURCES.get(analysis.one_year_avg_source, ""),
        "list_at_cents": analysis.list_at_cents,
        "list_at_suspicious": analysis.list_at_suspicious,
        "fba_fee_cents": analysis.fba_fee_cents,
        "referral_percent": analysis.referral_percent,
        "used_price_history": analysis.used_price_history,
        "chart_history": analysis.chart,
        "list_at_basis": analysis.list_at_basis,
        "keepa_updated_at": analysis.keepa_updated_at,
        "fetched_at": now,
        "incomplete_reasons": reasons,
    }


def store_product(raw: object, *, reason: str, now: datetime) -> Deal | None:
    """Analyse one product and commit it through the one write path; a product Keepa has not
    updated for ``STALE_AFTER_SECONDS`` is kept hidden (expired) with the reason."""
    asin, fields = deal_fields(raw, now=now)
    if asin is None:
        return None
    stale_after = timedelta(seconds=settings.DEALSITE_PIPELINE["STALE_AFTER_SECONDS"])
    result = services.upsert_deal(asin=asin, reason=reason, now=now, **fields)
    updated = fields["keepa_updated_at"]
    if updated is not None and updated < now - stale_after:
        services.expire_deal(
            result.deal, reason=f"Keepa has not updated this product since {updated:%Y-%m-%d}", now=now
        )
    return result.deal
