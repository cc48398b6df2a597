"""Latency of the dashboard's requests to ``/api/deals/`` at 1,000,000 deals on PostgreSQL.

Loads a million deals (10% zombies of every kind; profits, ranks, prices, categories, deal
trust and verifications spread like real ones; PostgreSQL COPY) unless the table already
holds them, VACUUM
ANALYZEs, then times each of the dashboard's typical requests through the real DRF view
(``DealListView`` with an authenticated request: filters, ordering, the pagination COUNT,
serialization and JSON rendering) next to the same page fetched by hand-written SQL
(the same COUNT plus the page query, rows fetched through psycopg). Requests alternate
between the two so a busy neighbour slows both alike. Goal: DRF p95 <= 30 ms, DRF/raw <= 2.5.
It also prints the list's payload per deal (the response body over the deals in it).

    .venv/bin/python bench/api_latency.py [--requests 200] [--reload] [--explain]

``DATABASE_URL`` defaults to postgres://postgres@127.0.0.1:5432/dealsite_bench (created
and migrated when missing). ``--rows`` changes the size; ``--reload`` reloads anyway.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dealsite.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/dealsite_bench")
# Production-like: no query log, no debug cursor wrapper.
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECRET_KEY", "bench-only-not-a-secret-" + "x" * 40)
os.environ.setdefault("ALLOWED_HOSTS", "testserver")

import django

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from rest_framework.test import APIRequestFactory, force_authenticate  # noqa: E402

from deals import presets, services  # noqa: E402
from deals.api.pagination import DealPagination  # noqa: E402
from deals.api.serializers import LIST_COLUMNS  # noqa: E402
from deals.api.views import DealListView  # noqa: E402
from deals.models import AverageSource, Deal, Fulfillment, Quality, Verification  # noqa: E402
from deals.pricing import BusinessRules, compute_costs, percent_below  # noqa: E402
from dealsite.access import SELLERS_GROUP, SellerAwareBackend  # noqa: E402

GOAL_P95_MS = 30.0
GOAL_RATIO = 2.5
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
PAGE_SIZE = 25  # what the dashboard asks for by default

#: (weight, name): Books dominate, as they do for used-book resellers.
CATEGORIES = [
    (40, "Books"),
    (12, "Textbooks"),
    (6, "Music"),
    (5, "Movies & TV"),
    (5, "Video Games"),
    (4, "Toys & Games"),
    (4, "Electronics"),
    (3, "Home & Kitchen"),
    (3, "Sports & Outdoors"),
    (3, "Office Products"),
    (2, "Tools & Home Improvement"),
    (2, "Health & Household"),
    (2, "Arts, Crafts & Sewing"),
    (2, "Musical Instruments"),
    (2, "Cell Phones & Accessories"),
    (1, "Baby Products"),
    (1, "Pet Supplies"),
    (1, "Automotive"),
    (1, "Software"),
    (1, "Collectibles & Fine Art"),
]
#: (weight, kind): 90% displayable, 10% zombies of each kind the rule hides.
KINDS = [
    (900, "displayable"),
    (30, "losing_money"),
    (20, "no_list_at"),
    (15, "no_average"),
    (15, "incomplete"),
    (10, "unrepairable"),
    (10, "expired"),
]
COLUMNS = (
    "asin",
    "title",
    "category",
    "binding",
    "condition",
    "sales_rank",
    "sales_rank_drops_30",
    "used_offer_count",
    "peak_season",
    "amazon_sells",
    "price_now_cents",
    "one_year_avg_cents",
    "list_at_cents",
    "list_at_computed_cents",
    "list_at_suspicious",
    "fba_fee_cents",
    "referral_percent",
    "all_in_cost_cents",
    "amazon_fees_cents",
    "profit_cents",
    "margin_percent",
    "roi_percent",
    "percent_down",
    "used_price_history",
    "keepa_updated_at",
    "fetched_at",
    "created_at",
    "updated_at",
    "quality",
    "quality_reason",
    "repair_attempts",
    "expired_at",
    "expired_reason",
    "one_year_avg_source",
    "trough_season",
    "expected_trough_cents",
    "deal_trust_percent",
    "verification",
    "verification_reason",
    "checked_at",
    "verified_at",
    "checked_used_price_cents",
    "buy_price_cents",
    "shipping_cents",
    "condition_code",
    "fulfillment",
    "seller_id",
    "seller_name",
    "seller_score",
    "live_used_offers",
    "min_list_price_cents",
    "chart_history",
    "list_at_basis",
)
#: ``deals.models.DISPLAYABLE`` by hand. A predicate that drifts from it cannot use the
#: partial indexes and times a sequential scan: ``main`` checks the listed index serves it.
DISPLAYABLE_SQL = (
    "quality = 'complete' AND expired_at IS NULL AND profit_cents > 0 "
    "AND list_at_cents > 0 AND one_year_avg_cents > 0 AND price_now_cents > 0 "
    "AND verification IN ('estimate', 'verified') AND (verification = 'estimate' OR buy_price_cents > 0)"
)
#: What the list shows unless ``verified=false``: deals a live offer confirms.
LISTED_SQL = f"{DISPLAYABLE_SQL} AND verification = 'verified'"
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
CONDITIONS = {2: "Used - Like New", 3: "Used - Very Good", 4: "Used - Good", 5: "Used - Acceptable"}


# --- data ------------------------------------------------------------------------------


def histories(rng: random.Random, count: int = 2000) -> list[str]:
    """A pool of used-price histories (JSON text): 6 to 40 changes over the past year."""
    pool = []
    start = int((NOW - timedelta(days=365)).timestamp())
    for _ in range(count):
        points = sorted(rng.sample(range(start, int(NOW.timestamp()), 3600), rng.randint(6, 40)))
        price = rng.randint(300, 6000)
        history = []
        for t in points:
            price = max(100, int(price * rng.uniform(0.8, 1.25)))
            history.append([t, price])
        pool.append(json.dumps(history, separators=(",", ":")))
    return pool


def deal_rows(count: int, seed: int = 2):
    """``count`` rows for COPY, every CheckConstraint of ``Deal`` satisfied (money from the
    app's own ``compute_costs``, so profit = List at - all-in - Amazon fees exactly)."""
    rng = random.Random(seed)
    rules = BusinessRules.from_settings()
    pool = histories(rng)
    category_names = [name for _, name in CATEGORIES]
    category_weights = [weight for weight, _ in CATEGORIES]
    kind_names = [name for _, name in KINDS]
    kind_weights = [weight for weight, _ in KINDS]
    referral_choices = [Decimal("15.00")] * 8 + [Decimal("8.00"), Decimal("12.00")]
    for i in range(count):
        kind = rng.choices(kind_names, kind_weights)[0]
        price_now = max(100, min(30000, int(rng.lognormvariate(math.log(900), 0.8))))
        average = int(price_now * rng.uniform(0.9, 4.0))
        fba = rng.randint(300, 800)
        referral = rng.choice(referral_choices)
        tax = 0 if rules.tax_exempt else int(price_now * rules.tax_percent / 100 + Decimal("0.5"))
        all_in_guess = price_now + tax + rules.prep_fee_cents + rules.inbound_shipping_cents
        if kind == "losing_money":  # at most costs + FBA, so the referral fee makes it a loss
            list_at = rng.randint(all_in_guess // 2, all_in_guess + fba)
        else:  # solve List at for a profit drawn from a long-tailed spread ($0.50 to $600)
            target_profit = max(50, min(60000, int(rng.lognormvariate(math.log(1500), 1.0))))
            list_at = int((target_profit + all_in_guess + fba) / (1 - float(referral) / 100))
        costs = compute_costs(
            price_now_cents=price_now,
            list_at_cents=list_at,
            fba_fee_cents=fba,
            referral_percent=referral,
            rules=rules,
        )
        keepa_updated = NOW - timedelta(seconds=rng.randint(0, 30 * 86400))
        fetched = keepa_updated + timedelta(seconds=rng.randint(0, 3600))
        created = fetched - timedelta(seconds=rng.randint(0, 90 * 86400))
        rank = None if rng.random() < 0.02 else int(math.exp(rng.uniform(0, math.log(5_000_000))))
        trust = None if rng.random() < 0.1 else Decimal(int(10000 * math.sqrt(rng.random()))) / 100
        checked = fetched + timedelta(seconds=rng.randint(0, 3600))
        fulfillment = rng.choices([Fulfillment.FBA, Fulfillment.MFN, Fulfillment.AMAZON], [60, 35, 5])[0]
        condition_code = rng.randint(2, 5)
        row = {
            "asin": f"B{i:09d}" if i % 3 else f"{i:010d}",
            "title": f"Used copy {i}: {rng.choice(category_names)} title",
            "category": rng.choices(category_names, category_weights)[0],
            "binding": "Paperback",
            "sales_rank": rank,
            "sales_rank_drops_30": rng.randint(0, 60),
            "used_offer_count": rng.randint(1, 80),
            "peak_season": rng.choice(["", "", "Jan", "Aug", "Sep"]),
            "amazon_sells": rng.random() < 0.15,
            "price_now_cents": price_now,
            "one_year_avg_cents": average,
            "list_at_cents": list_at,
            "list_at_computed_cents": list_at,
            "list_at_suspicious": list_at > 3 * price_now,
            "fba_fee_cents": fba,
            "referral_percent": referral,
            "all_in_cost_cents": costs.all_in_cost_cents,
            "amazon_fees_cents": costs.amazon_fees_cents,
            "profit_cents": costs.profit_cents,
            "margin_percent": costs.margin_percent,
            "roi_percent": costs.roi_percent,
            "percent_down": percent_below(price_now, average),
            "used_price_history": rng.choice(pool),
            "keepa_updated_at": keepa_updated,
            "fetched_at": fetched,
            "created_at": created,
            "updated_at": fetched,
            "quality": Quality.COMPLETE,
            "quality_reason": "",
            "repair_attempts": 0,
            "expired_at": None,
            "expired_reason": "",
            "one_year_avg_source": AverageSource.KEEPA if rng.random() < 0.15 else AverageSource.SALES,
            "trough_season": rng.choice(MONTHS),
            "expected_trough_cents": max(100, int(price_now * rng.uniform(0.7, 1.2))),
            "deal_trust_percent": trust,
            # 70% verified at Keepa's used price (so the money above stays the offer's), the
            # rest estimates not yet checked and a few with no acceptable offer.
            "verification": Verification.VERIFIED,
            "verification_reason": "",
            "checked_at": checked,
            "verified_at": checked,
            "checked_used_price_cents": price_now,
            "buy_price_cents": price_now,
            "shipping_cents": 0 if fulfillment != Fulfillment.MFN else min(399, price_now),
            "condition_code": condition_code,
            "condition": CONDITIONS[condition_code],
            "fulfillment": fulfillment,
            "seller_id": f"A{rng.randint(0, 50_000):012d}",
            "seller_name": f"Seller {rng.randint(0, 50_000)}",
            "seller_score": Decimal(rng.randint(30, 100)) / 10,
            "live_used_offers": rng.randint(1, 40),
            "min_list_price_cents": costs.min_list_price_cents,
            "chart_history": "{}",  # the deal view's; the list never reads it
            "list_at_basis": "{}",
        }
        verification = rng.random()
        if verification >= 0.7:
            unverified = (
                "verified_at",
                "checked_used_price_cents",
                "buy_price_cents",
                "shipping_cents",
                "condition_code",
                "seller_score",
                "live_used_offers",
            )
            row.update(
                dict.fromkeys(unverified), seller_id="", seller_name="", fulfillment="", condition="Used"
            )
            if verification < 0.95:
                row.update(verification=Verification.ESTIMATE, checked_at=None)
            else:
                row.update(verification=Verification.NO_OFFER, verification_reason="no acceptable offer")
        if kind in ("no_list_at", "no_average"):
            row.update(dict.fromkeys(services.DERIVED), quality=Quality.INCOMPLETE)
            if kind == "no_list_at":
                row.update(list_at_cents=None, list_at_computed_cents=None, quality_reason="no List at")
            else:
                row.update(one_year_avg_cents=None, percent_down=None, quality_reason="no valid 1yr average")
        elif kind == "incomplete":
            row.update(quality=Quality.INCOMPLETE, quality_reason="sales history too thin")
        elif kind == "unrepairable":
            row.update(
                quality=Quality.UNREPAIRABLE, quality_reason="gave up after 3 repairs", repair_attempts=3
            )
        elif kind == "expired":
            row.update(expired_at=NOW - timedelta(days=1), expired_reason="left the deal feed")
        yield tuple(row[name] for name in COLUMNS)


def create_database() -> None:
    name = connection.settings_dict["NAME"]
    with connection._nodb_cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if not cursor.fetchone():
            cursor.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}")
    call_command("migrate", verbosity=0)


def drop_database() -> None:
    """The bench database, when a run asks to leave nothing behind (``--drop``)."""
    name = connection.settings_dict["NAME"]
    connection.close()
    with connection._nodb_cursor() as cursor:
        cursor.execute(f'DROP DATABASE "{name}"')
    print(f"dropped database {name}")


def load(rows: int, reload: bool) -> None:
    table = Deal._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table}")
        present = cursor.fetchone()[0]
    if present == rows and not reload:
        print(f"{table}: {present:,} rows already loaded (--reload to load again)")
        return
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {table}, {Deal.history.model._meta.db_table} RESTART IDENTITY")
        with cursor.cursor.copy(f"COPY {table} ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for row in deal_rows(rows):
                copy.write_row(row)
    loaded = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {table}")
    vacuumed = time.perf_counter() - started - loaded
    print(f"{table}: loaded {rows:,} rows by COPY in {loaded:.0f} s, VACUUM ANALYZE {vacuumed:.0f} s")


# --- the requests ----------------------------------------------------------------------

#: (label, query string the dashboard sends, hand-written WHERE extra, its params, ORDER BY, page)
REQUESTS = [
    ("default page (-profit)", {}, "", [], "profit_cents DESC, asin", 1),
    (
        "rank<=1M & margin>=20",
        {"max_sales_rank": "1000000", "min_margin": "20"},
        " AND sales_rank <= %s AND margin_percent >= %s",
        [1000000, Decimal("20.00")],
        "profit_cents DESC, asin",
        1,
    ),
    (
        "preset optimal",
        presets.OPTIMAL,
        " AND profit_cents >= %s AND roi_percent >= %s AND sales_rank <= %s AND sales_rank_drops_30 >= %s"
        " AND deal_trust_percent >= %s AND seller_score >= %s AND percent_down >= %s"
        " AND NOT amazon_sells AND fulfillment <> %s",
        [4500, Decimal("20.00"), 1000000, 2, Decimal("70.00"), Decimal("5.0"), Decimal("10.00"), "Amazon"],
        "profit_cents DESC, asin",
        1,
    ),
    (
        "drops>=5 & trust>=80 & 30% down",
        {"min_drops_30": "5", "min_deal_trust": "80", "min_percent_down": "30"},
        " AND sales_rank_drops_30 >= %s AND deal_trust_percent >= %s AND percent_down >= %s",
        [5, Decimal("80.00"), Decimal("30.00")],
        "profit_cents DESC, asin",
        1,
    ),
    ("page 200 (-profit)", {}, "", [], "profit_cents DESC, asin", 200),
    ("sorted by rank", {"ordering": "sales_rank"}, "", [], "sales_rank ASC NULLS LAST, asin", 1),
    (
        "sorted by trust",
        {"ordering": "-deal_trust_percent"},
        "",
        [],
        "deal_trust_percent DESC NULLS LAST, asin",
        1,
    ),
]
GOAL_ROWS = 4  # the default page and the filters a seller uses; the other rows are for information


class RawSQL:
    """One request's page by hand, the way ``DealPagination`` gets it: the page with one
    extra row (``next``; a deep page finds its keys first, then loads those rows); if there
    is a next page, a count bounded by a LIMIT; if that hits the limit, the planner's
    estimate. ``exact`` is the full COUNT(*) DRF's stock paginator would run instead."""

    def __init__(self, where: str, params: list, order: str, page: int):
        table, matches = Deal._meta.db_table, f"WHERE {LISTED_SQL}{where}"
        self.params, self.offset = params, (page - 1) * PAGE_SIZE
        columns = ", ".join(LIST_COLUMNS)
        self.page_sql = f"SELECT {columns} FROM {table} {matches} ORDER BY {order} LIMIT %s OFFSET %s"
        self.keys_sql = f"SELECT asin FROM {table} {matches} ORDER BY {order} LIMIT %s OFFSET %s"
        self.by_keys_sql = f"SELECT {columns} FROM {table} {matches} AND asin = ANY(%s)"
        self.bounded_sql = f"SELECT count(*) FROM (SELECT asin FROM {table} {matches} LIMIT %s) AS page"
        self.estimate_sql = f"EXPLAIN (FORMAT JSON) SELECT asin FROM {table} {matches}"
        self.exact_sql = f"SELECT count(*) FROM {table} {matches}"

    def page(self) -> list[tuple]:
        limit = DealPagination.exact_count_limit
        with connection.cursor() as cursor:
            if self.offset < DealPagination.deferred_join_offset:
                cursor.execute(self.page_sql, [*self.params, PAGE_SIZE + 1, self.offset])
                rows = cursor.fetchall()
            else:  # keys by an index-only scan, then just those rows
                cursor.execute(self.keys_sql, [*self.params, PAGE_SIZE + 1, self.offset])
                keys = [key for (key,) in cursor.fetchall()]
                cursor.execute(self.by_keys_sql, [*self.params, keys])
                found = {row[0]: row for row in cursor.fetchall()}
                rows = [found[key] for key in keys if key in found]
            if len(rows) > PAGE_SIZE:
                cursor.execute(self.bounded_sql, [*self.params, limit + 1])
                if cursor.fetchone()[0] > limit:
                    cursor.execute(self.estimate_sql, self.params)
                    cursor.fetchone()
        return rows[:PAGE_SIZE]

    def exact(self) -> int:
        with connection.cursor() as cursor:
            cursor.execute(self.exact_sql, self.params)
            return cursor.fetchone()[0]

    def explain(self) -> str:
        plans = []
        with connection.cursor() as cursor:
            deep = self.offset >= DealPagination.deferred_join_offset
            for sql, params in (
                (self.keys_sql if deep else self.page_sql, [*self.params, PAGE_SIZE + 1, self.offset]),
                (self.bounded_sql, [*self.params, DealPagination.exact_count_limit + 1]),
                (self.exact_sql, self.params),
            ):
                cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
                plans.append("\n".join(row[0] for row in cursor.fetchall()))
        return "\n\n".join(plans)


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(p * len(ordered)) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200, help="timed requests per row and side")
    parser.add_argument("--reload", action="store_true", help="load the rows even if they are there")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of the raw queries")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("this benchmark needs PostgreSQL: set DATABASE_URL=postgres://...")

    create_database()
    load(args.rows, args.reload)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {Deal._meta.db_table} WHERE {DISPLAYABLE_SQL}")
        shown = cursor.fetchone()[0]
        cursor.execute(
            f"EXPLAIN SELECT asin FROM {Deal._meta.db_table} WHERE {LISTED_SQL} "
            f"ORDER BY profit_cents DESC, asin LIMIT {PAGE_SIZE + 1}"
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
        assert "deal_listed_profit_cover_idx" in plan, f"LISTED_SQL is no longer deals.models.LISTED:\n{plan}"
        cursor.execute(f"SELECT count(*) FROM {Deal._meta.db_table} WHERE {LISTED_SQL}")
        listed = cursor.fetchone()[0]
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
    print(
        f"{args.rows:,} deals, {shown:,} displayable, {listed:,} of them verified (listed by default); "
        f"PostgreSQL {version}; {args.requests} requests each\n"
    )

    # A seller, as the dashboard's readers are (the API refuses users in neither group),
    # loaded as the session backend loads them on every request (not timed, on either side).
    user, _ = get_user_model().objects.get_or_create(username="bench-api-latency")
    user.groups.add(Group.objects.get_or_create(name=SELLERS_GROUP)[0])
    user = SellerAwareBackend().get_user(user.pk)
    factory = APIRequestFactory()
    view = DealListView.as_view()

    def drf(params: dict):
        """What the server does for one request, up to the response body's bytes."""
        request = factory.get("/api/deals/", params)
        force_authenticate(request, user=user)
        response = view(request)
        response.render()
        assert response.status_code == 200, response.content[:300]
        return response

    def timed(work) -> float:
        started = time.perf_counter()
        work()
        return (time.perf_counter() - started) * 1000

    header = (
        f"{'request':24} | {'matches':>7} {'count':>9} | {'DRF p50':>7} {'p95':>6} | "
        f"{'raw p50':>7} {'p95':>6} | {'ratio p50':>9} {'p95':>5} | {'COUNT(*) p50':>12}"
    )
    lines = [header, "-" * len(header)]
    verdicts = []
    payloads: list[tuple[str, int, int]] = []
    for label, query, where, params, order, page in REQUESTS:
        query = {**query, "page_size": str(PAGE_SIZE), **({"page": str(page)} if page > 1 else {})}
        raw = RawSQL(where, params, order, page)
        content = drf(query).content
        body = json.loads(content)
        payloads.append((label, len(content), len(body["results"])))
        assert [d["asin"] for d in body["results"]] == [row[0] for row in raw.page()], label  # same page
        matches = raw.exact()
        if args.explain:
            print(f"-- {label}: page, bounded count, exact count\n{raw.explain()}\n")
        for _ in range(10):  # warm caches and the connection
            drf(query)
            raw.page()
        drf_ms, raw_ms = [], []
        for _ in range(args.requests):  # alternate, so a busy neighbour slows both alike
            drf_ms.append(timed(lambda query=query: drf(query)))
            raw_ms.append(timed(raw.page))
        exact_ms = [timed(raw.exact) for _ in range(max(5, args.requests // 10))]
        d50, d95 = percentile(drf_ms, 0.5), percentile(drf_ms, 0.95)
        r50, r95 = percentile(raw_ms, 0.5), percentile(raw_ms, 0.95)
        shown = f"{body['count']:,}" + ("" if body["count_exact"] else "~")
        lines.append(
            f"{label:24} | {matches / 1000:6.0f}k {shown:>9} | {d50:7.1f} {d95:6.1f} | "
            f"{r50:7.1f} {r95:6.1f} | {d50 / r50:9.2f} {d95 / r95:5.2f} | {percentile(exact_ms, 0.5):12.1f}"
        )
        if len(verdicts) < GOAL_ROWS:
            verdicts.append((label, d95, d50 / r50, d95 / r95))
    print("\n".join(lines))
    print(
        "ms per request, page size 25. DRF = DealListView with an authenticated request: filters,\n"
        "ordering, page query (+1 row for `next`), count, serialization, JSON rendering. raw = the same\n"
        "queries by hand through psycopg. ratio = DRF / raw. count = what the API answered\n"
        f"(~ = PostgreSQL's estimate; exact up to {DealPagination.exact_count_limit:,} matches). "
        "COUNT(*) = the exact count DRF's\nstock paginator would add to every request."
    )

    print(
        "List payload: "
        + "; ".join(
            f"{label} {size:,} B for {n} deals = {size / n:,.0f} B a deal" for label, size, n in payloads[:1]
        )
        + f" (page size {PAGE_SIZE}; the body, count and links included)"
    )

    def verdict(index: int, goal: float, what: str) -> str:
        label, value = max(((row[0], row[index]) for row in verdicts), key=lambda pair: pair[1])
        return f"{what} {'met' if value <= goal else 'MISSED'} (worst {value:.2f}, {label})"

    print(
        f"Goal, first {GOAL_ROWS} rows: "
        + "; ".join(
            (
                verdict(1, GOAL_P95_MS, f"DRF p95 <= {GOAL_P95_MS:.0f} ms"),
                verdict(2, GOAL_RATIO, f"ratio p50 <= {GOAL_RATIO}"),
                verdict(3, GOAL_RATIO, f"ratio p95 <= {GOAL_RATIO}"),
            )
        )
    )


if __name__ == "__main__":
    main()
