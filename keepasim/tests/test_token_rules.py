"""Keepa's token rules for one key, table-driven on a fake clock."""

from __future__ import annotations

import pytest

from keepasim.token_rules import KeepaTokenLedger


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
