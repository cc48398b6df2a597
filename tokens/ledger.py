"""What the Keepa tokens went on: tokens charged per purpose, per minute of the clock, kept
in Redis for two hours so an operator can ask "what did the last hour buy?".

The purposes are the callers' words (tokens knows nothing of what they buy); a pass records
its spending when it ends, so the hour is exact to the length of a pass (minutes).
"""

from __future__ import annotations

from collections.abc import Mapping

import redis as redis_lib

from tokens.clock import Clock

KEEP_SECONDS = 2 * 3600
MINUTE = 60


class SpendLedger:
    def __init__(self, redis: redis_lib.Redis, *, bucket_id: str, clock: Clock):
        self.redis = redis
        self.clock = clock
        self.prefix = f"tokens:spent:{bucket_id}"

    def _key(self, minute: int) -> str:
        return f"{self.prefix}:{minute}"

    def record(self, spent: Mapping[str, int]) -> None:
        """Add ``spent`` (purpose -> tokens) to the current minute."""
        charged = {purpose: tokens for purpose, tokens in spent.items() if tokens > 0}
        if not charged:
            return
        key = self._key(int(self.clock.time() // MINUTE))
        pipe = self.redis.pipeline(transaction=False)
        for purpose, tokens in charged.items():
            pipe.hincrby(key, purpose, tokens)
        pipe.expire(key, KEEP_SECONDS)
        pipe.execute()

    def last(self, seconds: int = 3600) -> dict[str, int]:
        """Tokens per purpose over the last ``seconds`` (at most ``KEEP_SECONDS``)."""
        now = int(self.clock.time() // MINUTE)
        minutes = range(now - min(seconds, KEEP_SECONDS) // MINUTE + 1, now + 1)
        pipe = self.redis.pipeline(transaction=False)
        for minute in minutes:
            pipe.hgetall(self._key(minute))
        totals: dict[str, int] = {}
        for entry in pipe.execute():
            for purpose, tokens in entry.items():
                name = purpose.decode() if isinstance(purpose, bytes) else purpose
                totals[name] = totals.get(name, 0) + int(tokens)
        return totals


def describe(spent: Mapping[str, int]) -> str:
    """ "discovery 15, statistics 230, ..." or "nothing"."""
    if not any(spent.values()):
        return "nothing"
    total = sum(spent.values())
    parts = ", ".join(f"{purpose} {tokens}" for purpose, tokens in sorted(spent.items()) if tokens)
    return f"{total} tokens: {parts}"
