"""Discovery, backfill and repair in-process against the simulator (real HTTP, fake clock).

The worker-process drills (kill -9, Redis flush, fault storms) live in test_workers.py;
these pin down what one pass does with each Keepa outcome.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from django.db.models import F

from deals import backfill, backlog, discovery, repair
from deals.keepa.errors import NotEnoughTokens
from deals.keepa.facts import keepa_minutes_to_datetime
from deals.models import Candidate, Deal, DiscoverySelection
from deals.selection import DEFAULT_SELECTION, validate_selection
from deals.tests.keepa_support import CountingBucket, simulator_client
from keepasim.simulator import KeepaSimulator, SimulatorConfig
from tokens.clock import FakeClock
from tokens.interface import Grant, Refusal

KEY = "pipeline-key-0123456789"
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def statistics_only(settings):
    """These pin what the statistics pass does and costs; how it shares its tokens with
    verification is test_verification.py's."""
    settings.DEALSITE_VERIFICATION = {**settings.DEALSITE_VERIFICATION, "POLICY": "off"}


@pytest.fixture
def clock():
    return FakeClock(start=datetime(2026, 11, 1, tzinfo=UTC).timestamp())


@pytest.fixture
def sim(clock):
    with KeepaSimulator(SimulatorConfig(keys={KEY: 20}, clock=clock, products=400)) as simulator:
        yield simulator


def make_client(sim, clock, bucket=None, key=KEY):
    return simulator_client(sim, clock, key, bucket=bucket)


def plan(rate: int, tokens: int = 1000):
    return lambda: (rate, tokens)


# --- the deal-finder selection ------------------------------------------------------------


@pytest.mark.parametrize(
    ("selection", "message"),
    [
        ([], "JSON object"),
        ({"priceTypes": [2, 1]}, "exactly one"),
        ({"priceTypes": [2], "salesRankRange": [10, 1]}, "above max"),
        ({"priceTypes": [2], "salesRankRange": [1]}, "pair"),
        ({"priceTypes": [2], "dateRange": 7}, "dateRange"),
        ({"priceTypes": [2], "currentRange": ["1", "x"]}, "whole number"),
        ({"priceTypes": [2], "isRangeEnabled": "yes"}, "true or false"),
        ({"priceTypes": [2], "surprise": 1}, "unknown selection keys: surprise"),
    ],
)
def test_a_bad_selection_is_refused_with_the_reason(selection, message):
    with pytest.raises(ValueError, match=message):
        validate_selection(selection)


def test_numbers_sent_as_strings_are_accepted_as_keepa_does():
    clean = validate_selection({"priceTypes": ["2"], "salesRankRange": ["1", "5000"], "dateRange": "1"})
    assert clean == {"priceTypes": [2], "salesRankRange": [1, 5000], "dateRange": 1}


def test_staff_edits_of_the_selection_are_validated_and_audited():
    selection = discovery.active_selection()
    selection.selection = {"priceTypes": [2], "salesRankRange": [5, 1]}
    with pytest.raises(Exception, match="above max"):
        selection.full_clean()
    selection.selection = {"priceTypes": [2], "salesRankRange": ["1", "900000"]}
    selection.full_clean()
    selection.save()
    assert selection.history.count() == 2
    assert DiscoverySelection.objects.get().selection["salesRankRange"] == [1, 900000]


# --- discovery ----------------------------------------------------------------------------


def test_a_scan_records_candidates_once_and_moves_the_watermark(sim, clock):
    client = make_client(sim, clock)
    selection = discovery.active_selection()
    first = discovery.scan(client, selection, now=clock.now())
    assert first.completed and first.pages == 2
    assert Candidate.objects.count() == first.due > 150
    selection.refresh_from_db()
    assert selection.watermark is not None

    again = discovery.scan(client, selection, now=clock.now())
    assert again.due == 0, "a repeated scan adds nothing"
    assert Candidate.objects.count() == first.due


