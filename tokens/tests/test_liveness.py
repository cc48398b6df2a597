"""Liveness: whatever the plan, threshold, starting balance, clock jumps or lost Redis state,
every recharge ends in bounded time and a standing backlog keeps making progress, without
ever spending more than Keepa's rules allow (Keepa played by ``KeepaTokenLedger``)."""

from __future__ import annotations

import math

import fakeredis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keepasim.token_rules import KeepaTokenLedger
from tokens.bucket import RedisTokenBucket
from tokens.clock import FakeClock
from tokens.interface import Grant, TokenReading
from tokens.tests.helpers import START

TIMEOUT = 3600
TICK = 60


def envelope(ledger: KeepaTokenLedger, consumed: int) -> TokenReading:
    return TokenReading.from_envelope(ledger.envelope(consumed))


def call(bucket, ledger, cost) -> str:
    """One backlog item: reserve, call "Keepa", settle. Returns granted/refused/429."""
    outcome = bucket.reserve(cost)
    if not isinstance(outcome, Grant):
        return outcome
    charged = ledger.try_charge(cost)
    bucket.settle(outcome, envelope(ledger, cost if charged else 0))
    return "ok" if charged else "429"


@st.composite
def scenarios(draw):
    rate = draw(st.integers(1, 100))
    return {
        "rate": rate,
        "threshold": draw(st.one_of(st.integers(0, 60 * rate), st.integers(60 * rate, 10_000))),
        "start": draw(st.integers(-500, 60 * rate)),
        "cost": draw(st.integers(1, 10)),
        "auto": draw(st.booleans()),
        "jumps": draw(st.lists(st.floats(0, 900), min_size=0, max_size=5)),
        "lose_state_at": draw(st.none() | st.integers(1, 60)),
    }


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios())
def test_recharges_end_in_bounded_time_and_a_backlog_always_progresses(scenario):
    rate, cost = scenario["rate"], scenario["cost"]
    clock = FakeClock(START)
    store = fakeredis.FakeRedis()
    ledger = KeepaTokenLedger(refill_rate=rate, clock=clock, start_balance=scenario["start"])
    bucket = RedisTokenBucket(
        store,
        bucket_id="liveness",
        clock=clock,
        threshold=scenario["threshold"],
        recharge_timeout_seconds=TIMEOUT,
        auto_recharge=scenario["auto"],
    )
    spent = 0
    outcome = call(bucket, ledger, 1)  # the probe brings the first reading
    spent += 1 if outcome == "ok" else 0

    # A recharge forced now must end by its clamped threshold (+ one tick) or its timeout.
    status = bucket.start_recharge("liveness", "command")
    clamped = min(scenario["threshold"], 60 * rate - rate)
    assert status.recharge_threshold == clamped
    ideal = (clamped - status.available) / rate * TICK + TICK
    bound = START + min(TIMEOUT, max(0.0, ideal))
    jumps = list(scenario["jumps"])
    forced_recharge_over = False
    successes, refusals_in_a_row, steps = 0, 0, 0
    while successes < 25:
        steps += 1
        assert steps < 2000, "the backlog stopped making progress"
        if steps == scenario["lose_state_at"]:
            store.flushdb()
        was_known = bucket.status().known
        outcome = call(bucket, ledger, cost)
        if outcome in ("ok", "429"):
            forced_recharge_over = True
            refusals_in_a_row = 0
            if outcome == "ok":
                successes += 1
                spent += cost
            else:
                assert not was_known, "429 although the bucket knew the balance"
            continue
        refusals_in_a_row += 1
        assert refusals_in_a_row < 100
        assert 0 < outcome.wait_seconds < math.inf
        if outcome.reason == "recharging" and not forced_recharge_over:
            assert clock.time() + outcome.wait_seconds <= bound + 1e-6
        elif outcome.reason == "recharging":
            assert outcome.wait_seconds <= TIMEOUT
        clock.advance(outcome.wait_seconds + (jumps.pop() if jumps else 0))
        if clock.time() >= bound:
            forced_recharge_over = True
    # Keepa's rule: spending never exceeds what arrived, one call's overdraft at most.
    assert spent <= max(scenario["start"], 0) + ledger.refilled_total + cost
    assert ledger.balance() > -cost - 1
