"""Choosing the next deal to verify, at 1,000,000 deals on PostgreSQL.

The backfill asks, before each batch, which deal's live offers the next tokens would buy
(``verification.next_to_verify``) and, once a pass, how often recent checks verified
(``VerifyRate.recent``). This times both next to the full ranking they replace
(``ranked(now).first()``: every deal worth checking sorted by profit per expected token),
and the worst case of the new pick: no deal worth checking, so the profit index is walked
to the seller's minimum profit (imitated by a filter no row passes).

    .venv/bin/python bench/verify_pick.py [--rows 1000000] [--reload] [--drop]

Uses the rows and the database of ``bench/api_latency.py`` (``DATABASE_URL`` defaults to
postgres://postgres@127.0.0.1:5432/dealsite_bench; loaded unless already there).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import api_latency  # also sets Django up
from deals import verification
from deals.models import Deal
from tokens.clock import get_clock


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
    rows = [
        ("ranked(now).first()  (before)", median_ms(lambda: verification.ranked(now).first())),
        ("next_to_verify(now)", median_ms(lambda: verification.next_to_verify(now))),
        ("next_to_verify, none worth it", median_ms(lambda: nothing_worth.first())),
        ("VerifyRate.recent(now)", median_ms(lambda: verification.VerifyRate.recent(now))),
    ]
    print(f"{Deal.objects.count():,} deals, {worth:,} worth checking; the same pick: {picked == head}")
    for label, ms in rows:
        print(f"{label:32} {ms:9.1f} ms (median of 7)")
    print(f"ratio before / next_to_verify: {rows[0][1] / rows[1][1]:.0f}x")
    if args.drop:
        api_latency.drop_database()


if __name__ == "__main__":
    main()