def test_an_aborted_scan_keeps_its_committed_page_and_skips_nothing(sim, clock):
    selection = discovery.active_selection()
    client = make_client(sim, clock, bucket=CountingBucket(grants=1))
    with pytest.raises(NotEnoughTokens):
        discovery.scan(client, selection, now=clock.now())
    assert Candidate.objects.count() == 150, "page 0 is committed before page 1 is asked for"
    selection.refresh_from_db()
    assert selection.watermark is None, "an aborted scan never moves the watermark"

    result = discovery.scan(make_client(sim, clock), selection, now=clock.now())
    assert result.completed
    assert Candidate.objects.count() > 150


class ShiftingFeed:
    """A deal-finder client whose feed (newest first) can lose deals between calls, as
    Keepa's does. With ``counts`` it tells how many deals the query matched, as Keepa does."""

    def __init__(self, count: int, *, counts: bool = True):
        self.counts = counts
        start = 7_000_000  # Keepa minutes
        self.entries = [
            {"asin": f"B{n:09d}", "creationDate": start - n, "lastUpdate": start - n} for n in range(count)
        ]
        self.pages_read: list[int] = []
        self.bucket = None

    def with_bucket(self, bucket) -> ShiftingFeed:
        twin = copy.copy(self)  # shares pages_read and entries
        twin.bucket = bucket
        return twin

    def deals(self, selection):
        if self.bucket is not None:
            outcome = self.bucket.reserve(5)
            if isinstance(outcome, Refusal):
                raise NotEnoughTokens(outcome.wait_seconds, None, outcome.reason, message="refused")
            self.bucket.settle(outcome, None)
        page = selection["page"]
        self.pages_read.append(page)
        return SimpleNamespace(
            deals=self.entries[page * 150 : (page + 1) * 150],
            total=len(self.entries) if self.counts else None,
            reading=SimpleNamespace(tokens_consumed=5),
        )

    def remove_newest(self, count: int) -> None:
        del self.entries[:count]

    def add_newest(self, count: int) -> None:
        top = self.entries[0]["creationDate"]
        self.entries[:0] = [
            {"asin": f"N{n:09d}", "creationDate": top + count - n, "lastUpdate": top + count - n}
            for n in range(count)
        ]


class SharedBucket:
    """The periodic job's bucket as discovery uses it: a status, and a balance that grants
    reservations while it lasts (every other token went to the backfill)."""

    def __init__(self, rate: int | None, available: int = 1000):
        self.rate = rate
        self.available = available
        self.settled: list[Grant | None] = []

    def status(self):
        return SimpleNamespace(
            refill_rate=self.rate, known=True, available=self.available, next_refill_seconds=42.0
        )

    def reserve(self, cost: int) -> Grant | Refusal:
        if cost > self.available:
            return Refusal(wait_seconds=42.0, reason="empty")
        self.available -= cost
        return Grant(reservation_id=f"r{cost}", cost=cost)

    def settle(self, grant, reading, *, status=None) -> None:
        self.settled.append(grant)


def test_the_periodic_scan_waits_while_the_backlog_holds_twenty_minutes_of_promising_candidates(sim, clock):
    """A feed page costs 5 tokens; while the backfill has work they buy more deals. Candidates
    the feed's prices promise no profit are fetched last and do not count as work."""
    client = make_client(sim, clock)
    discovery.run_discovery(client, now=clock.now(), bucket=SharedBucket(1))
    promising = Candidate.objects.filter(backlog.worth_fetching()).count()
    assert 0 < promising < Candidate.objects.count(), "most of the feed's drops promise nothing"
    assert promising >= discovery.backlog_target(1) == 20
    pages = sim.stats.calls["deal"]

    skipped = discovery.run_discovery(client, now=clock.now(), bucket=SharedBucket(1))
    assert sim.stats.calls["deal"] == pages, "no page bought"
    assert "scan skipped" in skipped.summary()

    bigger_plan = discovery.run_discovery(client, now=clock.now(), bucket=SharedBucket(2))
    assert sim.stats.calls["deal"] > pages, f"{promising} promising are not twenty minutes at 2/min"
    assert bigger_plan.note == ""

    Candidate.objects.filter(backlog.worth_fetching()).update(status=Candidate.Status.DONE)
    pages = sim.stats.calls["deal"]
    discovery.run_discovery(client, now=clock.now(), bucket=SharedBucket(1))
    assert sim.stats.calls["deal"] > pages, "a backlog of candidates promising nothing scans again"

    operator = discovery.run_discovery(client, now=clock.now())
    assert operator.note == "", "the operator's command always scans"


