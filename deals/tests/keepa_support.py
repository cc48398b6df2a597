"""Keepa for the deals tests: a client of the simulator, and a bucket that runs dry on cue."""

from __future__ import annotations

from deals.keepa.client import KeepaClient
from tokens.interface import Grant, Refusal, TokenReading


def simulator_client(sim, clock, key: str, *, bucket=None, **options) -> KeepaClient:
    """A real client over HTTP to ``sim``, on the test's clock, with short timeouts."""
    settings = {"connect_timeout": 5, "read_timeout": 5, "max_attempts": 2, **options}
    return KeepaClient(key, base_url=sim.base_url, clock=clock, bucket=bucket, **settings)


class CountingBucket:
    """Grants the first ``grants`` reservations, then refuses as an empty bucket would."""

    def __init__(self, grants: int = 10**9, rate: int = 5):
        self.grants = grants
        self.rate = rate
        self.fatal: list[str] = []

    def reserve(self, cost: int) -> Grant | Refusal:
        if self.grants <= 0:
            return Refusal(wait_seconds=120.0, reason="empty")
        self.grants -= 1
        return Grant(reservation_id="r", cost=cost)

    def settle(self, grant: Grant | None, reading: TokenReading | None, *, status: int | None = None) -> None:
        return None

    def pause_fatal(self, reason: str) -> None:
        self.fatal.append(reason)
