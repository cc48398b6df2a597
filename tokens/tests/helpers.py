"""Small builders shared by the bucket tests."""

from __future__ import annotations

from tokens.clock import FakeClock
from tokens.interface import TokenReading

START = 1_700_000_000.0


def reading(clock: FakeClock, left: int, *, rate: int = 5, refill_in: float = 60, consumed: int = 1, at=None):
    """A Keepa envelope taken now (or at unix seconds ``at``)."""
    stamp = clock.time() if at is None else at
    return TokenReading(
        tokens_left=left,
        refill_in_ms=int(refill_in * 1000),
        refill_rate=rate,
        timestamp_ms=int(stamp * 1000),
        tokens_consumed=consumed,
    )