def test_a_periodic_scan_starts_with_the_pages_it_needs_reserved_so_none_is_bought_twice(clock):
    feed = ShiftingFeed(700)
    discovery.scan(feed, discovery.active_selection(), now=clock.now(), max_pages=1)
    Candidate.objects.update(status=Candidate.Status.DONE)  # no backlog to hold the scan back
    # At 20/min the scan tops the backlog up to 400 products: three pages.
    waiting = discovery.run_discovery(feed, now=clock.now(), bucket=SharedBucket(20, available=14))
    assert feed.pages_read == [0] and waiting.wait_seconds == 42.0, "three pages or none"

    bucket = SharedBucket(20, available=15)
    done = discovery.run_discovery(feed, now=clock.now(), bucket=bucket)
    assert feed.pages_read == [0, 1, 2, 3]
    assert done.processed == 450 and discovery.active_selection().scan_cursor["page"] == 4
    assert Grant(reservation_id="r15", cost=15) in bucket.settled, "the reservation is handed back"
    assert discovery.pages_to_reserve(0, 2400) == discovery.PREPAID_PAGES, "never more than four"


def test_the_periodic_scan_tops_the_backlog_up_to_twenty_minutes_of_products(clock):
    feed = ShiftingFeed(700)
    small_plan = SharedBucket(8)  # 160 products
    assert discovery.run_discovery(feed, now=clock.now(), bucket=small_plan).processed == 300
    assert feed.pages_read == [0, 1] and discovery.active_selection().scan_cursor["page"] == 2

    assert "scan skipped" in discovery.run_discovery(feed, now=clock.now(), bucket=small_plan).note
    Candidate.objects.update(status=Candidate.Status.DONE)
    discovery.run_discovery(feed, now=clock.now(), bucket=small_plan)
    assert feed.pages_read == [0, 1, 2, 3], "resumed where it paused"


def test_before_the_first_reading_the_scan_assumes_the_smallest_plan(clock):
    feed = ShiftingFeed(700)
    unknown = SharedBucket(None)
    assert discovery.run_discovery(feed, now=clock.now(), bucket=unknown).processed == 150
    assert feed.pages_read == [0], "a page, not the whole feed"


def test_a_cut_short_scan_resumes_at_its_next_page(clock):
    feed = ShiftingFeed(700)  # pages 0..4, the last one short
    selection = discovery.active_selection()
    first = discovery.scan(feed, selection, now=clock.now(), max_pages=2)
    assert not first.completed and feed.pages_read == [0, 1]

    selection.refresh_from_db()
    rest = discovery.scan(feed, selection, now=clock.now())
    assert rest.completed
    assert feed.pages_read == [0, 1, 2, 3, 4], "the query matches as many deals as before: none left"
    assert Candidate.objects.count() == 700
    selection.refresh_from_db()
    assert selection.scan_cursor is None
    assert selection.watermark == keepa_minutes_to_datetime(7_000_000), "the newest deal of page 0"


def test_without_the_matched_count_a_resumed_page_proves_its_place_with_the_page_before(clock):
    feed = ShiftingFeed(700, counts=False)
    selection = discovery.active_selection()
    discovery.scan(feed, selection, now=clock.now(), max_pages=2)

    selection.refresh_from_db()
    assert discovery.scan(feed, selection, now=clock.now()).completed
    # Page 2 starts below the last deal committed: had deals left the feed above it, page 1
    # would now end with deals never seen. Page 1 shows nothing was skipped; page 2 is kept.
    assert feed.pages_read == [0, 1, 2, 1, 3, 4], "page 1 twice, every other page once"
    assert Candidate.objects.count() == 700


