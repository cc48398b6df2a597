"""Contract: the Keepa client against the simulator over real HTTP, one FakeClock for both.

Every status and fault class yields the right typed error, the token reading when one came
back, exactly one ``settle`` per attempt, and never the key in logs or error text.
"""

from __future__ import annotations

import logging
import math
import traceback

import pytest
import requests

from deals.keepa.client import KeepaClient, estimate_product_cost, matched_total, seconds_until_positive
from deals.keepa.errors import (
    InvalidParameter,
    KeepaError,
    MalformedResponse,
    NotEnoughTokens,
    NotFound,
    PaymentRequired,
    TransientError,
)
from deals.keepa.offers import parse_offers
from keepasim.simulator import KeepaSimulator, SimulatorConfig
from tokens.clock import FakeClock
from tokens.interface import Grant, Refusal, TokenReading

KEY = "k3y-TOPSECRET-0123456789abcdef"


class RecordingBucket:
    """A bucket that grants (or refuses) and remembers every call made to it."""

    def __init__(self, refuse: Refusal | None = None):
        self.refuse = refuse
        self.reserved: list[int] = []
        self.settled: list[tuple[Grant | None, TokenReading | None]] = []
        self.fatal: list[str] = []

    def reserve(self, cost: int) -> Grant | Refusal:
        self.reserved.append(cost)
        if self.refuse is not None:
            return self.refuse
        return Grant(reservation_id=f"r{len(self.reserved)}", cost=cost)

    def settle(self, grant: Grant | None, reading: TokenReading | None, *, status: int | None = None) -> None:
        self.settled.append((grant, reading))

    def pause_fatal(self, reason: str) -> None:
        self.fatal.append(reason)


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def sim(clock):
    config = SimulatorConfig(keys={KEY: 5}, clock=clock, products=60, slow_seconds=2)
    with KeepaSimulator(config) as simulator:
        yield simulator


@pytest.fixture
def bucket():
    return RecordingBucket()


def make_client(sim, clock, bucket, key=KEY, **kwargs) -> KeepaClient:
    options = {"connect_timeout": 2.0, "read_timeout": 2.0, "max_attempts": 4, **kwargs}
    return KeepaClient(key, base_url=sim.base_url, bucket=bucket, clock=clock, **options)


@pytest.fixture
def client(sim, clock, bucket):
    return make_client(sim, clock, bucket)


def known_asins(sim, n):
    return [p.asin for p in sim.catalogue.products[:n]]


# --- 200 ------------------------------------------------------------------------------


def test_products_returns_raw_products_and_charges_only_those_found(client, sim, bucket):
    asins = known_asins(sim, 2)
    result = client.products([*asins, "0000000000"])

    assert [p["asin"] for p in result.products] == asins
    assert all(len(p["csv"]) == 36 for p in result.products)
    assert len(result.products[0]["stats"]["avg365"]) == 36
    # Reserved the conservative estimate (3 ASINs), Keepa charged the 2 returned.
    assert bucket.reserved == [3]
    assert result.reading.tokens_consumed == 2
    assert result.reading.tokens_left == 298
    assert bucket.settled == [(Grant("r1", 3), result.reading)]


def test_token_status_is_free_and_settles_without_a_reservation(client, bucket):
    reading = client.token_status()

    assert reading.tokens_left == 300 and reading.refill_rate == 5 and reading.tokens_consumed == 0
    assert bucket.reserved == []
    assert bucket.settled == [(None, reading)]


def test_deals_returns_the_dr_list_and_costs_five(client, bucket):
    result = client.deals({"page": 0, "priceTypes": [2], "dateRange": 3, "sortType": 1})

    assert 0 < len(result.deals) <= 150
    assert result.reading.tokens_consumed == 5 and bucket.reserved == [5]
    ages = [d["creationDate"] for d in result.deals]
    assert ages == sorted(ages, reverse=True)
    assert result.total == len(result.deals), "a small catalogue: one page holds every deal matched"


