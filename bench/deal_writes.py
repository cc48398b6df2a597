"""Writing deals through the one write path, as the backfill does, on PostgreSQL, and what
validating the check constraints costs in it.

Writes ``--writes`` new deals through ``services.upsert_deal``, then refreshes each with a new
price, every write in its own committed transaction (the backfill's ``store_product``), and
prints the milliseconds and SQL statements per write. Then validates one deal's constraints
both ways inside a transaction, as the write path does: ``Deal.validate_constraints`` (what
``full_clean`` runs) and Django's own ``Model.validate_constraints`` (one query per check),
alternating rounds, and prints the ratio.

    .venv/bin/python bench/deal_writes.py [--writes 500] [--rounds 3] [--drop]

``DATABASE_URL`` defaults to postgres://postgres@127.0.0.1:5432/dealsite_writes_bench
(created and migrated when missing; its deals are emptied first); ``--drop`` drops it at
the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/dealsite_writes_bench")

from django.db import connection, models, transaction
from django.test.utils import CaptureQueriesContext

from bench.api_latency import create_database, drop_database  # also sets Django up
from deals import services
from deals.models import Deal

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def inputs(price_cents: int) -> dict:
    """A used book worth buying, as the backfill's analysis hands it over."""
    return {
        "title": "A used book",
        "category": "Books",
        "sales_rank": 50_000,
        "price_now_cents": price_cents,
        "one_year_avg_cents": 3000,
        "list_at_cents": 10000,
        "fba_fee_cents": 550,
        "referral_percent": Decimal(15),
        "keepa_updated_at": NOW,
        "fetched_at": NOW,
    }


def write(asins: list[str], price_cents: int) -> float:
    """Milliseconds per ``upsert_deal``, one committed transaction each."""
    started = time.perf_counter()
    for asin in asins:
        with transaction.atomic():
            services.upsert_deal(asin=asin, reason="bench", now=NOW, **inputs(price_cents))
    return (time.perf_counter() - started) * 1000 / len(asins)


def statements_per_write(asin: str) -> int:
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        services.upsert_deal(asin=asin, reason="bench", now=NOW + timedelta(days=1), **inputs(1234))
    return len(queries)


def validation_ms(validate, deal: Deal, calls: int) -> float:
    """Milliseconds per call of ``validate(deal)`` inside a transaction, as in the write path."""
    with transaction.atomic():
        started = time.perf_counter()
        for _ in range(calls):
            validate(deal)
        return (time.perf_counter() - started) * 1000 / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--drop", action="store_true")
    args = parser.parse_args()

    create_database()
    tables = f"{Deal._meta.db_table}, {Deal.history.model._meta.db_table}"
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {tables} RESTART IDENTITY")
    asins = [f"B{i:09d}" for i in range(args.writes)]
    created = write(asins, 1000)
    updated = write(asins, 1100)
    print(f"{args.writes} writes each: create {created:.2f} ms/write, update {updated:.2f} ms/write")
    print(f"SQL statements per update: {statements_per_write(asins[0])}")

    deal = Deal.objects.get(asin=asins[0])
    ours, djangos = [], []
    for _ in range(args.rounds):
        ours.append(validation_ms(Deal.validate_constraints, deal, args.writes))
        djangos.append(validation_ms(models.Model.validate_constraints, deal, args.writes))
    ours_ms, djangos_ms = statistics.median(ours), statistics.median(djangos)
    print(
        f"validate_constraints, median of {args.rounds} rounds of {args.writes} calls: "
        f"Deal's {ours_ms:.3f} ms, Django's per-constraint {djangos_ms:.3f} ms, "
        f"ratio {djangos_ms / ours_ms:.1f}x"
    )
    print(f"Deal's validation is {ours_ms / updated:.0%} of an update's time")

    if args.drop:
        drop_database()


if __name__ == "__main__":
    main()
