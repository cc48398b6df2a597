"""The simulator behaves like Keepa: token rules, costs, the deal finder and its catalogue."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from django.core.management import CommandError, call_command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deals.keepa.analytics import analyse
from deals.keepa.catalogue import (
    DAY,
    CatalogueProduct,
    build_catalogue,
    build_product,
    compute_stats,
    unix_to_keepa_minutes,
)
from deals.keepa.product import parse_product
from deals.keepa.simulator import KeepaSimulator, SimulatorConfig
from deals.keepa.token_rules import KeepaTokenLedger
from tokens.clock import FakeClock

KEY = "sim-key"
NOW = unix_to_keepa_minutes(FakeClock().time())


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def sim(clock):
    with KeepaSimulator(SimulatorConfig(keys={KEY: 5}, clock=clock, products=500)) as simulator:
        yield simulator


def get(sim, endpoint, **params):
    return requests.get(f"{sim.base_url}/{endpoint}", params={"key": KEY, **params}, timeout=10)


def deal_page(sim, **selection):
    response = get(sim, "deal", selection=json.dumps(selection))
    assert response.status_code == 200, response.text
    return response.json()["deals"]["dr"]


# --- Keepa's token rules --------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "advance", "cost", "allowed", "after"),
    [
        pytest.param(0, 59, 1, False, 0, id="no refill before a full minute"),
        pytest.param(0, 60, 1, True, 4, id="one batch of refill_rate after 60 s"),
        pytest.param(0, 180, 0, True, 15, id="refills accumulate once a minute"),
        pytest.param(300, 600, 10, True, 290, id="never above 60 x rate"),
        pytest.param(298, 120, 0, True, 300, id="a partial bucket fills only to the cap"),
        pytest.param(3, 0, 10, True, -7, id="a positive balance is charged in full, into the negative"),
        pytest.param(0, 0, 10, False, 0, id="zero balance: refused, costs nothing"),
        pytest.param(-7, 0, 1, False, -7, id="negative balance: refused, costs nothing"),
        pytest.param(-7, 120, 1, True, 2, id="two refills bring -7 back above zero"),
    ],
)
def test_token_rules(clock, start, advance, cost, allowed, after):
    ledger = KeepaTokenLedger(refill_rate=5, clock=clock, start_balance=start)
    clock.advance(advance)
    assert ledger.try_charge(cost) is allowed
    assert ledger.balance() == after


def test_429_carries_the_envelope_and_charges_nothing(sim, clock):
    sim.ledger(KEY).set_balance(-5)

    refused = get(sim, "product", asin=sim.catalogue.products[0].asin)

    assert refused.status_code == 429
    body = refused.json()
    assert (body["tokensLeft"], body["tokensConsumed"], body["refillRate"]) == (-5, 0, 5)
    assert body["refillIn"] == 60_000 and body["timestamp"] == int(clock.time() * 1000)
    clock.advance(body["refillIn"] / 1000 + 60)  # two refills: -5 -> 5
    assert get(sim, "product", asin=sim.catalogue.products[0].asin).json()["tokensLeft"] == 4


def _expected_offer_cost(product, offers, now):
    found = min(offers, product.offer_count(now))
    return 6 * max(1, -(-found // 10))


@pytest.mark.parametrize(
    ("endpoint", "params", "cost"),
    [
        ("token", {}, lambda asins: 0),
        ("product", {"stats": 365}, lambda asins: 3),
        ("product", {"buybox": 1}, lambda asins: 3 * 3),
        ("product", {"update": 0}, lambda asins: 3 * 2),
        ("product", {"update": 48}, lambda asins: 3),
        ("product", {"offers": 20}, lambda asins: sum(_expected_offer_cost(p, 20, NOW) for p in asins)),
        ("deal", {"selection": '{"priceTypes":[2],"page":0}'}, lambda asins: 5),
        ("deal", {"selection": '{"priceTypes":[2],"page":99}'}, lambda asins: 5),
    ],
)
def test_costs(sim, endpoint, params, cost):
    products = sim.catalogue.products[:3]
    if endpoint == "product":
        params = {**params, "asin": ",".join([p.asin for p in products] + ["0000000000"])}

    body = get(sim, endpoint, **params).json()

    assert body["tokensConsumed"] == cost(products)
    assert body["tokensLeft"] == 300 - cost(products)
    assert sim.stats.tokens_consumed[KEY] == cost(products)


def test_offers_add_offer_objects(sim):
    product = sim.catalogue.products[0]
    found = get(sim, "product", asin=product.asin, offers=20).json()["products"][0]
    assert len(found["offers"]) == min(20, product.offer_count(NOW))


# --- errors always carry the envelope -------------------------------------------------


@pytest.mark.parametrize(
    ("path", "params", "status", "error_type"),
    [
        ("product", {"key": "nope", "asin": "0000000000"}, 402, "paymentRequired"),
        ("product", {"key": KEY}, 400, "invalidParameter"),
        ("product", {"key": KEY, "asin": "0000000000", "stats": "soon"}, 400, "invalidParameter"),
        ("product", {"key": KEY, "asin": ",".join(f"{i:010d}" for i in range(101))}, 400, "invalidParameter"),
        ("deal", {"key": KEY, "selection": "{not json"}, 400, "invalidParameter"),
        ("deal", {"key": KEY, "selection": '{"priceTypes":[1,2]}'}, 400, "invalidParameter"),
        ("deal", {"key": KEY, "selection": '{"priceTypes":[2],"dateRange":9}'}, 400, "invalidParameter"),
        ("query", {"key": KEY}, 404, "notFound"),
    ],
)
def test_errors_carry_the_envelope(sim, path, params, status, error_type):
    response = requests.get(f"{sim.base_url}/{path}", params=params, timeout=10)

    assert response.status_code == status
    body = response.json()
    assert body["error"]["type"] == error_type
    assert {"tokensLeft", "refillIn", "refillRate", "timestamp", "tokensConsumed"} <= body.keys()
    assert body["tokensConsumed"] == 0


# --- the deal finder ------------------------------------------------------------------


def test_deal_pages_hold_150_and_the_last_is_shorter(sim):
    selection = {"priceTypes": [2], "dateRange": 3, "sortType": 4}
    pages = []
    while not pages or len(pages[-1]) == 150:
        pages.append(deal_page(sim, page=len(pages), **selection))

    assert len(pages) >= 2 and all(len(p) == 150 for p in pages[:-1]) and len(pages[-1]) < 150
    asins = [d["asin"] for page in pages for d in page]
    assert len(asins) == len(set(asins))
    drops = [d["deltaPercent"][3][2] for page in pages for d in page]
    assert drops == sorted(drops, reverse=True) and drops[-1] > 0
    counts = get(sim, "deal", selection=json.dumps({**selection, "page": 1})).json()["deals"]["categoryCount"]
    assert sum(counts) == len(asins), "every page counts all the deals the query matched"


def test_deal_sort_orders(sim):
    newest = deal_page(sim, priceTypes=[2], dateRange=3, sortType=1)
    assert [d["creationDate"] for d in newest] == sorted((d["creationDate"] for d in newest), reverse=True)
    rising = deal_page(sim, priceTypes=[2], dateRange=3, sortType=-4)
    assert [d["deltaPercent"][3][2] for d in rising] == sorted(d["deltaPercent"][3][2] for d in rising)
    by_rank = deal_page(sim, priceTypes=[2], dateRange=3, sortType=3)
    ranks = [d["current"][3] for d in by_rank if d["current"][3] > 0]
    assert ranks == sorted(ranks)


def test_deal_filters(sim):
    base = {"priceTypes": [2], "dateRange": 3}
    ranked = deal_page(sim, **base, salesRankRange=[0, 30_000])
    assert ranked and all(0 < d["current"][3] <= 30_000 for d in ranked)
    big = deal_page(sim, **base, deltaPercentRange=[40, 100])
    assert big and all(d["deltaPercent"][3][2] >= 40 for d in big)
    assert deal_page(sim, **base, deltaPercentRange=[40, 100], isRangeEnabled=False) == deal_page(sim, **base)
    textbooks = deal_page(sim, **base, includeCategories=[465600])
    assert textbooks and all(465600 in d["categories"] for d in textbooks)
    assert not deal_page(sim, **base, includeCategories=[1])
    no_amazon = deal_page(sim, **base, mustNotHaveAmazonOffer=True)
    assert no_amazon and all(d["current"][0] <= 0 for d in no_amazon)
    week = deal_page(sim, priceTypes=[2], dateRange=1)
    assert all(d["deltaPercent"][1][2] > 0 for d in week)


def test_selection_numbers_may_be_strings_and_post_is_accepted(sim):
    as_ints = deal_page(sim, priceTypes=[2], dateRange=3, page=0)
    as_strings = deal_page(sim, priceTypes=["2"], dateRange="3", page="0")
    posted = requests.post(
        f"{sim.base_url}/deal/", params={"key": KEY}, json={"priceTypes": [2], "dateRange": 3}, timeout=10
    )
    assert as_ints == as_strings == posted.json()["deals"]["dr"]


def test_a_deal_has_keepas_fields(sim, clock):
    deal = deal_page(sim, priceTypes=[2], dateRange=3)[0]
    now = unix_to_keepa_minutes(clock.time())
    assert {"asin", "title", "rootCat", "current", "avg", "delta", "deltaPercent"} <= deal.keys()
    assert deal["rootCat"] == 283155 and len(deal["avg"]) == 4 and len(deal["current"]) == 36
    assert now - 90 * DAY <= deal["creationDate"] <= now and now - 600 <= deal["lastUpdate"] <= now


# --- the catalogue ----------------------------------------------------------------------


ANCHOR = unix_to_keepa_minutes(1_700_000_000) // 60 * 60


def test_catalogue_is_deterministic_per_seed_and_index():
    small, large = build_catalogue(7, 20, ANCHOR), build_catalogue(7, 30, ANCHOR)
    assert [(p.asin, p.csv) for p in small] == [(p.asin, p.csv) for p in list(large)[:20]]
    assert build_catalogue(8, 20, ANCHOR).products[0].asin != small.products[0].asin


def test_products_are_keepa_shaped(sim, clock):
    asins = ",".join(p.asin for p in sim.catalogue.products[:100])
    products = get(sim, "product", asin=asins, stats=365).json()["products"]

    assert len(products) == 100
    for product in products:
        assert len(product["csv"]) == 36 and product["rootCategory"] == 283155
        assert all(v is None or isinstance(v, list) for v in product["csv"])
        assert len(product["stats"]["current"]) == 36 and "salesRankDrops30" in product["stats"]
        assert product["fbaFees"]["pickAndPackFee"] > 0 and product["referralFeePercentage"] == 15.0
    before = products[0]["lastUpdate"]
    clock.advance(13 * 3600)  # longer than any product's update period
    assert get(sim, "product", asin=products[0]["asin"]).json()["products"][0]["lastUpdate"] > before


def test_the_catalogue_keeps_changing_as_the_clock_advances(sim, clock):
    first = deal_page(sim, priceTypes=[2], dateRange=1, sortType=1)
    product = sim.catalogue.products[0]
    before = get(sim, "product", asin=product.asin).json()["products"][0]["csv"]

    clock.advance(20 * 24 * 3600)
    later = deal_page(sim, priceTypes=[2], dateRange=1, sortType=1)
    after = get(sim, "product", asin=product.asin).json()["products"][0]["csv"]

    newest_before = max(d["creationDate"] for d in first)
    fresh = [d for d in later if d["creationDate"] > newest_before]
    assert len(fresh) >= 10 and {d["asin"] for d in fresh} - {d["asin"] for d in first}
    assert len(after[3]) > len(before[3]) and after[3][: len(before[3])] == before[3]


def test_history_days_and_no_history(sim):
    product = sim.catalogue.products[0]
    full = get(sim, "product", asin=product.asin).json()["products"][0]["csv"]
    recent = get(sim, "product", asin=product.asin, days=30).json()["products"][0]["csv"]
    bare = get(sim, "product", asin=product.asin, history=0).json()["products"][0]["csv"]
    assert len(recent[3]) < len(full[3]) and recent[3][-2:] == full[3][-2:]
    assert bare == [None] * 36


def test_the_catalogue_mixes_awkward_products_with_plenty_of_deals(sim, clock):
    kinds = Counter(p.kind for p in sim.catalogue)
    assert kinds["ordinary"] == 450 and len(kinds) == 6  # one in ten is awkward, five kinds

    now_minutes = unix_to_keepa_minutes(clock.time())
    now = datetime.fromtimestamp(clock.time(), UTC)
    results: dict[str, list] = {}
    for product in sim.catalogue:
        raw = product.to_json(now_minutes, stats_days=365, history=True, days=None, offers=None, buybox=False)
        results.setdefault(product.kind, []).append(
            analyse(parse_product(json.loads(json.dumps(raw))), now=now)
        )

    assert not any(a.complete for kind in ("empty", "no_sales", "absurd", "no_used") for a in results[kind])
    cheap = [a for a in results["ordinary"] if a.complete and 100 * a.price_now_cents <= 55 * a.list_at_cents]
    assert len(cheap) >= 100
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


def test_a_stopped_simulator_answers_nothing_even_on_a_kept_alive_connection(clock):
    """Benchmarks stop Keepa at their cut-off: no token may be spent after it."""
    simulator = KeepaSimulator(SimulatorConfig(keys={KEY: 5}, clock=clock, products=50)).__enter__()
    with requests.Session() as session:
        url = f"{simulator.base_url}/token"
        assert session.get(url, params={"key": KEY}, timeout=10).status_code == 200
        simulator.stop()
        with pytest.raises(requests.ConnectionError):
            session.get(url, params={"key": KEY}, timeout=10)
    assert simulator.stats.calls["token"] == 1


# --- the management command -------------------------------------------------------------


def test_command_rejects_bad_rates():
    with pytest.raises(CommandError):
        call_command("keepa_simulator", "--error-rate", "2")


@pytest.mark.slow
def test_command_serves_until_interrupted():
    root = Path(__file__).resolve().parents[2]
    process = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "keepa_simulator",
            "--port",
            "0",
            "--key",
            "a",
            "--key",
            "b",
            "--products",
            "20",
        ],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        banner = process.stdout.readline()
        base = re.search(r"on (http://[0-9.]+:[0-9]+)", banner).group(1)
        assert requests.get(f"{base}/token", params={"key": "b"}, timeout=5).status_code == 200
        assert requests.get(f"{base}/token", params={"key": "c"}, timeout=5).status_code == 402
    finally:
        process.send_signal(signal.SIGINT)
        _, errors = process.communicate(timeout=10)
    assert process.returncode == 0
    assert "GET /token -> 402" in errors and "key=" not in errors


# --- bad input is a 400, never a 500 ------------------------------------------------------

json_scalars = st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=6)
selections = st.dictionaries(
    st.sampled_from(
        ["page", "priceTypes", "dateRange", "sortType", "salesRankRange", "deltaPercentRange",
         "includeCategories", "isRangeEnabled", "isFilterEnabled", "domainId", "titleSearch"]
    ),
    json_scalars | st.lists(json_scalars, max_size=3),
    max_size=6,
)  # fmt: skip


@pytest.fixture(scope="module")
def small_sim():
    with KeepaSimulator(SimulatorConfig(keys={KEY: 5}, clock=FakeClock(), products=30)) as simulator:
        simulator.ledger(KEY).set_balance(10**9)
        yield simulator


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(selection=selections)
def test_any_deal_selection_is_answered_200_or_400(small_sim, selection):
    response = get(small_sim, "deal", selection=json.dumps(selection))
    assert response.status_code in (200, 400), response.text
    assert "tokensLeft" in response.json()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    params=st.dictionaries(
        st.sampled_from(["asin", "stats", "days", "offers", "buybox", "update", "history", "domain"]),
        st.text(max_size=12),
        max_size=5,
    )
)
def test_any_product_parameters_are_answered_200_or_400(small_sim, params):
    response = get(small_sim, "product", **params)
    assert response.status_code in (200, 400), response.text