@pytest.mark.parametrize(
    ("deals", "total"),
    [
        ({"categoryCount": [120, 30]}, 150),
        ({"categoryCount": []}, 0),
        ({}, None),
        ({"categoryCount": [1, -1]}, None),
        ({"categoryCount": [1, "2"]}, None),
        ({"categoryCount": [True]}, None),
        ({"categoryCount": 7}, None),
    ],
)
def test_an_unusable_matched_count_is_unknown_not_an_error(deals, total):
    assert matched_total(deals) == total


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, 10),
        ({"offers": 20}, 10 * 12),
        ({"offers": 25}, 10 * 18),
        ({"buybox": True}, 30),
        ({"update": 0}, 20),
        ({"update": 1}, 10),
        ({"offers": 100}, 10 * 60),
        ({"offers": 20, "buybox": True}, 10 * 12),  # buybox is free with offers
        ({"rating": True}, 20),
        ({"offers": 20, "rating": True}, 10 * 13),
    ],
)
def test_cost_estimate_follows_keepa_rules_conservatively(kwargs, expected):
    assert estimate_product_cost(10, **kwargs) == expected


# --- 4xx ------------------------------------------------------------------------------


def test_bad_asin_lists_are_refused_before_any_call(client, sim, bucket):
    for asins in ([], [""], ["0000000001"] * 101):
        with pytest.raises(InvalidParameter):
            client.products(asins)
    assert bucket.reserved == [] and sim.stats.calls["product"] == 0


def test_400_is_invalid_parameter_with_the_reading(client, bucket):
    with pytest.raises(InvalidParameter) as caught:
        client.products(["not-an-asin"])

    assert caught.value.status == 400
    assert caught.value.reading is not None and caught.value.reading.tokens_consumed == 0
    assert "invalidParameter" in str(caught.value)
    assert bucket.settled == [(Grant("r1", 1), caught.value.reading)]


def test_402_pauses_all_work_and_is_fatal(sim, clock, bucket):
    client = make_client(sim, clock, bucket, key="some-other-key")
    with pytest.raises(PaymentRequired) as caught:
        client.products(known_asins(sim, 1))

    assert caught.value.status == 402
    assert caught.value.reading is not None
    assert len(bucket.fatal) == 1
    assert len(bucket.settled) == 1 and bucket.settled[0][1] == caught.value.reading


def test_404_is_not_found(sim, clock, bucket):
    client = KeepaClient(
        KEY, base_url=sim.base_url + "/v9", bucket=bucket, clock=clock, connect_timeout=2, read_timeout=2
    )
    with pytest.raises(NotFound) as caught:
        client.products(known_asins(sim, 1))

    assert caught.value.status == 404 and caught.value.reading is not None
    assert len(bucket.settled) == 1


def test_429_is_not_retried_and_says_how_long_to_wait(client, sim, clock, bucket):
    ledger = sim.ledger(KEY)
    assert ledger.try_charge(400)  # 300 - 400 = -100
    calls_before = sim.stats.calls["product"]

    with pytest.raises(NotEnoughTokens) as caught:
        client.products(known_asins(sim, 1))

    error = caught.value
    assert error.status == 429 and error.reason == "rate_limited"
    assert error.reading.tokens_left == -100 and error.reading.tokens_consumed == 0
    # 100 tokens short at 5/min: the 21st refill makes it positive. The first comes in 60 s.
    assert error.wait_seconds == pytest.approx(60 + 20 * 60)
    assert sim.stats.calls["product"] - calls_before == 1
    assert sim.stats.rate_limited == 1
    assert bucket.settled == [(Grant("r1", 1), error.reading)]

    clock.advance(error.wait_seconds)
    assert client.products(known_asins(sim, 1)).reading.tokens_consumed == 1


def test_a_refused_reservation_never_reaches_keepa(sim, clock):
    bucket = RecordingBucket(refuse=Refusal(wait_seconds=42.0, reason="recharging"))
    client = make_client(sim, clock, bucket)

    with pytest.raises(NotEnoughTokens) as caught:
        client.products(known_asins(sim, 3))

    error = caught.value
    assert (error.wait_seconds, error.reading, error.reason) == (42.0, None, "recharging")
    assert sim.stats.calls["product"] == 0
    assert bucket.settled == []


@pytest.mark.parametrize(
    ("tokens_left", "refill_in_ms", "now_offset", "expected"),
    [
        (5, 30_000, 0, 0.0),
        (0, 30_000, 0, 30.0),
        (-1, 30_000, 0, 30.0),
        (-5, 30_000, 0, 90.0),  # -5 + 5 = 0 is not positive: one more refill
        (-12, 10_000, 4, 6.0 + 120.0),
    ],
)
def test_wait_until_the_balance_is_positive(tokens_left, refill_in_ms, now_offset, expected):
    reading = TokenReading(tokens_left, refill_in_ms, 5, 1_700_000_000_000)
    assert seconds_until_positive(reading, 1_700_000_000 + now_offset) == pytest.approx(expected)


