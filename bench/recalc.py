"""Recalculating every deal after a change of the business costs, at 1,000,000 deals on
PostgreSQL, with no Keepa token spent.

Loads a million deals the way ``bench/api_latency.py`` does (PostgreSQL COPY, 10% zombies of
every kind) unless they are there, then alternates two ways of applying a new prep fee:

- ``services.update_costs``: what the admin's Save runs (lock and save the costs row with its
  history entry, then every deal's figures and quality in one UPDATE built from Django
  expressions, all in one transaction, committed);
- a single hand-written ``UPDATE`` of the same expressions, with the same new costs.

Each run starts from a vacuumed table (a million rewritten rows leave a million dead ones),
and each hand-written run repeats the costs of the service run before it, so the bench also
checks that the two wrote the same figures. Goal: the service at most 60 s.

The time depends mostly on PostgreSQL's ``shared_buffers`` against the table's size (printed
first): docs/OPERATIONS.md, "PostgreSQL for a large deal table".

    .venv/bin/python bench/recalc.py [--rows 1000000] [--rounds 2] [--reload] [--drop]

``DATABASE_URL`` defaults to postgres://postgres@127.0.0.1:5432/dealsite_recalc_bench
(created and migrated when missing); ``--drop`` drops that database at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/dealsite_recalc_bench")

from django.db import connection, transaction

from bench import api_latency  # also sets Django up
from deals import services
from deals.costs import current_costs
from deals.models import MARGIN_FLOOR, BusinessCosts, Deal
from deals.pricing import BusinessRules
from deals.recalc import OWN_REASONS, SEPARATOR

GOAL_SECONDS = 60.0
#: What the runs compare: every column the recalculation writes but the timestamp.
FIGURES = (
    "list_at_cents",
    *services.DERIVED,
    "percent_down",
    "quality",
    "quality_reason",
    "repair_attempts",
    "next_repair_at",
)


def _half_up(numerator: str, denominator: str) -> str:
    return (
        f"(CASE WHEN ({numerator}) >= 0 THEN (({numerator}) * 2 + {denominator}) / (({denominator}) * 2) "
        f"ELSE -((-({numerator}) * 2 + {denominator}) / (({denominator}) * 2)) END)"
    )


def hand_written_update(rules: BusinessRules) -> str:
    """``deals.recalc`` written out by hand as one UPDATE (PostgreSQL)."""
    buy = (
        "(CASE WHEN verification <> 'estimate' AND buy_price_cents IS NOT NULL "
        "THEN buy_price_cents ELSE price_now_cents END)"
    )
    list_at = "COALESCE(list_at_override_cents, list_at_computed_cents)"
    tax = "0" if rules.tax_exempt else f"(({buy} * {int(rules.tax_percent * 1000)} * 2 + 100000) / 200000)"
    all_in = f"({buy} + {tax} + {rules.prep_fee_cents + rules.inbound_shipping_cents})"
    fba = f"COALESCE(fba_fee_cents, {rules.default_fba_fee_cents})"
    rate = f"COALESCE(round(referral_percent * 100)::bigint, {int(rules.default_referral_percent * 100)})"
    fees = f"(({list_at} * {rate} * 2 + 10000) / 20000 + {fba})"
    profit = f"({list_at} - {all_in} - {fees})"
    margin = _half_up(f"{profit} * 10000", list_at)
    needed = f"({all_in} + {fba} + ({all_in} * {int(rules.markup_percent * 100)} * 2 + 10000) / 20000)"
    min_list = (
        f"(CASE WHEN {rate} >= 10000 THEN NULL WHEN {needed} < 1 THEN 1 "
        f"ELSE ({needed} * 10000 - 5000) / (10000 - {rate}) + 1 END)"
    )
    sane = f"{margin} >= {MARGIN_FLOOR * 100}"

    def checked(expression: str) -> str:
        return f"(CASE WHEN {sane} THEN {expression} END)"

    wrapped = f"('{SEPARATOR}' || quality_reason || '{SEPARATOR}')"
    for reason in OWN_REASONS:
        own = f"'{SEPARATOR}{reason}{SEPARATOR}'"
        wrapped = f"replace(replace({wrapped}, {own}, '{SEPARATOR}'), {own}, '{SEPARATOR}')"
    kept = f"(CASE WHEN length({wrapped}) > 4 THEN substr({wrapped}, 1, length({wrapped}) - 2) ELSE '' END)"
    found = [
        ("price_now_cents IS NULL", OWN_REASONS[0]),
        ("one_year_avg_cents IS NULL", OWN_REASONS[1]),
        (f"{list_at} IS NULL", OWN_REASONS[2]),
        (f"{margin} < {MARGIN_FLOOR * 100}", OWN_REASONS[3]),
    ]
    joined = " || ".join([kept, *(f"(CASE WHEN {c} THEN '{SEPARATOR}{r}' ELSE '' END)" for c, r in found)])
    reasons = f"substr({joined}, 3)"
    none_left = f"{reasons} = ''"
    avg_down = _half_up("(one_year_avg_cents - price_now_cents) * 10000", "one_year_avg_cents")
    return f"""
        UPDATE {Deal._meta.db_table} SET
            list_at_cents = {list_at},
            all_in_cost_cents = {checked(all_in)},
            amazon_fees_cents = {checked(fees)},
            profit_cents = {checked(profit)},
            margin_percent = {checked(f"{margin}::numeric / 100")},
            roi_percent = {checked(f"{_half_up(f'{profit} * 10000', all_in)}::numeric / 100")},
            min_list_price_cents = {checked(min_list)},
            percent_down = {avg_down}::numeric / 100,
            quality = (CASE WHEN {none_left} THEN 'complete' WHEN quality = 'unrepairable'
                       THEN 'unrepairable' ELSE 'incomplete' END),
            quality_reason = (CASE WHEN {none_left} THEN '' WHEN quality = 'unrepairable'
                              THEN quality_reason ELSE {reasons} END),
            repair_attempts = (CASE WHEN {none_left} THEN 0 ELSE repair_attempts END),
            next_repair_at = (CASE WHEN {none_left} THEN NULL ELSE next_repair_at END),
            updated_at = now()
    """


def fingerprint() -> str:
    """One hash of every deal's recalculated columns, to compare two runs."""
    columns = ", ".join(f"coalesce({name}::text, '-')" for name in FIGURES)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT md5(string_agg(concat_ws('|', asin, {columns}), ',' ORDER BY asin)) "
            f"FROM {Deal._meta.db_table}"
        )
        return cursor.fetchone()[0]