def test_deals_leaving_the_feed_meanwhile_make_the_resumed_scan_step_back_not_skip(clock):
    feed = ShiftingFeed(700)
    selection = discovery.active_selection()
    discovery.scan(feed, selection, now=clock.now(), max_pages=2)  # 300 committed
    feed.remove_newest(200)  # the 300th deal is now 100th: pages 2 and 1 start below it
    remaining = {d["asin"] for d in feed.entries}

    selection.refresh_from_db()
    assert discovery.scan(feed, selection, now=clock.now()).completed
    assert feed.pages_read[2:] == [2, 1, 0, 3], "stepped back to page 0, kept pages 1 and 2"
    recorded = set(Candidate.objects.values_list("asin", flat=True))
    assert remaining <= recorded, "no deal skipped"


def test_a_feed_that_grew_on_top_proves_the_place_without_a_page_read_again(clock):
    feed = ShiftingFeed(700)
    selection = discovery.active_selection()
    discovery.scan(feed, selection, now=clock.now(), max_pages=2)
    feed.add_newest(10)  # the deals already committed move down: page 2 starts with ten of them

    selection.refresh_from_db()
    assert discovery.scan(feed, selection, now=clock.now()).completed
    assert feed.pages_read == [0, 1, 2, 3, 4]
    assert Candidate.objects.count() == 700, "the ten new deals wait for the next scan from the top"


def test_an_edited_selection_starts_its_scan_afresh(clock):
    feed = ShiftingFeed(700)
    selection = discovery.active_selection()
    discovery.scan(feed, selection, now=clock.now(), max_pages=2)
    selection.refresh_from_db()
    selection.selection = {**selection.selection, "salesRankRange": [1, 500_000]}
    selection.save()
    discovery.scan(feed, selection, now=clock.now(), max_pages=1)
    assert feed.pages_read[2:] == [0], "another query: its pages are not the old one's"


def test_garbage_in_the_feed_is_counted_not_fatal():
    feed, rejected = discovery.parse_feed(
        [{"asin": "bad"}, None, {"asin": "0123456789", "creationDate": 7_000_000, "lastUpdate": 7_000_001}]
    )
    assert [d.asin for d in feed] == ["0123456789"] and rejected == 2


def test_the_feed_gives_its_used_price_now_and_its_ninety_day_used_average():
    """Keepa's -1 (no offer), -2 (unknown), short arrays and odd types leave a price out."""
    times = {"creationDate": 7_000_000, "lastUpdate": 7_000_001}
    ninety_days = [[-1] * 4, [-1] * 4, [-1] * 4, [5000, 4000, 3500, 20000]]
    deals = [
        {"asin": "0000000001", **times, "current": [-1, 2800, 1200, 9000], "avg": ninety_days},
        {"asin": "0000000002", **times, "current": [-1, -1, -2, 9000], "avg": [[1, 2, 3]]},
        {"asin": "0000000003", **times, "current": "1200", "avg": [None, None, None, [0, 0, True]]},
    ]
    feed, rejected = discovery.parse_feed(deals)
    prices = {d.asin: (d.used_now_cents, d.used_average_cents) for d in feed}
    assert rejected == 0
    assert prices == {"0000000001": (1200, 3500), "0000000002": (None, None), "0000000003": (None, None)}


# --- backfill -----------------------------------------------------------------------------


def discovered(sim, clock, count: int) -> list[str]:
    deals = make_client(sim, clock).deals({**DEFAULT_SELECTION, "sortType": 1}).deals
    feed, _ = discovery.parse_feed(deals[:count])
    discovery.record_candidates(feed, now=clock.now())
    return [d.asin for d in feed]


def test_backfill_commits_every_candidate_as_a_deal_at_one_token_each(sim, clock):
    asins = discovered(sim, clock, 40)  # most deal-finder candidates are no deal
    spent_before = sim.stats.tokens_consumed[KEY]
    report = backfill.run_backfill(make_client(sim, clock), clock=clock, plan=plan(rate=5))
    assert report.processed == 40 and report.failed == 0
    assert sim.stats.tokens_consumed[KEY] - spent_before == 40
    assert sim.stats.calls["product"] == 40, "below 20 tokens/min a call carries one ASIN"
    assert set(Deal.objects.values_list("asin", flat=True)) == set(asins)
    assert Deal.objects.displayable().count() > 0
    assert not Candidate.objects.filter(status=Candidate.Status.PENDING).exists()