# --- transient faults -----------------------------------------------------------------


def test_500s_are_retried_with_backoff_then_succeed(client, sim, clock, bucket):
    sim.queue_faults("error", "error")
    started = clock.time()

    result = client.products(known_asins(sim, 1))

    assert result.reading.tokens_consumed == 1
    assert sim.stats.statuses[500] == 2 and sim.stats.calls["product"] == 3
    assert [r.tokens_consumed for _, r in bucket.settled] == [0, 0, 1]
    assert bucket.reserved == [1, 1, 1]
    assert clock.time() - started >= 1 + 2  # exponential backoff, slept on the fake clock


def test_500s_past_the_attempt_limit_raise_transient_error(client, sim, bucket):
    sim.set_faults(error_rate=1.0)

    with pytest.raises(TransientError) as caught:
        client.products(known_asins(sim, 1))

    assert caught.value.status == 500 and caught.value.reading is not None
    assert sim.stats.calls["product"] == 4
    assert len(bucket.settled) == 4 and all(r is not None for _, r in bucket.settled)


def test_slow_responses_time_out_and_are_retried(sim, clock, bucket):
    client = make_client(sim, clock, bucket, read_timeout=0.2, max_attempts=2)
    sim.queue_faults("slow", "slow")

    with pytest.raises(TransientError) as caught:
        client.products(known_asins(sim, 1))

    assert "timed out" in str(caught.value) and caught.value.reading is None
    assert bucket.settled == [(Grant("r1", 1), None), (Grant("r2", 1), None)]


def test_dropped_connections_are_retried(client, sim, bucket):
    sim.queue_faults("drop")

    result = client.products(known_asins(sim, 1))

    assert result.reading.tokens_consumed == 1
    assert bucket.settled[0] == (Grant("r1", 1), None)


def test_dropped_connections_past_the_limit_raise_transient_error(sim, clock, bucket):
    client = make_client(sim, clock, bucket, max_attempts=2)
    sim.queue_faults("drop", "drop")

    with pytest.raises(TransientError) as caught:
        client.token_status()

    assert "connection failed" in str(caught.value)


def test_malformed_json_is_not_retried_here_but_is_transient_for_the_backlog(client, sim, bucket):
    sim.queue_faults("malformed")

    with pytest.raises(MalformedResponse) as caught:
        client.products(known_asins(sim, 1))

    assert isinstance(caught.value, TransientError), "a cut-off answer is Keepa's trouble, not the ASIN's"
    assert caught.value.reading is None
    assert sim.stats.calls["product"] == 1
    assert bucket.settled == [(Grant("r1", 1), None)]


# --- offers and sellers ---------------------------------------------------------------


def offer_pages_cost(products):
    """Keepa's rule: 6 tokens per page of up to 10 offers found, at least a page per product;
    1 for a product whose offers Keepa could not fetch."""
    return sum(
        6 * max(1, math.ceil(len(p.get("offers") or []) / 10)) if p.get("offersSuccessful", True) else 1
        for p in products
    )


def record_requests(client, monkeypatch):
    """(endpoint, parameters but the key) of every request the client sends."""
    sent = []
    send = client.session.get

    def recording(url, params=None, **kwargs):
        sent.append((url.rsplit("/", 1)[-1], {k: v for k, v in params.items() if k != "key"}))
        return send(url, params=params, **kwargs)

    monkeypatch.setattr(client.session, "get", recording)
    return sent


def test_the_statistics_call_keeps_its_exact_request_and_cost(client, sim, bucket, monkeypatch):
    sent = record_requests(client, monkeypatch)
    asins = known_asins(sim, 2)

    result = client.products(asins, stats=365, history=True)

    assert sent == [("product", {"domain": 1, "asin": ",".join(asins), "history": 1, "stats": 365})]
    assert bucket.reserved == [2] and result.reading.tokens_consumed == 2


