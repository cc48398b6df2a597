"""Keepa's token rules for one key, as the simulator enforces them.

Pure and clock-driven, so the simulator, the token benchmark and table-driven tests all
agree on what Keepa would do: ``refill_rate`` tokens arrive in one batch every 60 s, the
balance never exceeds 60 x rate, a call with a positive balance is charged in full (even
into the negative), and a call at <= 0 is refused (429) free of charge.
"""

from __future__ import annotations

import math
import threading

from tokens.clock import Clock

REFILL_PERIOD_SECONDS = 60


class KeepaTokenLedger:
    def __init__(self, *, refill_rate: int, clock: Clock, start_balance: int | None = None):
        if refill_rate <= 0:
            raise ValueError("refill_rate must be positive")
        self.refill_rate = refill_rate
        self.clock = clock
        self._lock = threading.Lock()
        self._balance = self.capacity if start_balance is None else start_balance
        self._anchor = clock.time()  # refills happen at anchor + k * 60 s
        self._ticks_applied = 0
        self.refilled_total = 0  # tokens actually added (after the cap)
        self.lost_to_cap = 0  # tokens that would have arrived but the bucket was full

    @property
    def capacity(self) -> int:
        return 60 * self.refill_rate

    def _apply_refills(self) -> None:
        due = math.floor((self.clock.time() - self._anchor) / REFILL_PERIOD_SECONDS)
        while self._ticks_applied < due:
            self._ticks_applied += 1
            added = max(0, min(self.refill_rate, self.capacity - self._balance))
            self._balance += added
            self.refilled_total += added
            self.lost_to_cap += self.refill_rate - added

    def balance(self) -> int:
        with self._lock:
            self._apply_refills()
            return self._balance

    def refill_in_ms(self) -> int:
        with self._lock:
            self._apply_refills()
            next_refill = self._anchor + (self._ticks_applied + 1) * REFILL_PERIOD_SECONDS
            return max(0, math.ceil((next_refill - self.clock.time()) * 1000))

    def try_charge(self, cost: int) -> bool:
        """Charge ``cost`` if the balance is positive; False means 429 (nothing charged)."""
        with self._lock:
            self._apply_refills()
            if self._balance <= 0:
                return False
            self._balance -= cost
            return True

    def set_balance(self, balance: int) -> None:
        """For tests and demos: put the bucket in a given state (refill timing unchanged)."""
        with self._lock:
            self._apply_refills()
            self._balance = balance

    def set_refill_rate(self, refill_rate: int) -> None:
        """A plan change: the new rate applies from the next refill."""
        with self._lock:
            self._apply_refills()
            self.refill_rate = refill_rate
            self._balance = min(self._balance, self.capacity)

    def envelope(self, consumed: int) -> dict:
        """The token fields Keepa puts on every response."""
        balance = self.balance()
        return {
            "tokensLeft": balance,
            "refillIn": self.refill_in_ms(),
            "refillRate": self.refill_rate,
            "tokenFlowReduction": 0.0,
            "tokensConsumed": consumed,
            "timestamp": int(self.clock.time() * 1000),
        }
