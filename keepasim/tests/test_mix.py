"""The default catalogue's mix, measured the way the pipeline meets it: the deal finder's
candidates, those that look profitable on statistics (our analytics and cost rules), and of
those the ones a live offer still confirms when verification comes two hours later.

The predecessor saw 90-97% of candidates rejected; the simulator should be as sobering.
"""

from __future__ import annotations

import json

import pytest
import requests

from deals.keepa.analytics import analyse
from deals.keepa.product import parse_product
from deals.pricing import BusinessRules, compute_costs
from deals.selection import DEFAULT_SELECTION
from keepasim.simulator import KeepaSimulator, SimulatorConfig
from tokens.clock import FakeClock

KEY = "mix-key"
VERIFY_LAG_SECONDS = 2 * 3600
RULES = BusinessRules()


def _get(sim, endpoint, **params):
    response = requests.get(f"{sim.base_url}/{endpoint}", params={"key": KEY, **params}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def _products(sim, asins, **params):
    for start in range(0, len(asins), 100):
        yield from _get(sim, "product", asin=",".join(asins[start : start + 100]), **params)["products"]


def _profit(analysis, buy_price_cents):
    return compute_costs(
        price_now_cents=buy_price_cents,
        list_at_cents=analysis.list_at_cents,
        fba_fee_cents=analysis.fba_fee_cents,
        referral_percent=analysis.referral_percent,
        rules=RULES,
    ).profit_cents


def _acceptable_buy_prices(product):
    """Item plus shipping of each live used copy (2-5) that ships and has a known price."""
    for index in product["liveOffersOrder"]:
        offer = product["offers"][index]
        price, shipping = offer["offerCSV"][-2:]
        if 2 <= offer["condition"] <= 5 and price > 0 and shipping >= 0:
            yield price + shipping


def measure_mix(verifiable_share: float | None = None, products: int = 500) -> dict[str, int]:
    clock = FakeClock()
    options = {} if verifiable_share is None else {"verifiable_share": verifiable_share}
    config = SimulatorConfig(keys={KEY: 20}, clock=clock, products=products, **options)
    with KeepaSimulator(config) as sim:
        sim.ledger(KEY).set_balance(10**9)
        candidates, page = [], 0
        while True:
            deals = _get(sim, "deal", selection=json.dumps({**DEFAULT_SELECTION, "page": page}))["deals"][
                "dr"
            ]
            candidates += [deal["asin"] for deal in deals]
            if len(deals) < 150:
                break
            page += 1
        looks_profitable = {}
        for raw in _products(sim, candidates, stats=365):
            analysis = analyse(parse_product(raw), now=clock.now())
            if analysis.complete and _profit(analysis, analysis.price_now_cents) > 0:
                looks_profitable[raw["asin"]] = analysis
        clock.advance(VERIFY_LAG_SECONDS)
        verified = 0
        for raw in _products(sim, list(looks_profitable), offers=100, **{"only-live-offers": 1}):
            analysis = looks_profitable[raw["asin"]]
            verified += any(_profit(analysis, buy) > 0 for buy in _acceptable_buy_prices(raw))
    return {"candidates": len(candidates), "profitable": len(looks_profitable), "verified": verified}


@pytest.fixture(scope="module")
def default_mix():
    return measure_mix()


def test_most_candidates_do_not_look_profitable(default_mix):
    assert default_mix["candidates"] >= 150
    share = default_mix["profitable"] / default_mix["candidates"]
    assert 0.10 <= share <= 0.25, default_mix


def test_of_those_that_do_about_sixty_percent_verify_by_default(default_mix):
    share = default_mix["verified"] / default_mix["profitable"]
    assert 0.45 <= share <= 0.75, default_mix


def test_the_setting_moves_the_verifiable_share(default_mix):
    pessimistic = measure_mix(verifiable_share=0.3)
    assert pessimistic["candidates"] == pytest.approx(default_mix["candidates"], rel=0.1)
    share = pessimistic["verified"] / pessimistic["profitable"]
    assert 0.15 <= share <= 0.45, pessimistic
    assert pessimistic["verified"] < default_mix["verified"]
