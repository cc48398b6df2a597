"""The spending ledger: what the last hour's tokens bought, by purpose, on the shared clock."""

from __future__ import annotations

from tokens.clock import FakeClock
from tokens.ledger import KEEP_SECONDS, SpendLedger, describe
from tokens.tests.helpers import START


def test_the_last_hour_sums_every_pass_and_forgets_older_spending(store):
    clock = FakeClock(START)
    ledger = SpendLedger(store, bucket_id="b", clock=clock)
    ledger.record({"statistics": 40, "offers": 0})
    clock.advance(30 * 60)
    ledger.record({"statistics": 10, "offers": 24, "sellers": 2})
    other = SpendLedger(store, bucket_id="another-key", clock=clock)
    other.record({"statistics": 999})
    assert ledger.last(3600) == {"statistics": 50, "offers": 24, "sellers": 2}

    clock.advance(45 * 60)
    assert ledger.last(3600) == {"statistics": 10, "offers": 24, "sellers": 2}, (
        "the first pass is past the hour"
    )
    assert ledger.last(10 * 3600) == ledger.last(KEEP_SECONDS), "no further back than it keeps"
    assert 0 < store.ttl(f"tokens:spent:b:{int(clock.time() // 60) - 45}") <= KEEP_SECONDS


def test_the_operators_line_names_each_purpose():
    assert describe({}) == "nothing"
    assert describe({"statistics": 50, "offers": 24, "discovery": 0}) == "74 tokens: offers 24, statistics 50"
