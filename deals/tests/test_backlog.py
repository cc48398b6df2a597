"""The candidate backlog: one meaning of "due" for every source, and the lease workers share."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from deals import backlog, discovery
from deals.models import Candidate
from dealsite.tests.support import index_plans
from tokens.clock import FakeClock

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock():
    return FakeClock(start=datetime(2024, 3, 1, tzinfo=UTC).timestamp())


def feed_entry(asin: str, updated: datetime) -> discovery.FeedDeal:
    return discovery.FeedDeal(asin=asin, created=updated, last_update=updated)


def test_every_source_makes_a_candidate_due_the_same_way(clock):
    """A failed or finished candidate made due again starts afresh, whoever asks."""
    for source in Candidate.Source.values:
        asin = f"B00000000{Candidate.Source.values.index(source)}"
        backlog.make_due(asin, source=source, now=clock.now())
        backlog.fail(Candidate.objects.get(asin=asin), "Keepa said no", now=clock.now(), retryable=False)
        clock.advance(60)
        backlog.make_due(asin, source=source, now=clock.now())
        candidate = Candidate.objects.get(asin=asin)
        assert (candidate.status, candidate.attempts, candidate.last_error) == ("pending", 0, "")
        assert (candidate.due_at, candidate.updated_at, candidate.claimed_until) == (clock.now(),) * 2 + (
            None,
        )
        assert candidate.priority == backlog.PRIORITY[source]
        assert candidate.discovered_at < candidate.due_at, "still known since its first sighting"


def test_the_feed_revives_a_finished_candidate_only_when_keepa_updated_the_product(clock):
    seen = clock.now() - timedelta(hours=3)
    discovery.record_candidates([feed_entry("B000000001", seen)], now=clock.now())
    backlog.finish(Candidate.objects.get(), now=clock.now())

    assert discovery.record_candidates([feed_entry("B000000001", seen)], now=clock.now()) == 0
    assert Candidate.objects.get().status == Candidate.Status.DONE

    newer = seen + timedelta(hours=1)
    assert discovery.record_candidates([feed_entry("B000000001", newer)], now=clock.now()) == 1
    candidate = Candidate.objects.get()
    assert (candidate.status, candidate.feed_last_update) == (Candidate.Status.PENDING, newer)


def test_a_pending_candidate_keeps_its_place_when_the_feed_reports_it_again(clock):
    discovery.record_candidates([feed_entry("B000000001", clock.now())], now=clock.now())
    first_due = Candidate.objects.get().due_at
    clock.advance(600)
    assert discovery.record_candidates([feed_entry("B000000001", clock.now())], now=clock.now()) == 0
    assert Candidate.objects.get().due_at == first_due


def test_claims_take_staff_requests_first_and_a_lapsed_lease_is_free_again(clock, settings):
    backlog.make_due("B000000001", source=Candidate.Source.REFRESH, now=clock.now())
    backlog.make_due("B000000002", source=Candidate.Source.DISCOVERY, now=clock.now())
    backlog.request_refetch(["B000000003"], now=clock.now())
    claimed = backlog.claim(2, now=clock.now())
    assert [c.asin for c in claimed] == ["B000000003", "B000000002"]
    assert [c.asin for c in Candidate.objects.claimable(clock.now())] == ["B000000001"]
    assert Candidate.objects.due(clock.now()).count() == 3, "leased candidates are still due"

    clock.advance(settings.DEALSITE_PIPELINE["CLAIM_LEASE_SECONDS"] + 1)
    assert Candidate.objects.claimable(clock.now()).count() == 3, "a dead worker's lease expires"


def priced_entry(asin: str, now: datetime, used_now: int, used_average: int) -> discovery.FeedDeal:
    return discovery.FeedDeal(
        asin=asin, created=now, last_update=now, used_now_cents=used_now, used_average_cents=used_average
    )


def test_discovered_candidates_are_fetched_in_the_order_the_feed_prices_promise_a_profit(clock):
    """The feed's 90-day used average against its used price now guesses the profit before a
    token is spent: the best guess goes first, one promising nothing after any with a chance,
    one the feed gave no prices for last of all; staff and refreshes keep their tiers."""
    now = clock.now()
    discovery.record_candidates(
        [
            priced_entry("B000000001", now, used_now=1500, used_average=1600),  # fees eat it
            priced_entry("B000000002", now, used_now=900, used_average=6000),
            discovery.FeedDeal(asin="B000000003", created=now, last_update=now),  # no prices
            priced_entry("B000000004", now, used_now=2500, used_average=9000),
        ],
        now=now,
    )
    backlog.make_due("B000000005", source=Candidate.Source.REFRESH, now=now)
    backlog.request_refetch(["B000000006"], now=now)
    promise = dict(Candidate.objects.values_list("asin", "feed_profit_cents"))
    assert promise["B000000004"] > promise["B000000002"] > 0 > promise["B000000001"]
    assert promise["B000000003"] is None and promise["B000000005"] is None

    order = [c.asin for c in backlog.claim(10, now=now)]
    assert order == ["B000000006", "B000000004", "B000000002", "B000000001", "B000000003", "B000000005"]


def test_without_ranking_candidates_are_fetched_in_the_order_found(clock, settings):
    settings.DEALSITE_PIPELINE = {**settings.DEALSITE_PIPELINE, "RANK_BY_FEED": False}
    for n, (used_now, used_average) in enumerate([(1500, 1600), (900, 6000), (2500, 9000)], start=1):
        discovery.record_candidates(
            [priced_entry(f"B00000000{n}", clock.now(), used_now, used_average)], now=clock.now()
        )
        clock.advance(1)
    assert [c.asin for c in backlog.claim(10, now=clock.now())] == ["B000000001", "B000000002", "B000000003"]
    assert Candidate.objects.filter(backlog.worth_fetching()).count() == 3, "every one counts"


def test_a_pending_candidate_takes_the_promise_of_the_feeds_newer_report(clock):
    discovery.record_candidates([priced_entry("B000000001", clock.now(), 1500, 1600)], now=clock.now())
    assert not Candidate.objects.filter(backlog.worth_fetching()).exists(), "a loss does not count"
    clock.advance(600)
    discovery.record_candidates([priced_entry("B000000001", clock.now(), 900, 6000)], now=clock.now())
    assert Candidate.objects.get().feed_profit_cents > 0
    assert Candidate.objects.filter(backlog.worth_fetching()).count() == 1


def test_retryable_failures_back_off_doubling_until_the_last_attempt(clock, settings):
    backlog.make_due("B000000001", source=Candidate.Source.DISCOVERY, now=clock.now())
    backoff = settings.DEALSITE_PIPELINE["RETRY_BACKOFF_SECONDS"]
    for attempt in range(1, settings.DEALSITE_PIPELINE["MAX_ATTEMPTS"]):
        backlog.fail(Candidate.objects.get(), "HTTP 503", now=clock.now(), retryable=True)
        candidate = Candidate.objects.get()
        assert candidate.status == Candidate.Status.PENDING
        assert candidate.due_at == clock.now() + timedelta(seconds=backoff * 2 ** (attempt - 1))
    backlog.fail(Candidate.objects.get(), "HTTP 503", now=clock.now(), retryable=True)
    assert Candidate.objects.get().status == Candidate.Status.FAILED


def test_an_idle_pass_says_why_nothing_was_claimable(clock):
    now = clock.now()
    assert backlog.why_idle(now).startswith("the backlog is empty")
    backlog.make_due("B000000001", source=Candidate.Source.DISCOVERY, now=now + timedelta(hours=2))
    assert backlog.why_idle(now) == (
        f"the backlog has nothing due; the next candidate is due at "
        f"{now + timedelta(hours=2):%Y-%m-%d %H:%M:%S} UTC"
    )
    backlog.make_due("B000000002", source=Candidate.Source.DISCOVERY, now=now)
    [leased] = backlog.claim(5, now=now)
    assert backlog.why_idle(now).startswith(
        f"every due candidate is claimed by a running worker (the first lease ends at "
        f"{leased.claimed_until:%Y-%m-%d %H:%M:%S} UTC)"
    )


def test_keepa_faults_back_off_doubling_to_a_ceiling_and_never_spend_attempts(clock, settings):
    backlog.make_due("B000000001", source=Candidate.Source.DISCOVERY, now=clock.now())
    first = settings.DEALSITE_PIPELINE["TRANSIENT_BACKOFF_SECONDS"]
    ceiling = settings.DEALSITE_PIPELINE["TRANSIENT_BACKOFF_MAX_SECONDS"]
    waits = []
    for _ in range(8):
        backlog.defer([Candidate.objects.get()], "HTTP 500", now=clock.now())
        candidate = Candidate.objects.get()
        waits.append((candidate.due_at - clock.now()).total_seconds())
        assert (candidate.status, candidate.attempts, candidate.claimed_until) == ("pending", 0, None)
    assert waits[:3] == [first, 2 * first, 4 * first]
    assert max(waits) == ceiling == waits[-1]

    backlog.finish(Candidate.objects.get(), now=clock.now())
    assert Candidate.objects.get().transient_failures == 0, "a fetch ends the run of faults"


def test_failed_candidates_are_made_due_again_with_fresh_attempts(clock):
    backlog.make_due("B000000001", source=Candidate.Source.DISCOVERY, now=clock.now())
    backlog.make_due("B000000002", source=Candidate.Source.DISCOVERY, now=clock.now())
    backlog.fail(Candidate.objects.get(asin="B000000001"), "no product", now=clock.now(), retryable=False)
    assert backlog.retry_failed(now=clock.now()) == 1
    revived = Candidate.objects.get(asin="B000000001")
    assert (revived.status, revived.attempts, revived.due_at) == ("pending", 0, clock.now())


@pytest.mark.parametrize(("ranked", "index"), [(True, "candidate_claim_idx"), (False, "candidate_due_idx")])
def test_a_claim_reads_the_backlog_in_an_index_order(require_postgres, clock, settings, ranked, index):
    """Candidates promising no profit pile up pending: a claim that sorted them all took a
    second at a million. The claim's own query reads its order from an index."""
    settings.DEALSITE_PIPELINE = {**settings.DEALSITE_PIPELINE, "RANK_BY_FEED": ranked}
    backlog.make_due("B000000001", source=Candidate.Source.DISCOVERY, now=clock.now())
    plans = index_plans(lambda: backlog.claim(20, now=clock.now()))
    assert any(index in plan and "Sort" not in plan and "LockRows" in plan for plan in plans), plans
