"""Several real processes share one bucket in real Redis and call the Keepa simulator over
real HTTP: together they never spend more than Keepa's rules allow, never dig below the
floor by more than one call, and never get a 429 once the first reading has arrived."""

from __future__ import annotations

import multiprocessing
import random
import time

import pytest
import redis

from deals.keepa.client import KeepaClient
from deals.keepa.errors import NotEnoughTokens
from keepasim.simulator import KeepaSimulator, SimulatorConfig
from tokens.bucket import RedisTokenBucket
from tokens.clock import ScaledClock

pytestmark = pytest.mark.slow

SCALE = 60.0  # one Keepa minute per real second
RATE = 20
START_BALANCE = 30
MAX_BATCH = 3
WORKERS = 4
RUN_SECONDS = 5.0
FLOOR = 0


def worker(redis_url, base_url, epoch, asins, seed, results):
    """One worker process: its own clock, Redis client and HTTP client, calling in a loop."""
    clock = ScaledClock(SCALE, epoch)
    store = redis.Redis.from_url(redis_url)
    bucket = RedisTokenBucket(store, bucket_id="concurrency", clock=clock, floor=FLOOR, auto_recharge=False)
    client = KeepaClient(
        "k", base_url=base_url, bucket=bucket, clock=clock, connect_timeout=2, read_timeout=5, max_attempts=1
    )
    rng = random.Random(seed)
    report = {"calls": 0, "refused": 0, "rate_limited": 0, "min_left": None}
    deadline = time.monotonic() + RUN_SECONDS
    while time.monotonic() < deadline:
        try:
            batch = rng.sample(asins, rng.randint(1, MAX_BATCH))
            response = client.products(batch, stats=None, history=False)
        except NotEnoughTokens as refused:
            if refused.status == 429:
                report["rate_limited"] += 1
            else:
                report["refused"] += 1
            clock.sleep(min(refused.wait_seconds, 30))
            continue
        report["calls"] += 1
        left = response.reading.tokens_left
        report["min_left"] = left if report["min_left"] is None else min(report["min_left"], left)
    results.put(report)


def test_processes_sharing_one_bucket_never_overspend_and_never_get_429(redis_url, real_redis):
    epoch = time.time()
    clock = ScaledClock(SCALE, epoch)
    config = SimulatorConfig(keys={"k": RATE}, start_balance=START_BALANCE, clock=clock, products=50)
    simulator = KeepaSimulator(config)  # the workers ask for these 50 products only
    base_url = simulator.start()
    # Building the catalogue takes real seconds, which the x60 clock turns into refills.
    simulator.ledger("k").set_balance(START_BALANCE)
    try:
        asins = [product.asin for product in simulator.catalogue.products]
        context = multiprocessing.get_context("spawn")
        results = context.Queue()
        processes = [
            context.Process(target=worker, args=(redis_url, base_url, epoch, asins, seed, results))
            for seed in range(WORKERS)
        ]
        for process in processes:
            process.start()
        reports = [results.get(timeout=60) for _ in processes]
        for process in processes:
            process.join(timeout=10)
        ledger = simulator.ledger("k")
        spent = simulator.stats.tokens_consumed["k"]
        rate_limited = simulator.stats.rate_limited
    finally:
        simulator.stop()

    calls = sum(r["calls"] for r in reports)
    assert calls > 10, reports  # they really competed
    assert sum(r["refused"] for r in reports) > 0  # and the bucket really held them back
    assert rate_limited == 0 and sum(r["rate_limited"] for r in reports) == 0
    assert spent <= START_BALANCE + ledger.refilled_total + MAX_BATCH - 1
    assert min(r["min_left"] for r in reports if r["min_left"] is not None) >= FLOOR - MAX_BATCH
    assert ledger.balance() >= FLOOR - MAX_BATCH
