"""What the backfill picks before each batch, at 1,000,000 deals and 1,000,000 pending
candidates on PostgreSQL.

- The next deal to verify (``verification.next_to_verify``) next to the full ranking it
  replaces (``ranked(now).first()``: every deal worth checking sorted by profit per expected
  token); its worst case, no deal worth checking, walks the profit index down to the
  seller's minimum profit (imitated by a filter no row passes). And ``VerifyRate.recent``,
  learned once a pass.
- The next candidates to fetch (``backlog.claim``, rolled back) among a million pending, five
  in six promising no profit as the feed's prices go (they pile up: fetched last), and the
  count of claimable ones the pass sizes its batch by, bounded and whole.

    .venv/bin/python bench/backfill_picks.py [--rows 1000000] [--reload] [--drop]

Uses the deals and the database of ``bench/api_latency.py`` (``DATABASE_URL`` defaults to
postgres://postgres@127.0.0.1:5432/dealsite_bench; loaded unless already there); the
candidates are replaced on every run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from django.db import connection, transaction

from bench import api_latency  # also sets Django up
from deals import backlog, verification
from deals.models import Candidate, Deal
from tokens.clock import get_clock


def load_candidates(count: int) -> None:
    """``count`` pending candidates due over the last 30 days, one in six promising a profit."""
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {Candidate._meta.db_table}")
        cursor.execute(
            f"""INSERT INTO {Candidate._meta.db_table} (asin, source, status, priority, due_at,
                    feed_profit_cents, attempts, transient_failures, last_error, discovered_at, updated_at)
                SELECT 'C' || lpad(n::text, 9, '0'), 'discovery', 'pending', 0,
                       now() - (n % 43200) * interval '1 minute',
                       CASE WHEN n % 6 = 0 THEN n % 5000 + 1 ELSE -(n % 3000 + 1) END,
                       0, 0, '', now(), now()
                FROM generate_series(1, {int(count)}) AS n"""
        )
        cursor.execute(f"VACUUM ANALYZE {Candidate._meta.db_table}")


def claim_rolled_back(now, *, without_its_index: bool = False) -> None:
    with transaction.atomic():
        if without_its_index:  # as before migration 0016
            with connection.cursor() as cursor:
                cursor.execute("DROP INDEX candidate_claim_idx")
        backlog.claim(20, now=now)
        transaction.set_rollback(True)


def median_ms(call, repeat: int = 7) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--reload", action="store_true", help="load the rows even if they are there")
    parser.add_argument("--drop", action="store_true", help="drop the bench database at the end")
    args = parser.parse_args()

    api_latency.create_database()
    api_latency.load(args.rows, args.reload)
    now = get_clock().now()
    worth = verification.worth_checking(now).count()
    picked, head = verification.next_to_verify(now), verification.ranked(now).first()
    nothing_worth = verification.worth_checking(now).filter(title="").order_by("-profit_cents", "asin")
    load_candidates(args.rows)
    rows = [
        ("ranked(now).first()  (before)", median_ms(lambda: verification.ranked(now).first())),
        ("next_to_verify(now)", median_ms(lambda: verification.next_to_verify(now))),
        ("next_to_verify, none worth it", median_ms(lambda: nothing_worth.first())),
        ("VerifyRate.recent(now)", median_ms(lambda: verification.VerifyRate.recent(now))),
        (
            "claim(20) (before: no claim index)",
            median_ms(lambda: claim_rolled_back(now, without_its_index=True)),
        ),
        ("claim(20) of the candidates", median_ms(lambda: claim_rolled_back(now))),
        ("claimable count, up to 100", median_ms(lambda: Candidate.objects.claimable(now)[:100].count())),
        ("claimable count, whole (before)", median_ms(lambda: Candidate.objects.claimable(now).count())),
    ]
    print(f"{Deal.objects.count():,} deals, {worth:,} worth checking; the same pick: {picked == head}")
    print(f"{Candidate.objects.count():,} pending candidates")
    for label, ms in rows:
        print(f"{label:36} {ms:9.1f} ms (median of 7)")
    print(f"ratio before / next_to_verify: {rows[0][1] / rows[1][1]:.0f}x")
    if args.drop:
        api_latency.drop_database()


if __name__ == "__main__":
    main()
