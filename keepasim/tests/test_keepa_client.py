"""Contract: the real ``keepa`` PyPI client, unchanged bar the host, against the simulator.

The library builds every URL as ``https://api.keepa.com/<endpoint>/?`` and sends it with
``requests.get``; the test hands the library's module a ``requests`` stand-in that points
that prefix at the simulator, so everything else (parameters, parsing, token bookkeeping)
is the library's own.
"""

from __future__ import annotations

import math

import keepa
import keepa.keepa_sync
import pytest
import requests

from deals.keepa.facts import unix_to_keepa_minutes
from keepasim.simulator import KeepaSimulator, SimulatorConfig

KEY = "keepa-library-key"
KEEPA_URL = "https://api.keepa.com/"


class _ToSimulator:
    """What ``keepa.keepa_sync`` uses of ``requests``, aimed at the simulator."""

    def __init__(self, base_url: str):
        self.base_url = base_url.rstrip("/") + "/"

    def get(self, url: str, *args, **kwargs):
        assert url.startswith(KEEPA_URL)
        return requests.get(self.base_url + url[len(KEEPA_URL) :], *args, **kwargs)


@pytest.fixture
def sim(clock, monkeypatch):
    with KeepaSimulator(SimulatorConfig(keys={KEY: 20}, clock=clock, products=200)) as simulator:
        monkeypatch.setattr(keepa.keepa_sync, "requests", _ToSimulator(simulator.base_url))
        yield simulator


def test_query_with_live_offers(sim, clock):
    now = unix_to_keepa_minutes(clock.time())
    chosen = [p for p in sim.catalogue if p.kind == "ordinary" and len(p.live_offers(now)) >= 3][:5]
    api = keepa.Keepa(KEY)

    products = api.query([p.asin for p in chosen], offers=20, only_live_offers=True, progress_bar=False)

    expected_cost = sum(6 * max(1, math.ceil(p.offers_found(20, now) / 10)) for p in chosen)
    assert sim.stats.tokens_consumed[KEY] == expected_cost
    assert api.tokens_left == sim.ledger(KEY).balance() == 1200 - expected_cost
    by_asin = {p.asin: p for p in chosen}
    assert sorted(product["asin"] for product in products) == sorted(by_asin)
    for product in products:
        live = by_asin[product["asin"]].live_offers(now)[:20]
        offers = product["offers"]
        assert len(offers) == len(live) and len(product["liveOffersOrder"]) == len(live)
        for index, listing in zip(product["liveOffersOrder"], live, strict=True):
            offer = offers[index]
            assert offer["sellerId"] == listing.seller_id and offer["condition"] == listing.condition
            assert offer["isFBA"] == listing.is_fba and offer["isAmazon"] == listing.is_amazon
            times, prices = keepa.convert_offer_history(offer["offerCSV"])
            assert len(times) == len(prices) == len(offer["offerCSV"]) // 3
        assert "USED" in product["data"] and "COUNT_USED" in product["data"]
        buy_box = keepa.process_used_buybox(product["buyBoxUsedHistory"])
        assert set(buy_box.columns) == {"datetime", "user_id", "condition", "isFBA"}
        assert buy_box["user_id"].iloc[-1] == product["buyBoxUsedSellerId"]


def test_seller_query(sim):
    api = keepa.Keepa(KEY)
    wanted = sorted({item.seller_id for p in sim.catalogue.products[:40] for item in p.listings})[:30]

    found = api.seller_query([*wanted, "A0UNKNOWN00000"])

    assert sorted(found) == wanted
    assert sim.stats.tokens_consumed[KEY] == len(wanted)
    for seller_id, seller in found.items():
        expected = sim.catalogue.sellers[seller_id]
        assert seller["sellerName"] == expected.name
        assert 0 <= seller["currentRating"] <= 100 and seller["currentRatingCount"] >= 1
        assert seller["trackedSince"].year >= 2011  # the library turned Keepa minutes into a time

    typed = api.seller_query(wanted[:3], typed=True)
    assert all(seller.sellerName and seller.csv for seller in typed.values())
