"""Fixtures for the bucket suite: the same tests run on fakeredis (Lua via lupa) and real Redis."""

from __future__ import annotations

import pytest

from tokens.bucket import RedisTokenBucket
from tokens.clock import FakeClock
from tokens.tests.helpers import START


@pytest.fixture(params=["fakeredis", "redis"])
def store(request):
    if request.param == "fakeredis":
        return request.getfixturevalue("fake_redis")
    return request.getfixturevalue("real_redis")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def make_bucket(store, clock):
    def make(**options) -> RedisTokenBucket:
        options.setdefault("auto_recharge", False)
        return RedisTokenBucket(store, bucket_id="test", clock=clock, **options)

    return make
