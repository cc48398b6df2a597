"""How much of Keepa's refill the shared token bucket turns into fetched products.

Simulates six hours of Keepa time on a fake clock: Keepa's token rules (``KeepaTokenLedger``),
a standing backlog, 1 or 4 workers, 5 or 20 tokens/min, with and without a recharge forced
at the start, through the real ``RedisTokenBucket`` (on fakeredis by default, or a real Redis
with ``--redis-url``). Each call costs ``--cost`` tokens (one per product), spends 50 ms on the
way to Keepa, 0.9 s there and 50 ms back; a refused worker comes back after the wait rounded
up to whole seconds, as rq's scheduler would run it.

    .venv/bin/python bench/token_utilization.py [--hours 6] [--cost 5] [--redis-url URL]
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import fakeredis
import redis

from keepasim.token_rules import KeepaTokenLedger
from tokens.bucket import RedisTokenBucket
from tokens.clock import FakeClock
from tokens.interface import Grant, TokenReading

TO_KEEPA, AT_KEEPA, FROM_KEEPA = 0.05, 0.9, 0.05
START = 1_700_000_000.0


@dataclass
class Result:
    refilled: int = 0
    spent: int = 0
    lost_to_cap: int = 0
    rate_limited: int = 0
    rate_limited_after_first_reading: int = 0
    products: int = 0
    calls: int = 0
    refusals: int = 0
    held_at_end: int = 0
    longest_idle: float = 0.0
    recharge_seconds: float = 0.0
    idle: list[tuple[float, float]] = field(default_factory=list)


def simulate(
    *, rate: int, workers: int, forced: bool, hours: float, cost: int, store, auto_recharge: bool = True
) -> Result:
    store.flushdb()
    clock = FakeClock(START)
    ledger = KeepaTokenLedger(refill_rate=rate, clock=clock, start_balance=0)
    bucket = RedisTokenBucket(store, bucket_id="bench", clock=clock, auto_recharge=auto_recharge)
    end = START + hours * 3600
    result = Result()
    seq = itertools.count()
    events: list[tuple[float, int, str, int, object]] = []

    def push(at: float, kind: str, worker: int, payload: object = None) -> None:
        heapq.heappush(events, (at, next(seq), kind, worker, payload))

    if forced:
        bucket.start_recharge("benchmark: forced at start", "deploy")
    for worker in range(workers):
        push(START, "attempt", worker)
    for tick in range(1, int(hours * 60) + 1):
        push(START + tick * 60, "tick", -1)
    push(end, "end", -1)

    in_flight = 0
    first_reading = False
    idle_since: float | None = None
    recharge_since: float | None = START if forced else None
    while events:
        at, _, kind, worker, payload = heapq.heappop(events)
        clock.set(at)
        if kind == "end":
            break
        if kind == "attempt":
            outcome = bucket.reserve(cost)
            if isinstance(outcome, Grant):
                in_flight += 1
                push(at + TO_KEEPA, "arrive", worker, outcome)
            else:
                result.refusals += 1
                push(at + max(1, math.ceil(outcome.wait_seconds)), "attempt", worker)
        elif kind == "arrive":
            charged = ledger.try_charge(cost)
            if not charged:
                result.rate_limited += 1
                result.rate_limited_after_first_reading += first_reading
            push(at + AT_KEEPA, "respond", worker, (payload, charged))
        elif kind == "respond":
            grant, charged = payload
            envelope = TokenReading.from_envelope(ledger.envelope(cost if charged else 0))
            push(at + FROM_KEEPA, "settle", worker, (grant, charged, envelope))
        elif kind == "settle":
            grant, charged, envelope = payload
            bucket.settle(grant, envelope)
            first_reading = True
            in_flight -= 1
            if charged:
                result.spent += cost
                result.products += cost
                result.calls += 1
            push(at, "attempt", worker)
        # Idle: Keepa would accept a call, nobody is calling, and no recharge is holding back.
        recharging = store.hget(bucket.keys[0], "recharge_active") == b"1"
        if recharging and recharge_since is None:
            recharge_since = at
        elif not recharging and recharge_since is not None:
            result.recharge_seconds += at - recharge_since
            recharge_since = None
        idle = in_flight == 0 and not recharging and ledger.balance() > 0
        if idle and idle_since is None:
            idle_since = at
        elif not idle and idle_since is not None:
            result.longest_idle = max(result.longest_idle, at - idle_since)
            idle_since = None
    if idle_since is not None:
        result.longest_idle = max(result.longest_idle, end - idle_since)
    if recharge_since is not None:
        result.recharge_seconds += end - recharge_since
    result.held_at_end = ledger.balance()  # applies the refills due by the end first
    result.refilled = ledger.refilled_total
    result.lost_to_cap = ledger.lost_to_cap
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hours", type=float, default=6.0)
    parser.add_argument("--cost", type=int, default=5, help="tokens (= products) per call")
    parser.add_argument(
        "--redis-url", help="run on this real Redis (flushes its database) instead of fakeredis"
    )
    args = parser.parse_args(argv)
    store = redis.Redis.from_url(args.redis_url) if args.redis_url else fakeredis.FakeRedis()
    print(f"store: {'real Redis ' + args.redis_url if args.redis_url else 'fakeredis (Lua via lupa)'}")
    print(
        f"{args.hours:g} h of Keepa time, {args.cost} tokens (products) per call, "
        "standing backlog, Keepa balance 0 at the start"
    )
    header = (
        f"{'rate':>4} {'auto':>4} {'wrk':>3} {'forced':>6} | "
        f"{'refilled':>8} {'spent':>6} {'util':>6} {'util*':>6} "
        f"{'held':>5} {'capped':>6} {'429s':>4} {'429*':>4} | {'prod/h':>6} {'limit/h':>7} | "
        f"{'idle max':>8} {'recharge':>8} {'wall':>5}"
    )
    print(header)
    print("-" * len(header))
    scenarios = [(rate, True, w, f) for rate, w, f in itertools.product((5, 20), (1, 4), (False, True))]
    scenarios += [(5, False, w, f) for w, f in itertools.product((1, 4), (False, True))]
    for rate, auto, workers, forced in scenarios:
        started = time.perf_counter()
        r = simulate(
            rate=rate,
            workers=workers,
            forced=forced,
            hours=args.hours,
            cost=args.cost,
            store=store,
            auto_recharge=auto,
        )
        wall = time.perf_counter() - started
        util = r.spent / r.refilled if r.refilled else math.nan
        used = r.refilled - max(0, r.held_at_end)
        util_held = r.spent / used if used > 0 else math.nan
        print(
            f"{rate:>4} {('on' if auto else 'off'):>4} {workers:>3} {('yes' if forced else 'no'):>6} | "
            f"{r.refilled:>8} {r.spent:>6} "
            f"{util:>6.3f} {util_held:>6.3f} {r.held_at_end:>5} {r.lost_to_cap:>6} {r.rate_limited:>4} "
            f"{r.rate_limited_after_first_reading:>4} | {r.products / args.hours:>6.0f} {60 * rate:>7} | "
            f"{r.longest_idle:>7.0f}s {r.recharge_seconds / 60:>6.0f}min {wall:>4.1f}s"
        )
    print(
        "auto = the automatic recharge policy (rate < 10/min and balance < 20); held = Keepa balance "
        "at the end;\nutil = spent / refilled; util* = spent / (refilled - held at end); "
        "429* = after the first reading;\nlimit/h = 60 x rate / 1 token per product; "
        "idle max = longest stretch with a positive Keepa balance,\nno call in flight and no recharge active."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