def vacuum() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {Deal._meta.db_table}")


def server_settings() -> str:
    """What the figures depend on most: PostgreSQL's buffer cache against the table's size."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('shared_buffers'), current_setting('max_wal_size'), "
            "pg_size_pretty(pg_total_relation_size(%s))",
            [Deal._meta.db_table],
        )
        shared_buffers, max_wal_size, size = cursor.fetchone()
    return f"shared_buffers {shared_buffers}, max_wal_size {max_wal_size}; deals table and indexes {size}"


def through_the_service(prep_fee_cents: int) -> tuple[float, int]:
    costs = current_costs()
    costs.prep_fee_cents = prep_fee_cents
    started = time.perf_counter()
    count = services.update_costs(costs, user=None, reason="bench: prep fee")
    return time.perf_counter() - started, count


def by_hand(rules: BusinessRules) -> tuple[float, int]:
    sql = hand_written_update(rules)
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql)
        count = cursor.rowcount
    return time.perf_counter() - started, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=2, help="runs of each way, alternating")
    parser.add_argument("--reload", action="store_true", help="load the rows even if they are there")
    parser.add_argument("--drop", action="store_true", help="drop the bench database at the end")
    args = parser.parse_args()

    api_latency.create_database()
    api_latency.load(args.rows, args.reload)
    costs_versions = BusinessCosts.history.count()
    deal_versions = Deal.history.count()
    print(f"PostgreSQL: {server_settings()}")
    service_times, hand_times = [], []
    for round_ in range(args.rounds):
        prep = current_costs().prep_fee_cents + 25  # a new prep fee every round: every figure moves
        vacuum()
        seconds, count = through_the_service(prep)
        service_times.append(seconds)
        expected = fingerprint()
        print(f"round {round_ + 1}: update_costs (prep fee {prep} c)   {seconds:6.1f} s  {count:,} deals")
        vacuum()
        seconds, count = by_hand(current_costs().rules())
        hand_times.append(seconds)
        same = fingerprint() == expected
        print(
            f"round {round_ + 1}: hand-written UPDATE, same costs "
            f"{seconds:6.1f} s  {count:,} deals, same: {same}"
        )
        if not same:
            raise SystemExit("the hand-written UPDATE wrote other figures than the service")

    service, hand = statistics.median(service_times), statistics.median(hand_times)
    print()
    print(f"deals:                          {args.rows:,}")
    print(
        f"update_costs (median):          {service:.1f} s   goal <= {GOAL_SECONDS:.0f} s: "
        f"{'met' if service <= GOAL_SECONDS else 'MISSED'}"
    )
    print(f"hand-written UPDATE (median):   {hand:.1f} s")
    print(f"ratio service / hand-written:   {service / hand:.2f}")
    print(
        f"history rows written: costs {BusinessCosts.history.count() - costs_versions}, "
        f"deals {Deal.history.count() - deal_versions}"
    )
    print("Keepa tokens spent:             0 (no Keepa client is built; only the database is read)")

    if args.drop:
        api_latency.drop_database()


if __name__ == "__main__":
    main()
