"""Products analysed per second on one core: parse + inferred sales + metrics.

The product is the largest 3-year history in the simulator's catalogue (seed 1), the shape
the backfill sees. The goal is 500 products/s: at 20 tokens/min a worker analyses well under
one product a second, so CPU must never be what limits ingestion.

Run: .venv/bin/python bench/analytics.py [--seconds 3]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from deals.keepa.analytics import analyse
from deals.keepa.facts import unix_to_keepa_minutes
from deals.keepa.product import parse_product
from keepasim.catalogue import build_catalogue

GOAL_PER_SECOND = 500
NOW_UNIX = 1_700_000_000


def sample_product() -> dict:
    now = unix_to_keepa_minutes(NOW_UNIX)
    catalogue = build_catalogue(1, 100, now // 60 * 60)
    largest = max(
        (p for p in catalogue if p.kind == "ordinary"), key=lambda p: sum(len(e or []) for e in p.csv)
    )
    raw = largest.to_json(now, stats_days=365, history=True, days=None, offers=None, buybox=False)
    return json.loads(json.dumps(raw))


def rate(work, seconds: float) -> float:
    done, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        for _ in range(50):
            work()
        done += 50
    return done / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    raw = sample_product()
    body = json.dumps({"products": [raw]})
    now = datetime.fromtimestamp(NOW_UNIX, UTC)
    points = sum(len(entry or []) for entry in raw["csv"])
    analysis = analyse(parse_product(raw), now=now)

    analysed = rate(lambda: analyse(parse_product(raw), now=now), args.seconds)
    with_json = rate(lambda: analyse(parse_product(json.loads(body)["products"][0]), now=now), args.seconds)

    print(f"product {raw['asin']}: {points} csv integers, {analysis.inferred_sales_count} inferred sales")
    for label, value in (("parse + analyse", analysed), ("json.loads + parse + analyse", with_json)):
        print(f"{label:30} {value:7.0f} products/s  ({value / GOAL_PER_SECOND:.1f}x the 500/s goal)")


if __name__ == "__main__":
    main()