def test_an_operators_limited_pass_stops_at_its_limit_even_mid_batch(sim, clock):
    discovered(sim, clock, 30)
    report = backfill.run_backfill(make_client(sim, clock), clock=clock, plan=plan(rate=20), limit=7)
    assert report.processed == 7 and sim.stats.calls["product"] == 1, "one batch of seven"
    assert Candidate.objects.filter(status=Candidate.Status.PENDING).count() == 23


def profitable_share(asins) -> float:
    deals = Deal.objects.filter(asin__in=asins)
    return deals.displayable().count() / deals.count()


def test_a_short_budget_buys_the_statistics_of_the_candidates_the_feed_promises_most(sim, clock, settings):
    """Twenty tokens among 150 candidates: the ranking spends them where the feed's prices
    promise a profit, and finds more deals than the same tokens spent in the order found."""
    settings.DEALSITE_VERIFICATION = {**settings.DEALSITE_VERIFICATION, "POLICY": "off"}
    asins = discovered(sim, clock, 150)
    best = list(
        Candidate.objects.order_by(F("feed_profit_cents").desc(nulls_last=True), "due_at", "id").values_list(
            "asin", flat=True
        )[:20]
    )
    backfill.run_backfill(make_client(sim, clock), clock=clock, plan=plan(rate=5), limit=20)
    fetched = set(Deal.objects.values_list("asin", flat=True))
    assert fetched == set(best)

    settings.DEALSITE_PIPELINE = {**settings.DEALSITE_PIPELINE, "RANK_BY_FEED": False}
    Candidate.objects.filter(asin__in=fetched).delete()
    backfill.run_backfill(make_client(sim, clock), clock=clock, plan=plan(rate=5), limit=20)
    in_order_found = set(Deal.objects.values_list("asin", flat=True)) - fetched
    assert len(in_order_found) == 20 and in_order_found <= set(asins)
    assert profitable_share(fetched) > 2 * profitable_share(in_order_found)


def test_bigger_plans_batch_up_to_what_the_bucket_can_pay(sim, clock):
    discovered(sim, clock, 30)
    report = backfill.run_backfill(make_client(sim, clock), clock=clock, plan=plan(rate=20, tokens=25))
    assert report.processed == 30
    assert sim.stats.calls["product"] == 2, "25 then 5"


def test_batch_size_rule():
    assert backfill.batch_size_for(5, 300, 50) == 1
    assert backfill.batch_size_for(None, None, 50) == 1
    assert backfill.batch_size_for(20, 300, 50) == 50
    assert backfill.batch_size_for(60, 3000, 500) == 100
    assert backfill.batch_size_for(20, -5, 50) == 1


def test_an_unchanged_product_is_not_fetched_again_but_staff_refetch_is(sim, clock):
    [asin] = discovered(sim, clock, 1)
    client = make_client(sim, clock)
    backfill.run_backfill(client, clock=clock, plan=plan(rate=5))
    Candidate.objects.filter(asin=asin).update(status=Candidate.Status.PENDING)
    calls = sim.stats.calls["product"]
    report = backfill.run_backfill(client, clock=clock, plan=plan(rate=5))
    assert report.unchanged == 1 and sim.stats.calls["product"] == calls

    backlog.request_refetch([asin], now=clock.now())
    report = backfill.run_backfill(client, clock=clock, plan=plan(rate=5))
    assert report.processed == 1 and sim.stats.calls["product"] == calls + 1


def test_an_unknown_asin_fails_alone_with_its_reason(sim, clock):
    discovered(sim, clock, 3)
    Candidate.objects.create(asin="B000000000", due_at=clock.now() - timedelta(minutes=1))
    report = backfill.run_backfill(make_client(sim, clock), clock=clock, plan=plan(rate=20))
    assert report.processed == 3 and report.failed == 1
    failed = Candidate.objects.get(asin="B000000000")
    assert failed.status == Candidate.Status.FAILED and "no product" in failed.last_error


