"""The catalogue: deterministic, Keepa-consistent stats, and the mix of deals and awkward
products the pipeline must cope with."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime

from deals.keepa.analytics import analyse
from deals.keepa.facts import DAY, unix_to_keepa_minutes
from deals.keepa.product import parse_product
from keepasim.catalogue import build_catalogue
from keepasim.catalogue.generation import build_product
from keepasim.catalogue.product import CatalogueProduct
from keepasim.catalogue.stats import compute_stats

START = 1_700_000_000  # FakeClock's
ANCHOR = unix_to_keepa_minutes(START) // 60 * 60  # as the simulator anchors its catalogue


def test_catalogue_is_deterministic_per_seed_and_index():
    small, large = build_catalogue(7, 20, ANCHOR), build_catalogue(7, 30, ANCHOR)
    assert [(p.asin, p.csv) for p in small] == [(p.asin, p.csv) for p in list(large)[:20]]
    assert build_catalogue(8, 20, ANCHOR).products[0].asin != small.products[0].asin


def test_the_catalogue_mixes_awkward_products_with_plenty_of_deals():
    catalogue = build_catalogue(1, 500, ANCHOR)  # the simulator's default seed
    kinds = Counter(p.kind for p in catalogue)
    assert kinds["ordinary"] == 450 and len(kinds) == 6  # one in ten is awkward, five kinds

    now_minutes = unix_to_keepa_minutes(START)
    now = datetime.fromtimestamp(START, UTC)
    results: dict[str, list] = {}
    for product in catalogue:
        raw = product.to_json(now_minutes, stats_days=365, history=True, days=None, offers=None, buybox=False)
        results.setdefault(product.kind, []).append(
            analyse(parse_product(json.loads(json.dumps(raw))), now=now)
        )

    assert not any(a.complete for kind in ("empty", "no_sales", "absurd", "no_used") for a in results[kind])
    cheap = [a for a in results["ordinary"] if a.complete and 100 * a.price_now_cents <= 55 * a.list_at_cents]
    assert len(cheap) >= 40  # cheap used copies and the price cuts of cheap books
    seasons = Counter(a.peak_season for a in results["ordinary"] if a.peak_season)
    assert {season for season, _ in seasons.most_common(2)} == {"August", "January"}


def test_stats_are_time_weighted_means_that_skip_gaps():
    t0 = ANCHOR - 50 * DAY
    csv: list = [None] * 36
    csv[2] = [t0, 1000, t0 + 30 * DAY, -1, t0 + 40 * DAY, 2000]
    product = CatalogueProduct(
        asin="0000000009", title="T", kind="ordinary", categories=[], binding="Paperback",
        publication_date=20200101, package_weight=500, pick_and_pack_fee=306, referral_percent=15.0,
        tracking_since=t0, last_update=ANCHOR, csv=csv,
    )  # fmt: skip

    stats = compute_stats(product, ANCHOR, 365)

    # 30 days at 1000, 10 days without an offer (skipped), 10 days at 2000.
    assert stats["avg365"][2] == (1000 * 30 + 2000 * 10) // 40 == 1250
    # The last 30 days: 10 at 1000, the 10-day gap, 10 at 2000.
    assert stats["avg30"][2] == (1000 * 10 + 2000 * 10) // 20 == 1500
    assert stats["current"][2] == 2000 and stats["outOfStockPercentage90"][2] == 20
    assert stats["min"][2] == [t0, 1000] and stats["max"][2] == [t0 + 40 * DAY, 2000]


def test_building_one_product_needs_no_catalogue():
    assert build_product(1, 3, ANCHOR).csv == build_catalogue(1, 5, ANCHOR).products[3].csv
