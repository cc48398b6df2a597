"""Live offers: consistent with the price history at any minute, moving with the clock, in
Keepa's shape, with the used buy box."""

from __future__ import annotations

from collections import Counter

import pytest
import requests

from deals.keepa.facts import (
    AMAZON_SELLER_ID,
    COUNT_NEW,
    COUNT_USED,
    DAY,
    NEW,
    USED,
    unix_to_keepa_minutes,
)
from keepasim.catalogue import build_catalogue
from keepasim.catalogue.offers import CONDITION_SHIPPING_SLOT, buy_box_winner
from keepasim.simulator import KeepaSimulator, SimulatorConfig
from tokens.clock import FakeClock

KEY = "offers-key"
START = FakeClock().time()
NOW = unix_to_keepa_minutes(START)
ANCHOR = NOW // 60 * 60


@pytest.fixture
def sim(clock):
    with KeepaSimulator(SimulatorConfig(keys={KEY: 5}, clock=clock, products=500)) as simulator:
        simulator.ledger(KEY).set_balance(10**9)
        yield simulator


def get(sim, endpoint, **params):
    response = requests.get(f"{sim.base_url}/{endpoint}", params={"key": KEY, **params}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def _last(entry, step):
    return tuple(entry[-step + 1 :]) if entry else None


@pytest.mark.parametrize("offset_days", [-700, -90, -1, 0, 3, 12, 29, 45])
def test_the_csv_agrees_with_the_live_offers_at_any_minute(offset_days):
    catalogue = build_catalogue(1, 200, ANCHOR)
    now = NOW + offset_days * DAY + 17
    checked = 0
    for product in catalogue:
        live = product.live_offers(now)
        csv = product.csv_at(now)
        for group, price_slot, count_slot in (("used", USED, COUNT_USED), ("new", NEW, COUNT_NEW)):
            copies = [item for item in live if item.group == group]
            if not csv[count_slot]:
                assert not copies
                continue
            known = [item.price_at(now) for item in copies if item.price_at(now) >= 0]
            assert _last(csv[count_slot], 2) == (len(copies),), product.asin
            assert _last(csv[price_slot], 2) == (min(known, default=-1),), product.asin
            checked += 1
        for condition, slot in CONDITION_SHIPPING_SLOT.items():
            if not csv[slot]:
                continue
            best = buy_box_winner([item for item in live if item.condition == condition], now)
            expected = (-1, -1) if best is None else (best.price_at(now), best.shipping)
            assert _last(csv[slot], 3) == expected, (product.asin, condition)
    assert checked > 250


def test_the_market_has_every_kind_of_offer():
    catalogue = build_catalogue(1, 500, ANCHOR)
    live = [item for product in catalogue for item in product.live_offers(NOW)]
    conditions = Counter(item.condition for item in live)
    assert set(conditions) >= {1, 2, 3, 4, 5} and any(c >= 7 for c in conditions)
    used = sum(conditions[c] for c in range(2, 6))
    assert used > conditions[1] and sum(conditions[c] for c in range(7, 11)) < 0.02 * len(live)
    shipping = Counter(item.shipping for item in live if not item.is_fba)
    assert shipping.most_common(1)[0][0] == 399 and shipping[-1] > 0 and len(shipping) >= 5
    assert all(item.shipping == 0 for item in live if item.is_fba)
    assert 0.2 < sum(item.is_fba for item in live) / len(live) < 0.5
    assert any(item.price_at(NOW) == -2 for item in live)
    amazon = [item for item in live if item.is_amazon]
    assert amazon and all(item.seller_id == AMAZON_SELLER_ID and item.condition == 1 for item in amazon)
    assert len({item.seller_id for item in live}) > 150


def test_an_offer_is_keepa_shaped_and_its_last_triple_is_the_price_now(sim):
    product = next(p for p in sim.catalogue if len(p.live_offers(NOW)) >= 12)
    body = get(sim, "product", asin=product.asin, offers=20, **{"only-live-offers": 1})
    found = body["products"][0]
    offers, order = found["offers"], found["liveOffersOrder"]

    live = product.live_offers(NOW)[:20]
    assert len(offers) == len(order) == len(live) and sorted(order) == list(range(len(offers)))
    assert [offers[i]["offerId"] for i in order] == [item.offer_id for item in live]
    assert [o["offerId"] for o in offers] == sorted(o["offerId"] for o in offers)
    totals = [offers[i]["offerCSV"][-2] + max(0, offers[i]["offerCSV"][-1]) for i in order]
    known = [t for i, t in zip(order, totals, strict=True) if offers[i]["offerCSV"][-2] >= 0]
    assert known == sorted(known), "liveOffersOrder is Amazon's page: cheapest first"
    for offer in offers:
        assert {
            "offerId",
            "sellerId",
            "condition",
            "isFBA",
            "isPrime",
            "isAmazon",
            "lastSeen",
        } <= offer.keys()
        csv = offer["offerCSV"]
        assert len(csv) % 3 == 0 and csv[0::3] == sorted(csv[0::3]) and csv[-3] <= NOW
        assert offer["lastSeen"] == NOW and 1 <= offer["condition"] <= 10
        if offer["isFBA"]:
            assert offer["isPrime"] and csv[2::3] == [0] * (len(csv) // 3)
    assert found["offersSuccessful"] is True


def test_offers_sell_and_new_ones_are_listed_as_the_clock_runs(sim, clock):
    asins = ",".join(p.asin for p in sim.catalogue.products[:60])

    def live_offers():
        found = get(sim, "product", asin=asins, offers=100, **{"only-live-offers": 1})["products"]
        return {(p["asin"], p["offers"][i]["offerId"]) for p in found for i in p["liveOffersOrder"]}

    before = live_offers()
    clock.advance(14 * 24 * 3600)
    after = live_offers()
    assert len(before - after) > 30 and len(after - before) > 30
    by_id = {(p.asin, item.offer_id): item for p in sim.catalogue.products[:60] for item in p.listings}
    ways = Counter(by_id[key].sold for key in before - after)
    assert ways[True] > 5 and ways[False] > 5, "some copies sold, others were withdrawn"

    with_history = get(sim, "product", asin=asins, offers=100)["products"]
    now = unix_to_keepa_minutes(clock.time())
    gone = [
        (p["asin"], offer)
        for p in with_history
        for index, offer in enumerate(p["offers"])
        if index not in p["liveOffersOrder"]
    ]
    assert {(asin, offer["offerId"]) for asin, offer in gone} & (before - after)
    assert all(offer["lastSeen"] < now for _, offer in gone)


def test_the_used_buy_box_is_the_cheapest_buyable_used_copy(sim):
    product = next(p for p in sim.catalogue if p.kind == "ordinary" and len(p.live_offers(NOW)) >= 5)
    plain = get(sim, "product", asin=product.asin, stats=90)["products"][0]
    assert plain["stats"]["buyBoxUsedPrice"] == -2 and plain["stats"]["offerCountFBA"] == -2
    assert "buyBoxUsedPrice" not in plain and plain["csv"][32] is None

    found = get(sim, "product", asin=product.asin, stats=90, offers=20)["products"][0]
    live = [found["offers"][i] for i in found["liveOffersOrder"]]
    buyable = [
        o for o in live if 2 <= o["condition"] <= 5 and o["offerCSV"][-2] > 0 and o["offerCSV"][-1] >= 0
    ]
    cheapest = min(
        buyable, key=lambda o: (o["offerCSV"][-2] + o["offerCSV"][-1], not o["isFBA"], o["offerId"])
    )
    stats = found["stats"]
    for holder in (found, stats):
        assert holder["buyBoxUsedPrice"] == cheapest["offerCSV"][-2]
        assert holder["buyBoxUsedShipping"] == cheapest["offerCSV"][-1]
        assert holder["buyBoxUsedSellerId"] == cheapest["sellerId"]
        assert holder["buyBoxUsedCondition"] == cheapest["condition"]
        assert holder["buyBoxUsedIsFBA"] == cheapest["isFBA"]
    assert found["csv"][32][-2:] == [cheapest["offerCSV"][-2], cheapest["offerCSV"][-1]]
    assert found["buyBoxUsedHistory"][-3] == cheapest["sellerId"]
    assert stats["offerCountFBA"] == sum(o["isFBA"] for o in live)
    assert stats["offerCountFBM"] == sum(not o["isFBA"] for o in live)
    assert stats["retrievedOfferCount"] == len(live) and stats["lastOffersUpdate"] == NOW

    boxed = get(sim, "product", asin=product.asin, stats=90, buybox=1)["products"][0]
    assert boxed["buyBoxUsedPrice"] == cheapest["offerCSV"][-2] and boxed["offers"] is None
    assert boxed["stats"]["buyBoxUsedSellerId"] == cheapest["sellerId"]
    assert boxed["stats"]["offerCountFBA"] == -2, "counts need offers, the buy box alone does not give them"


def test_a_failed_offers_fetch_says_so(clock):
    config = SimulatorConfig(keys={KEY: 5}, clock=clock, products=20, offers_failure_rate=1.0)
    with KeepaSimulator(config) as simulator:
        found = get(simulator, "product", asin=simulator.catalogue.products[0].asin, offers=20, stats=30)
    product = found["products"][0]
    assert product["offersSuccessful"] is False and product["offers"] is None
    assert product["stats"]["offerCountFBA"] == -2 and found["tokensConsumed"] == 1
