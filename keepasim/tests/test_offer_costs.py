"""What offers, the buy box, ratings and sellers cost, exactly as Keepa's published rules say,
and the bad parameters Keepa refuses."""

from __future__ import annotations

import pytest
import requests

from deals.keepa.facts import unix_to_keepa_minutes
from keepasim.simulator import KeepaSimulator, SimulatorConfig
from tokens.clock import FakeClock

KEY = "cost-key"
NOW = unix_to_keepa_minutes(FakeClock().time())
BALANCE = 100_000


@pytest.fixture(scope="module")
def sim():
    clock = FakeClock()
    with KeepaSimulator(SimulatorConfig(keys={KEY: 5}, clock=clock, products=500)) as simulator:
        yield simulator


def call(sim, endpoint, **params):
    sim.ledger(KEY).set_balance(BALANCE)
    response = requests.get(f"{sim.base_url}/{endpoint}", params={"key": KEY, **params}, timeout=10)
    body = response.json()
    if response.status_code == 200:
        assert body["tokensLeft"] == BALANCE - body["tokensConsumed"], "tokensConsumed is what was charged"
    return response, body


def _with_live(sim, low, high):
    """A product with between ``low`` and ``high`` live offers now."""
    return next(p for p in sim.catalogue if low <= len(p.live_offers(NOW)) <= high)


@pytest.mark.parametrize(
    ("live", "offers", "pages"),
    [
        ((0, 0), 20, 1),  # nothing listed: one (empty) page all the same
        ((1, 10), 20, 1),
        ((11, 19), 20, 2),
        ((21, 60), 20, 2),  # only 20 asked: at most two pages found
        ((21, 29), 40, 3),
    ],
)
def test_offers_cost_six_per_page_of_ten_found(sim, live, offers, pages):
    product = _with_live(sim, *live)
    _, body = call(sim, "product", asin=product.asin, offers=offers)
    assert body["tokensConsumed"] == 6 * pages
    returned = body["products"][0]
    assert len(returned["liveOffersOrder"]) == min(offers, len(product.live_offers(NOW)))


def test_offer_costs_add_up_per_product_and_replace_the_product_token(sim):
    products = [_with_live(sim, 0, 0), _with_live(sim, 3, 9), _with_live(sim, 12, 19)]
    asins = ",".join([p.asin for p in products] + ["0000000000"])  # unknown: free
    _, plain = call(sim, "product", asin=asins, offers=20, **{"only-live-offers": 1})
    assert plain["tokensConsumed"] == 6 + 6 + 12
    _, boxed = call(sim, "product", asin=asins, offers=20, buybox=1)
    assert boxed["tokensConsumed"] == 6 + 6 + 12, "buybox is ignored when offers is used"
    _, fresh = call(sim, "product", asin=asins, offers=20, update=0)
    assert fresh["tokensConsumed"] == 6 + 6 + 12 + 3
    _, rated = call(sim, "product", asin=asins, offers=20, rating=1)
    assert rated["tokensConsumed"] == 6 + 6 + 12 + 3
    _, rated_plain = call(sim, "product", asin=asins, rating=1)
    assert rated_plain["tokensConsumed"] == 3 + 3
    _, buybox_only = call(sim, "product", asin=asins, buybox=1)
    assert buybox_only["tokensConsumed"] == 3 * (1 + 2)


def test_a_failed_offers_fetch_costs_one(sim):
    asins = ",".join(p.asin for p in sim.catalogue.products[:4])
    sim.set_faults(offers_failure_rate=1.0)
    try:
        _, body = call(sim, "product", asin=asins, offers=20, update=0)
    finally:
        sim.set_faults(offers_failure_rate=0.0)
    assert body["tokensConsumed"] == 4 * (1 + 1)
    assert all(p["offersSuccessful"] is False for p in body["products"])


def test_sellers_cost_one_per_seller_found(sim):
    sellers = list(sim.catalogue.sellers)[:7]
    _, body = call(sim, "seller", domain=1, seller=",".join([*sellers, "A0NOTASELLER00", sellers[0]]))
    assert body["tokensConsumed"] == 7 and set(body["sellers"]) == set(sellers)
    _, nobody = call(sim, "seller", domain=1, seller="A0NOTASELLER00")
    assert nobody["tokensConsumed"] == 0 and nobody["sellers"] == {}


@pytest.mark.parametrize(
    ("endpoint", "params"),
    [
        ("product", {"offers": 19}),
        ("product", {"offers": 101}),
        ("product", {"offers": "many"}),
        ("product", {"offers": 20, "only-live-offers": 2}),
        ("product", {"buybox": 3}),
        ("product", {"rating": -1}),
        ("seller", {}),
        ("seller", {"seller": " , "}),
        ("seller", {"seller": ",".join(f"A{i:013d}" for i in range(101))}),
        ("seller", {"seller": "A1", "domain": 99}),
    ],
)
def test_bad_offer_and_seller_parameters_are_a_400(sim, endpoint, params):
    if endpoint == "product":
        params = {"asin": sim.catalogue.products[0].asin, **params}
    response, body = call(sim, endpoint, **params)
    assert response.status_code == 400
    assert body["error"]["type"] == "invalidParameter" and body["error"]["message"]
    assert body["tokensConsumed"] == 0 and body["tokensLeft"] == BALANCE