def test_no_tokens_releases_the_batch_and_reports_the_wait(sim, clock):
    discovered(sim, clock, 3)
    report = backfill.run_backfill(
        make_client(sim, clock, bucket=CountingBucket(grants=1)), clock=clock, plan=plan(5)
    )
    assert report.processed == 1 and report.wait_seconds == 120.0
    assert Candidate.objects.filter(status=Candidate.Status.PENDING, claimed_until__isnull=True).count() == 2


def test_payment_required_stops_all_work_and_loses_nothing(sim, clock):
    discovered(sim, clock, 3)
    bucket = CountingBucket()
    report = backfill.run_backfill(
        make_client(sim, clock, bucket=bucket, key="expired-key"), clock=clock, plan=plan(5)
    )
    assert report.fatal and bucket.fatal
    assert Candidate.objects.filter(status=Candidate.Status.PENDING, claimed_until__isnull=True).count() == 3


def test_transient_errors_are_retried_later_with_backoff_without_spending_attempts(sim, clock, settings):
    discovered(sim, clock, 1)
    sim.queue_faults("error", "error", "error", "error")  # past the client's tries
    started = clock.now()
    report = backfill.run_backfill(make_client(sim, clock), clock=clock, plan=plan(5))
    candidate = Candidate.objects.get()
    assert report.keepa_fault and candidate.status == Candidate.Status.PENDING
    assert candidate.attempts == 0, "Keepa's 500s are not the ASIN's fault"
    assert candidate.transient_failures == 1
    first = settings.DEALSITE_PIPELINE["TRANSIENT_BACKOFF_SECONDS"]
    assert candidate.due_at == started + timedelta(seconds=first)
    assert "TransientError" in candidate.last_error and "500" in candidate.last_error


def test_hours_of_keepa_faults_never_fail_the_backlog_and_it_moves_once_keepa_is_back(sim, clock, settings):
    """The storm that once moved 1,338 candidates to FAILED: 2.5 Keepa-hours of 500s and
    cut-off answers. Every candidate waits at most the longest backoff, then is fetched."""
    discovered(sim, clock, 6)
    client = make_client(sim, clock)
    sim.set_faults(error_rate=0.5, malformed_rate=1.0)  # a 500 or a cut-off answer, every call
    storm_end = clock.time() + 2.5 * 3600
    while clock.time() < storm_end:
        backfill.run_backfill(client, clock=clock, plan=plan(20))
        clock.advance(60)
    assert not Candidate.objects.filter(status=Candidate.Status.FAILED).exists()
    assert set(Candidate.objects.values_list("attempts", flat=True)) == {0}
    longest = settings.DEALSITE_PIPELINE["TRANSIENT_BACKOFF_MAX_SECONDS"]
    assert all(c.due_at <= clock.now() + timedelta(seconds=longest) for c in Candidate.objects.all())

    sim.set_faults(error_rate=0, malformed_rate=0)
    sim.ledger(KEY).set_balance(100)  # Keepa charged the cut-off answers
    clock.advance(longest)
    report = backfill.run_backfill(client, clock=clock, plan=plan(20))
    assert report.processed == 6 and Deal.objects.count() == 6
    assert set(Candidate.objects.values_list("transient_failures", flat=True)) == {0}


def test_a_keepa_fault_during_repair_is_no_failed_repair(sim, clock):
    awkward = next(p.asin for p in sim.catalogue if p.kind == "no_sales")
    Candidate.objects.create(asin=awkward, due_at=clock.now())
    client = make_client(sim, clock)
    backfill.run_backfill(client, clock=clock, plan=plan(5))
    before = Deal.objects.get(asin=awkward).repair_attempts
    clock.advance(7 * 24 * 3600)
    sim.queue_faults("error", "error", "error", "error")
    report = repair.run_repair(client, clock=clock)
    assert report.keepa_fault and report.failed == 0
    assert Deal.objects.get(asin=awkward).repair_attempts == before


