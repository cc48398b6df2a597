"""``/seller``: every seller an offer names exists, with Keepa's fields and a realistic mix of
ratings; unknown ids are absent."""

from __future__ import annotations

import pytest
import requests

from deals.keepa.facts import AMAZON_SELLER_ID, unix_to_keepa_minutes
from keepasim.simulator import KeepaSimulator, SimulatorConfig

KEY = "seller-key"


@pytest.fixture
def sim(clock):
    with KeepaSimulator(SimulatorConfig(keys={KEY: 5}, clock=clock, products=500)) as simulator:
        simulator.ledger(KEY).set_balance(10**6)
        yield simulator


def sellers(sim, ids):
    response = requests.get(
        f"{sim.base_url}/seller", params={"key": KEY, "domain": 1, "seller": ",".join(ids)}, timeout=10
    )
    assert response.status_code == 200, response.text
    return response.json()["sellers"]


def test_every_seller_named_by_an_offer_exists_with_a_rating(sim, clock):
    now = unix_to_keepa_minutes(clock.time())
    named = sorted({item.seller_id for p in sim.catalogue for item in p.listings if item.live_at(now)})
    found = {}
    for start in range(0, len(named), 100):
        found.update(sellers(sim, named[start : start + 100]))

    assert set(found) == set(named) and AMAZON_SELLER_ID in found
    for seller_id, seller in found.items():
        assert seller["sellerId"] == seller_id and seller["sellerName"] and seller["domainId"] == 1
        assert 0 <= seller["currentRating"] <= 100 and seller["currentRatingCount"] >= 1
        assert seller["ratingCount"][-1] == seller["currentRatingCount"] and len(seller["ratingCount"]) == 4
        rating, count = seller["csv"]
        assert rating[-1] == seller["currentRating"] and count[-1] == seller["currentRatingCount"]
        assert rating[0::2] == sorted(rating[0::2]) and rating[-2] <= now
        assert seller["trackedSince"] <= rating[0] and seller["lastUpdate"] <= now
    ratings = [s["currentRating"] for s in found.values()]
    counts = [s["currentRatingCount"] for s in found.values()]
    assert sum(r >= 90 for r in ratings) > 0.7 * len(ratings)
    assert sum(r < 90 for r in ratings) > 0.05 * len(ratings)
    assert sum(c < 10 for c in counts) > 0.03 * len(counts)


def test_unknown_sellers_are_absent(sim):
    known = next(iter(sim.catalogue.sellers))
    assert set(sellers(sim, [known, "A1B2C3D4E5F6G7", "nonsense"])) == {known}


def test_ratings_move_slowly_with_the_clock(sim, clock):
    seller_id = next(s for s, seller in sim.catalogue.sellers.items() if seller.ratings[-1][2] > 1_000)
    before = sellers(sim, [seller_id])[seller_id]
    clock.advance(20 * 24 * 3600)
    after = sellers(sim, [seller_id])[seller_id]
    assert after["currentRatingCount"] >= before["currentRatingCount"]
    assert abs(after["currentRating"] - before["currentRating"]) <= 3
