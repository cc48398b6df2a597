"""The simulator behaves like Keepa over HTTP: costs, errors, the deal finder, products."""

from __future__ import annotations

import json

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deals.keepa.facts import DAY, unix_to_keepa_minutes
from keepasim.simulator import KeepaSimulator, SimulatorConfig
from tokens.clock import FakeClock

KEY = "sim-key"
NOW = unix_to_keepa_minutes(FakeClock().time())


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


def test_429_carries_the_envelope_and_charges_nothing(sim, clock):
    sim.ledger(KEY).set_balance(-5)

    refused = get(sim, "product", asin=sim.catalogue.products[0].asin)

    assert refused.status_code == 429
    body = refused.json()
    assert (body["tokensLeft"], body["tokensConsumed"], body["refillRate"]) == (-5, 0, 5)
    assert body["refillIn"] == 60_000 and body["timestamp"] == int(clock.time() * 1000)
    assert sim.stats.rate_limited_at == [clock.time()], "the benches say when each 429 came"
    clock.advance(body["refillIn"] / 1000 + 60)  # two refills: -5 -> 5
    assert get(sim, "product", asin=sim.catalogue.products[0].asin).json()["tokensLeft"] == 4


def _expected_offer_cost(product, offers, now):
    found = min(offers, len(product.live_offers(now)))
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


# --- products ---------------------------------------------------------------------------


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