def test_an_offers_call_sends_keepas_parameters_and_reserves_the_worst_case(client, sim, bucket, monkeypatch):
    sent = record_requests(client, monkeypatch)
    asins = known_asins(sim, 3)

    result = client.products(asins, offers=20, only_live_offers=True, rating=True, buybox=True)

    assert sent == [
        (
            "product",
            {
                "domain": 1,
                "asin": ",".join(asins),
                "history": 1,
                "stats": 365,
                "offers": 20,
                "only-live-offers": 1,
                "buybox": 1,
                "rating": 1,
            },
        )
    ]
    assert bucket.reserved == [3 * (12 + 1)], "2 pages of offers and the rating; buybox is free"
    pages = offer_pages_cost(result.products)
    assert pages <= result.reading.tokens_consumed <= pages + len(result.products) <= bucket.reserved[0]
    assert bucket.settled == [(Grant("r1", 39), result.reading)]


def test_an_offers_call_costs_6_per_page_of_offers_found_and_buybox_nothing(client, sim, bucket):
    asins = known_asins(sim, 4)

    plain = client.products(asins, offers=20, only_live_offers=True)
    boxed = client.products(asins, offers=20, only_live_offers=True, buybox=True)
    many = client.products(asins[:1], offers=100, only_live_offers=True)

    assert bucket.reserved == [48, 48, 60]
    assert plain.reading.tokens_consumed == offer_pages_cost(plain.products)
    assert boxed.reading.tokens_consumed == plain.reading.tokens_consumed
    assert many.reading.tokens_consumed == offer_pages_cost(many.products)
    assert all(len(p["offers"]) <= 20 for p in plain.products)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"offers": 0},
        {"offers": 19},
        {"offers": 101},
        {"offers": 20.0},
        {"offers": "20"},
        {"offers": True},
        {"only_live_offers": True},
    ],
)
def test_misused_offers_are_refused_before_any_call(client, sim, bucket, kwargs):
    with pytest.raises(ValueError, match="offers"):
        client.products(known_asins(sim, 1), **kwargs)

    assert bucket.reserved == [] and sim.stats.calls["product"] == 0


def test_offers_come_in_keepas_format_and_parse_without_a_problem(client, sim):
    products = client.products(known_asins(sim, 20), offers=20, only_live_offers=True).products

    parsed = [parse_offers(p) for p in products]

    assert [p.problems for p in parsed if p.problems] == []
    assert all(isinstance(p.get("liveOffersOrder"), list) for p in products)
    offers = [o for p in parsed for o in p.offers]
    assert offers and any(o.is_used for o in offers) and any(o.is_buyable for o in offers)
    assert {o.is_fba for o in offers} == {True, False}
    for found in parsed:
        assert found.stats.retrieved_offer_count is not None
        assert found.stats.offer_count_fba is not None and found.stats.offer_count_fbm is not None
    boxes = [p.used_buy_box for p in parsed if p.used_buy_box is not None]
    assert boxes and all(b.condition in (2, 3, 4, 5) and b.seller_id for b in boxes)


def live_seller_ids(client, sim, n=3):
    products = client.products(known_asins(sim, n), offers=20, only_live_offers=True).products
    return list(dict.fromkeys(o.seller_id for p in products for o in parse_offers(p).offers))


def test_sellers_reserve_one_per_id_and_keepa_charges_those_found(client, sim):
    ids = live_seller_ids(client, sim)[:5]
    bucket = RecordingBucket()

    result = client.with_bucket(bucket).sellers([*ids, "AUNKNOWNSELLER9", ids[0]])

    assert bucket.reserved == [len(ids) + 1], "duplicates collapse; an unknown id is still reserved"
    assert sorted(result.sellers) == sorted(ids), "an unknown seller is simply absent"
    assert result.reading.tokens_consumed == len(ids)
    assert bucket.settled == [(Grant("r1", len(ids) + 1), result.reading)]
    assert result.problems == ()
    for seller_id, seller in result.sellers.items():
        assert seller.seller_id == seller_id and seller.name
        assert seller.rating_count is not None
        assert seller.rating_percent is None or 0 <= seller.rating_percent <= 100
        assert all(p.startswith("no rating yet") for p in seller.problems)
    assert any(s.rating_percent is not None for s in result.sellers.values())


def test_only_unknown_sellers_cost_nothing_and_find_nothing(client, bucket):
    result = client.sellers(["AUNKNOWNSELLER9"])

    assert result.sellers == {} and result.reading.tokens_consumed == 0
    assert bucket.reserved == [1]