def test_an_awkward_product_becomes_a_hidden_incomplete_deal_with_its_reason(sim, clock):
    awkward = next(p.asin for p in sim.catalogue if p.kind == "no_sales")
    Candidate.objects.create(asin=awkward, due_at=clock.now())
    backfill.run_backfill(make_client(sim, clock), clock=clock, plan=plan(5))
    deal = Deal.objects.get(asin=awkward)
    assert deal.quality == Deal.Quality.INCOMPLETE and deal.quality_reason
    assert not Deal.objects.displayable().filter(asin=awkward).exists()


# --- repair, refresh and expiry ------------------------------------------------------------


def test_repair_gives_up_after_three_failures(sim, clock):
    awkward = next(p.asin for p in sim.catalogue if p.kind == "no_sales")
    Candidate.objects.create(asin=awkward, due_at=clock.now())
    client = make_client(sim, clock)
    backfill.run_backfill(client, clock=clock, plan=plan(5))
    for _ in range(3):
        clock.advance(7 * 24 * 3600)
        repair.run_repair(client, clock=clock)
    deal = Deal.objects.get(asin=awkward)
    assert deal.quality == Deal.Quality.UNREPAIRABLE and deal.quality_reason
    calls = sim.stats.calls["product"]
    clock.advance(30 * 24 * 3600)
    repair.run_repair(client, clock=clock)
    assert sim.stats.calls["product"] == calls, "an unrepairable deal stops costing tokens"


def test_known_deals_are_refreshed_on_their_own_schedule_and_expire_when_stale(sim, clock):
    asins = discovered(sim, clock, 2)
    backfill.run_backfill(make_client(sim, clock), clock=clock, plan=plan(5))
    now = clock.now()
    Deal.objects.filter(asin=asins[0]).update(fetched_at=now - timedelta(days=2))
    Deal.objects.filter(asin=asins[1]).update(fetched_at=now - timedelta(days=30))
    assert backfill.schedule_refreshes(now=now) == 1
    refresh = Candidate.objects.get(asin=asins[0])
    assert refresh.status == Candidate.Status.PENDING and refresh.source == Candidate.Source.REFRESH
    stale = Deal.objects.get(asin=asins[1])
    assert stale.expired_at is not None and "not refreshed" in stale.expired_reason
    assert stale.history.exists(), "expiry hides a deal; its history stays"


# --- one clock ----------------------------------------------------------------------------


def test_every_timestamp_a_pass_stores_comes_from_the_clock_it_was_given():
    """A demo runs on a scaled clock: a row stamped by the wall clock instead would sit years
    away from its neighbours. Here the passes' clock is years behind the wall clock."""
    clock = FakeClock(start=datetime(2021, 6, 1, tzinfo=UTC).timestamp())
    started = clock.now()
    with KeepaSimulator(SimulatorConfig(keys={KEY: 20}, clock=clock, products=60)) as simulator:
        client = make_client(simulator, clock)
        discovery.run_discovery(client, now=clock.now(), max_pages=1)
        awkward = next(p.asin for p in simulator.catalogue if p.kind == "no_sales")
        backlog.request_refetch([awkward], now=clock.now())
        backfill.run_backfill(client, clock=clock, plan=plan(rate=20))
        clock.advance(7 * 24 * 3600)
        repair.run_repair(client, clock=clock)
        clock.advance(20 * 24 * 3600)
        backfill.run_backfill(client, clock=clock, plan=plan(rate=20))
    assert Deal.objects.filter(expired_at__isnull=False).exists(), "expiry ran too"
    keepas_own = {"keepa_updated_at", "feed_last_update", "watermark"}  # times Keepa reported
    stamped = [
        (model.__name__, name, value)
        for model in (Deal, Deal.history.model, Candidate, DiscoverySelection)
        for row in model.objects.values()
        for name, value in row.items()
        if isinstance(value, datetime)
    ]
    assert {name for _model, name, _value in stamped} >= {"created_at", "updated_at", "history_date"}
    wrong = [
        (model, name, value)
        for model, name, value in stamped
        if value > clock.now() or (name not in keepas_own and value < started)
    ]
    assert wrong == []
