"""The multi-host claim, as far as one machine allows: two worker pools, each process with
its own Redis and database connections (pool B even spells the Redis URL differently, as a
second host would), plus a manual backfill from a third process, all against one bucket.
A small starting balance makes them contend. One budget means no 429 from Keepa, no
overspend, and every candidate done exactly once."""

from __future__ import annotations

import pytest
from django.test import override_settings

from deals import jobs
from deals.models import Candidate, Deal
from dealsite.tests.support import wait_for
from diagnostics.checks import check_workers
from keepasim.harness import API_KEY, PipelineStack

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_two_worker_pools_share_one_token_budget(redis_url, real_redis):
    if "127.0.0.1" not in redis_url:
        pytest.skip("needs a TCP Redis on 127.0.0.1 to spell it a second way")
    other_host_url = redis_url.replace("127.0.0.1", "localhost")
    queues = {name: {"URL": redis_url, "DEFAULT_TIMEOUT": 600} for name in ("default", "keepa")}
    stack = PipelineStack(redis_url=redis_url, refill_rate=20, time_scale=60, products=200, start_balance=10)
    with override_settings(RQ_QUEUES=queues, REDIS_URL=redis_url), stack:
        asins = [p.asin for p in stack.simulator.catalogue if p.kind == "ordinary"][:30]
        Candidate.objects.bulk_create([Candidate(asin=asin) for asin in asins])
        stack.start_worker()
        stack.start_worker()
        stack.extra_env = {"REDIS_URL": other_host_url, "DATABASE_CONN_MAX_AGE": "0"}
        stack.start_worker()
        stack.start_worker()
        wait_for(lambda: len(check_workers().data["alive"]) == 4, timeout=30, message="four live workers")

        jobs.ensure_scheduled("backfill")
        stack.manage("backfill", timeout=120)

        def settled() -> int:
            return Candidate.objects.filter(asin__in=asins).exclude(status=Candidate.Status.PENDING).count()

        wait_for(lambda: settled() == len(asins), timeout=90, message="all candidates settled")
        assert stack.simulator.stats.rate_limited == 0, "one budget: Keepa never answered 429"
        assert Deal.objects.filter(asin__in=asins).count() == len(set(asins))
        consumed = stack.simulator.stats.tokens_consumed[API_KEY]
        assert consumed <= len(asins) + 4, f"{consumed} tokens for {len(asins)} deals: nothing fetched twice"
