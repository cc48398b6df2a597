"""The real pipeline for two simulated hours: worker processes, Redis, the simulator.

Prints, per plan: deals completed, tokens spent (discovery included), tokens per completed
deal, deals per simulated hour next to the physical limit, and zombies the API showed.

The physical limit is what the tokens the plan refilled buy at the least a deal can cost:
its product (1 token) and its share of a deal-finder page (5 tokens for 150 deals).
"of refill" is deals per refilled token, the share with the deal finder counted as loss.

    .venv/bin/python bench/pipeline.py                 # SQLite file, Redis at REDIS_URL
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/dealsite_bench_pipeline \
        .venv/bin/python bench/pipeline.py

Redis database 12 of REDIS_URL is flushed for each plan (an embedded Redis is started
when none answers). The bucket starts empty: the tokens refilled in two hours are all a
run has. "banked" is Keepa's balance at the end (tokens a recharge was saving up) and
"capped" what the full bucket could not hold (the only tokens lost). At the two-hour mark
the simulator stops answering, so the tokens spent are final, and the workers finish the
jobs in hand: products already paid for are counted as deals. Plans below the
automatic-recharge rate run twice: with the predecessor's policy (the default) and without.

With ``--verification`` (issue 11) it compares how offer tokens are spent, on the same seed:
statistics only (every deal an estimate), offers for every candidate (the predecessor's
way), the same with candidates ranked by the feed's promise, and value per token (ours:
ranked candidates, offers by value per token), then ours again at a pessimistic verifiable
share. The baselines fetch candidates in the order found (``DEALSITE_RANK_BY_FEED=0``). Per run:
verified deals (per hour), tokens per verified deal, verified profit in dollars per 1,000
tokens, the share of tokens spent on offers and sellers, the share of the deals the API
shows as verified whose offer the simulator still has live at the cut-off, zombies, 429s
and the minute of the run each came in.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dealsite.settings")
os.environ.setdefault("DEBUG", "1")
os.environ.setdefault(
    "DATABASE_URL", f"sqlite:///{tempfile.mkdtemp(prefix='dealsite-bench-')}/pipeline.sqlite3"
)

import django

django.setup()

import redis  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client, override_settings  # noqa: E402

from deals import jobs  # noqa: E402
from deals.keepa.facts import DEAL_PAGE_COST, DEAL_PAGE_SIZE, unix_to_keepa_minutes  # noqa: E402
from deals.models import Candidate, Deal, DiscoverySelection, JobRun, Seller  # noqa: E402
from dealsite.embedded_redis import ensure_redis  # noqa: E402
from keepasim.harness import API_KEY, PipelineStack  # noqa: E402
from tokens.bucket import bucket_id_for  # noqa: E402
from tokens.ledger import KEEP_SECONDS, SpendLedger  # noqa: E402

SIMULATED_SECONDS = 2 * 3600
COLUMNS = (
    ("plan", 8),
    ("auto-recharge", 13),
    ("deals", 6),
    ("complete", 8),
    ("tokens", 7),
    ("pages", 5),
    ("tok/deal", 8),
    ("deals/h", 8),
    ("limit/h", 8),
    ("of limit", 8),
    ("of refill", 9),
    ("banked", 6),
    ("capped", 6),
    ("api shown", 9),
    ("zombies", 7),
    ("429s", 5),
)


def create_database() -> None:
    if connection.vendor == "postgresql":
        name = connection.settings_dict["NAME"]
        with connection._nodb_cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            if not cursor.fetchone():
                cursor.execute(f'CREATE DATABASE "{name}"')
    call_command("migrate", verbosity=0)


def reset_data() -> None:
    for model in (Deal.history.model, Deal, Candidate, DiscoverySelection, JobRun, Seller):
        model.objects.all().delete()


def zombies_shown_by_the_api() -> tuple[int, int]:
    """Walk every page of /api/deals/ and count results that break the zombie rule."""
    user, _ = get_user_model().objects.get_or_create(username="bench", defaults={"is_staff": True})
    client = Client(HTTP_HOST="localhost")  # a host ALLOWED_HOSTS knows outside tests
    client.force_login(user)
    shown = zombies = 0
    url = "/api/deals/?page_size=200&verified=false"  # estimates too: this table is the statistics pass
    while url:
        body = client.get(url).json()
        for deal in body["results"]:
            shown += 1
            if (
                not (deal["profit_cents"] > 0 and deal["list_at_cents"] and deal["one_year_avg_cents"])
                or not Deal.objects.displayable().filter(asin=deal["asin"]).exists()
            ):
                zombies += 1
        url = body["next"]
    return shown, zombies


@contextmanager
def two_hours(rate: int, scale: float, redis_url: str, products: int, workers: int, **options):
    """A fresh stack (empty database, Redis and bucket) whose workers and job chains run for
    two simulated hours; then Keepa stops answering, so nothing more is spent, and the jobs in
    hand finish. Yields (stack, the cut-off's clock time) before the workers stop."""
    reset_data()
    redis.Redis.from_url(redis_url).flushdb()
    queues = {name: {"URL": redis_url, "DEFAULT_TIMEOUT": 600} for name in ("default", "keepa")}
    simulator_options = options.pop("simulator_options", {})
    stack = PipelineStack(
        redis_url=redis_url,
        refill_rate=rate,
        time_scale=scale,
        products=products,
        start_balance=0,
        # The feed is recomputed over the whole catalogue: every 15 Keepa minutes, not every 2,
        # so at this time scale the simulator's CPU does not starve the workers.
        simulator_options={"deal_cache_seconds": 900, **simulator_options},
        **options,
    )
    with override_settings(RQ_QUEUES=queues, REDIS_URL=redis_url), stack:
        for _ in range(workers):
            stack.start_worker()
        jobs.ensure_all_scheduled()
        time.sleep(SIMULATED_SECONDS / scale)
        cutoff = stack.clock.time()
        stack.simulator.stop()
        time.sleep(0.5)  # calls already inside the simulator answer
        yield stack, cutoff


def run_plan(
    rate: int, scale: float, redis_url: str, products: int, workers: int, auto_recharge: bool
) -> dict:
    recharge = {"TOKENS_AUTO_RECHARGE": "1" if auto_recharge else "0"}
    with two_hours(rate, scale, redis_url, products, workers, extra_env=recharge) as (stack, _cutoff):
        ledger = stack.simulator.ledger(API_KEY)
        banked = ledger.balance()  # applies the refills due so far, so read it first
        refilled = ledger.refilled_total
        capped = ledger.lost_to_cap
        spent = stack.simulator.stats.tokens_consumed[API_KEY]
        pages = stack.simulator.stats.calls["deal"]
        rate_limited = stack.simulator.stats.rate_limited
    complete = Deal.objects.filter(quality=Deal.Quality.COMPLETE).count()
    shown, zombies = zombies_shown_by_the_api()
    hours = SIMULATED_SECONDS / 3600
    return {
        "rate": rate,
        "deals": Deal.objects.count(),
        "complete": complete,
        "spent": spent,
        "per_deal": spent / complete if complete else float("inf"),
        "per_hour": complete / hours,
        "limit_per_hour": refilled / (1 + DEAL_PAGE_COST / DEAL_PAGE_SIZE) / hours,
        "per_refill": complete / refilled,
        "capped": capped,
        "shown": shown,
        "zombies": zombies,
        "rate_limited": rate_limited,
        "banked": banked,
        "pages": pages,
    }


VERIFY_COLUMNS = (
    ("plan", 6),
    ("policy", 18),
    ("verifiable", 10),
    ("verified", 8),
    ("verified/h", 10),
    ("tokens", 6),
    ("tok/verified", 12),
    ("$/1000 tok", 10),
    ("offer share", 11),
    ("offer alive", 11),
    ("estimates", 9),
    ("zombies", 7),
    ("429s (at minute)", 16),
)
#: (name, verify policy, candidates ranked by the feed's promise). The baselines fetch in the
#: order found, as the statistics pass did and the predecessor does; ours ranks. The ranked
#: "every candidate" row shows what the ranking alone buys the predecessor's way.
POLICIES = (
    ("statistics only", "off", False),
    ("every candidate", "every_candidate", False),
    ("every cand. ranked", "every_candidate", True),
    ("value per token", "value", True),
)


def verified_offers_alive(stack: PipelineStack, cutoff: float) -> tuple[int, int]:
    """Deals the API shows as verified, and how many of their offers (the stored seller and
    condition: the list leaves the seller's id to the detail) the simulator still had live at
    the cut-off: its own state, not the API's."""
    user, _ = get_user_model().objects.get_or_create(username="bench", defaults={"is_staff": True})
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    now = unix_to_keepa_minutes(cutoff)
    shown_asins = []
    url = "/api/deals/?page_size=200"
    while url:
        body = client.get(url).json()
        shown_asins += [deal["asin"] for deal in body["results"]]
        url = body["next"]
    offers = Deal.objects.filter(asin__in=shown_asins).values_list("asin", "seller_id", "condition_code")
    alive = 0
    for asin, seller_id, condition in offers:
        product = stack.simulator.catalogue.get(asin)
        alive += any(
            listing.seller_id == seller_id and listing.condition == condition
            for listing in product.live_offers(now)
        )
    return len(shown_asins), alive


def run_verification_plan(
    rate: int,
    scale: float,
    redis_url: str,
    products: int,
    workers: int,
    policy: str,
    ranked: bool,
    verifiable: float,
) -> dict:
    options = {
        "verify_policy": policy,
        "simulator_options": {"verifiable_share": verifiable},
        "extra_env": {"DEALSITE_RANK_BY_FEED": "1" if ranked else "0"},
    }
    with two_hours(rate, scale, redis_url, products, workers, **options) as (stack, cutoff):
        spent = stack.simulator.stats.tokens_consumed[API_KEY]
        started = cutoff - SIMULATED_SECONDS
        rate_limited = [int((t - started) // 60) for t in stack.simulator.stats.rate_limited_at]
    ledger = SpendLedger(redis.Redis.from_url(redis_url), bucket_id=bucket_id_for(API_KEY), clock=stack.clock)
    by_purpose = ledger.last(KEEP_SECONDS)
    shown, alive = verified_offers_alive(stack, cutoff)
    verified = Deal.objects.verified()
    profit = sum(verified.values_list("profit_cents", flat=True))
    count = verified.count()
    _shown_all, zombies = zombies_shown_by_the_api()
    offer_tokens = by_purpose.get("offers", 0) + by_purpose.get("sellers", 0)
    return {
        "verified": count,
        "per_hour": count / (SIMULATED_SECONDS / 3600),
        "spent": spent,
        "per_verified": spent / count if count else float("inf"),
        "dollars_per_1000": Decimal(profit) / 100 / spent * 1000 if spent else Decimal(0),
        "offer_share": offer_tokens / sum(by_purpose.values()) if by_purpose else 0.0,
        "alive": alive / shown if shown else None,
        "estimates": Deal.objects.displayable().filter(verification=Deal.Verification.ESTIMATE).count(),
        "zombies": zombies,
        "rate_limited": rate_limited,
    }


def print_verification_table(args, redis_url: str) -> None:
    """Issue 11: the same seed and plans under each policy, and ours at a pessimistic mix."""
    print(" ".join(f"{title:>{width}}" for title, width in VERIFY_COLUMNS))
    for rate in (int(r) for r in args.rates.split(",")):
        runs = [(name, policy, ranked, args.verifiable) for name, policy, ranked in POLICIES]
        runs.append(("value per token", "value", True, args.pessimistic))
        for name, policy, ranked, verifiable in runs:
            if args.policies and policy not in args.policies.split(","):
                continue
            r = run_verification_plan(
                rate,
                args.time_scale or min(60.0, 600.0 / rate),
                redis_url,
                rate * 400,  # candidates for twice what two hours of refill fetch
                args.workers,
                policy,
                ranked,
                verifiable,
            )
            row = (
                f"{rate}/min",
                name,
                f"{verifiable:.0%}",
                r["verified"],
                f"{r['per_hour']:.1f}",
                r["spent"],
                f"{r['per_verified']:.1f}",
                f"{r['dollars_per_1000']:.2f}",
                f"{r['offer_share']:.1%}",
                "-" if r["alive"] is None else f"{r['alive']:.1%}",
                r["estimates"],
                r["zombies"],
                f"{len(r['rate_limited'])}" + "".join(f" @{m}m" for m in r["rate_limited"]),
            )
            print(
                " ".join(f"{value:>{width}}" for value, (_, width) in zip(row, VERIFY_COLUMNS, strict=True)),
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rates", default="5,20", help="plans to run, tokens per minute")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--time-scale",
        type=float,
        help="Keepa seconds per real second (default: x60, at most 10 tokens a real second, "
        "so two workers' real CPU keeps up: x30 at 20/min)",
    )
    parser.add_argument(
        "--verification",
        action="store_true",
        help="compare the verification policies (statistics only, offers for every candidate, "
        "value per token) instead of the statistics pass's table",
    )
    parser.add_argument("--verifiable", type=float, default=0.6, help="simulator's verifiable share")
    parser.add_argument("--pessimistic", type=float, default=0.3, help="the pessimistic verifiable share")
    parser.add_argument("--policies", help="only these, e.g. every_candidate,value (default: all)")
    args = parser.parse_args()
    logging.getLogger("keepasim.simulator").setLevel(logging.WARNING)  # one line per call
    base_url, embedded = ensure_redis(os.environ.get("REDIS_URL"))
    redis_url = base_url.rsplit("/", 1)[0] + "/12"
    create_database()
    print(f"database: {connection.vendor}; redis: {redis_url}; {args.workers} worker processes")
    if args.verification:
        try:
            print_verification_table(args, redis_url)
        finally:
            if embedded:
                embedded.stop()
        return
    print(" ".join(f"{title:>{width}}" for title, width in COLUMNS))
    try:
        for rate in (int(r) for r in args.rates.split(",")):
            # The predecessor's automatic recharge only applies below 10/min: show both there.
            policies = (True, False) if rate < settings.TOKENS["AUTO_RECHARGE_BELOW_RATE"] else (True,)
            for auto_recharge in policies:
                # Supply well above the budget (about a quarter of products are deals).
                r = run_plan(
                    rate,
                    args.time_scale or min(60.0, 600.0 / rate),
                    redis_url,
                    rate * 800,
                    args.workers,
                    auto_recharge=auto_recharge,
                )
                row = (
                    f"{rate}/min",
                    "on" if auto_recharge else "off",
                    r["deals"],
                    r["complete"],
                    r["spent"],
                    r["pages"],
                    f"{r['per_deal']:.3f}",
                    f"{r['per_hour']:.1f}",
                    f"{r['limit_per_hour']:.1f}",
                    f"{r['per_hour'] / r['limit_per_hour']:.1%}",
                    f"{r['per_refill']:.1%}",
                    r["banked"],
                    r["capped"],
                    r["shown"],
                    r["zombies"],
                    r["rate_limited"],
                )
                print(
                    " ".join(f"{value:>{width}}" for value, (_, width) in zip(row, COLUMNS, strict=True)),
                    flush=True,
                )
    finally:
        if embedded:
            embedded.stop()


if __name__ == "__main__":
    main()