@pytest.mark.parametrize(
    "ids",
    [
        [],
        [""],
        ["A1SELLER", None],
        ["A1SELLER,A2SELLER"],
        ["A1 SELLER"],
        [f"A{n:013d}" for n in range(101)],
    ],
)
def test_bad_seller_id_lists_are_refused_before_any_call(client, sim, bucket, ids):
    with pytest.raises(InvalidParameter):
        client.sellers(ids)

    assert bucket.reserved == [] and sim.stats.calls["seller"] == 0


def test_seller_calls_fail_as_every_call_does(sim, clock, bucket):
    client = make_client(sim, clock, bucket, read_timeout=0.2, max_attempts=2)
    unknown = ["AUNKNOWNSELLER9"]

    sim.queue_faults("error")
    assert client.sellers(unknown).reading.tokens_consumed == 0, "a 500 is retried"
    sim.queue_faults("slow", "slow")
    with pytest.raises(TransientError, match="timed out"):
        client.sellers(unknown)
    sim.queue_faults("malformed")
    with pytest.raises(MalformedResponse):
        client.sellers(unknown)
    sim.ledger(KEY).try_charge(1000)
    with pytest.raises(NotEnoughTokens) as limited:
        client.sellers(unknown)
    with pytest.raises(PaymentRequired):
        make_client(sim, clock, bucket, key="some-other-key").sellers(unknown)

    assert limited.value.status == 429 and limited.value.reading.tokens_left < 0
    assert sim.stats.calls["seller"] == 2 + 2 + 1 + 1 + 1
    assert len(bucket.settled) == 7 and len(bucket.fatal) == 1


# --- wire details ---------------------------------------------------------------------


def test_gzip_trailing_slash_and_post_deal(sim):
    token = requests.get(f"{sim.base_url}/token/", params={"key": KEY}, headers={"Accept-Encoding": "gzip"})
    assert token.headers["Content-Encoding"] == "gzip" and token.json()["tokensLeft"] == 300

    posted = requests.post(
        f"{sim.base_url}/deal", params={"key": KEY}, json={"priceTypes": ["2"], "dateRange": "3", "page": "0"}
    )
    assert posted.status_code == 200 and posted.json()["tokensConsumed"] == 5


# --- the key never leaks --------------------------------------------------------------


def _failing_calls(sim, clock, bucket):
    """One call per error class, each returning the error it raised."""

    def run(setup, call):
        setup()
        with pytest.raises(KeepaError) as caught:
            call()
        return caught.value

    client = make_client(sim, clock, bucket, read_timeout=0.2, max_attempts=2)
    asins = known_asins(sim, 1)
    return [
        run(lambda: None, lambda: client.products(["bad"])),
        run(lambda: None, lambda: make_client(sim, clock, bucket, key=KEY + "x").token_status()),
        run(lambda: sim.queue_faults("error", "error"), lambda: client.products(asins)),
        run(lambda: sim.queue_faults("slow", "slow"), lambda: client.products(asins)),
        run(lambda: sim.queue_faults("drop", "drop"), lambda: client.products(asins)),
        run(lambda: sim.queue_faults("malformed"), lambda: client.products(asins)),
        run(lambda: sim.queue_faults("error", "error"), lambda: client.sellers(["AUNKNOWNSELLER9"])),
        run(lambda: sim.ledger(KEY).try_charge(1000), lambda: client.products(asins)),
        run(
            lambda: None,
            lambda: KeepaClient(
                KEY, base_url="http://127.0.0.1:9", clock=clock, connect_timeout=0.2, read_timeout=0.2
            ).token_status(),
        ),
    ]


def test_the_key_never_appears_in_logs_or_errors(sim, clock, bucket, caplog):
    caplog.set_level(logging.DEBUG)

    errors = _failing_calls(sim, clock, bucket)

    wanted = {InvalidParameter, PaymentRequired, TransientError, MalformedResponse, NotEnoughTokens}
    assert all(any(isinstance(e, kind) for e in errors) for kind in wanted)
    for error in errors:
        text = str(error) + repr(error) + "".join(traceback.format_exception(error))
        assert KEY not in text, type(error).__name__
        assert error.__cause__ is None
    assert caplog.records, "the calls should have logged something"
    assert KEY not in caplog.text
    assert KEY not in repr(make_client(sim, clock, bucket))
