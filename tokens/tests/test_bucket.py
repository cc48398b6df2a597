"""The bucket's rules, on a fake clock, against fakeredis and real Redis alike."""

from __future__ import annotations

import pytest

from tokens.bucket import bucket_id_for
from tokens.clock import FakeClock
from tokens.interface import Grant, PrepaidBucket, Refusal
from tokens.tests.helpers import reading


def known(bucket, clock, left, **kw):
    """Teach the bucket a balance through the probe call, as a first Keepa response would."""
    grant = bucket.reserve(1)
    assert isinstance(grant, Grant)
    bucket.settle(grant, reading(clock, left, **kw))
    return bucket


# --- unknown state ---------------------------------------------------------------------


def test_with_no_reading_one_probe_call_at_a_time_is_granted(make_bucket, clock):
    bucket = make_bucket()
    assert not bucket.status().known
    probe = bucket.reserve(3)
    assert isinstance(probe, Grant)
    second = bucket.reserve(1)
    assert isinstance(second, Refusal) and second.reason == "empty"
    assert 0 < second.wait_seconds <= bucket.probe_wait_seconds
    bucket.settle(probe, reading(clock, 100))
    assert bucket.status().known
    assert isinstance(bucket.reserve(1), Grant)


def test_a_flushed_redis_falls_back_to_probing_and_rebuilds_from_the_next_reading(make_bucket, store, clock):
    bucket = known(make_bucket(), clock, 200)
    inflight = bucket.reserve(5)
    store.flushdb()
    assert not bucket.status().known
    probe = bucket.reserve(1)
    assert isinstance(probe, Grant) and isinstance(bucket.reserve(1), Refusal)
    bucket.settle(inflight, reading(clock, 190))  # a call from before the flush reports
    status = bucket.status()
    assert status.known and status.tokens == 190 and status.in_flight_tokens == 1


# --- spending --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("balance", "floor", "costs", "granted"),
    [
        (10, 0, [4, 4, 4, 2], [True, True, False, True]),  # 2 left: only what fits
        (1, 0, [50, 1], [True, False]),  # Keepa's rule: alone, any positive balance starts a call
        (0, 0, [1], [False]),
        (-30, 0, [1], [False]),
        (30, 20, [5, 5, 5], [True, True, False]),  # the floor keeps a reserve
        (5, -10, [10, 5, 1], [True, True, False]),  # a negative floor lets callers go into debt
    ],
)
def test_calls_are_granted_while_the_balance_minus_in_flight_stays_above_the_floor(
    make_bucket, clock, balance, floor, costs, granted
):
    bucket = known(make_bucket(floor=floor), clock, balance)
    outcomes = [isinstance(bucket.reserve(cost), Grant) for cost in costs]
    assert outcomes == granted


@pytest.mark.parametrize(
    ("balance", "rate", "refill_in", "expected_wait"),
    [
        (0, 5, 20, 20),  # the next refill makes it positive
        (-12, 5, 20, 140),  # -7, -2, then 3 at the third refill
        (-1, 100, 59, 59),
        (-5, 5, 0.5, 60.5),
    ],
)
def test_a_refusal_says_how_long_until_the_balance_is_positive(
    make_bucket, clock, balance, rate, refill_in, expected_wait
):
    bucket = known(make_bucket(), clock, balance, rate=rate, refill_in=refill_in)
    refusal = bucket.reserve(1)
    assert isinstance(refusal, Refusal) and refusal.reason == "empty"
    assert refusal.wait_seconds == pytest.approx(expected_wait)
    clock.advance(refusal.wait_seconds)
    assert isinstance(bucket.reserve(1), Grant)


@pytest.mark.parametrize(
    ("balance", "rate", "elapsed", "expected"),
    [
        (0, 5, 29, 0),  # refill in 30 s: nothing yet
        (0, 5, 30, 5),  # one batch at the refill
        (0, 5, 89, 5),
        (0, 5, 90, 10),
        (280, 5, 30 + 60 * 10, 300),  # capped at 60 x rate
        (-40, 20, 30 + 60 * 2, 20),
        (500, 5, 600, 500),  # above the cap (a plan downgrade): no refill, no loss
    ],
)
def test_between_readings_the_balance_is_projected_in_whole_refills_up_to_the_cap(
    make_bucket, clock, balance, rate, elapsed, expected
):
    bucket = known(make_bucket(), clock, balance, rate=rate, refill_in=30)
    clock.advance(elapsed)
    status = bucket.status()
    assert status.tokens == expected
    assert status.capacity == 60 * rate
    assert 0 < status.next_refill_seconds <= 60


# --- readings --------------------------------------------------------------------------


def test_readings_older_than_the_last_applied_are_ignored(make_bucket, clock):
    bucket = known(make_bucket(), clock, 100)
    early, late = bucket.reserve(10), bucket.reserve(10)
    clock.advance(2)
    sent_early = reading(clock, 90, at=clock.time() - 1)
    bucket.settle(late, reading(clock, 80))
    bucket.settle(early, sent_early)  # arrives last but was produced first
    status = bucket.status()
    assert status.tokens == 80
    assert status.in_flight_tokens == 0


def test_with_calls_in_flight_a_call_that_would_overdraw_waits_for_them(make_bucket, clock):
    """Keepa may see concurrent calls in any order; if the one planned to overdraw arrived
    first, a later one would find the balance spent. Alone, it may overdraw."""
    bucket = known(make_bucket(probe_wait_seconds=5), clock, 10, refill_in=40)
    first = bucket.reserve(7)
    refusal = bucket.reserve(5)
    assert refusal.reason == "empty" and refusal.wait_seconds == 5
    clock.advance(1)
    bucket.settle(first, reading(clock, 3, consumed=7))
    assert isinstance(bucket.reserve(5), Grant)  # alone now: 3 -> -2 is Keepa's rule


def test_reservations_in_flight_are_subtracted_until_settled(make_bucket, clock):
    bucket = known(make_bucket(), clock, 50)
    grant = bucket.reserve(30)
    status = bucket.status()
    assert (status.tokens, status.in_flight_tokens, status.reservations_in_flight) == (50, 30, 1)
    assert status.available == 20
    bucket.settle(grant, reading(clock, 20, consumed=30))
    status = bucket.status()
    assert (status.tokens, status.in_flight_tokens, status.reservations_in_flight) == (20, 0, 0)


def test_a_dead_workers_reservation_expires_after_its_ttl(make_bucket, clock):
    bucket = known(make_bucket(reservation_ttl_seconds=120), clock, 100, refill_in=3600)
    bucket.reserve(60)
    clock.advance(119)
    assert bucket.status().in_flight_tokens == 60
    clock.advance(2)
    assert bucket.status().in_flight_tokens == 0


def test_a_call_that_settled_without_reading_keeps_its_cost_until_a_later_call_reports(make_bucket, clock):
    bucket = known(make_bucket(), clock, 100)
    before = bucket.reserve(10)  # granted before the lost call: its reading may predate it
    lost = bucket.reserve(25)
    bucket.settle(lost, None)  # timed out: Keepa may have charged it
    assert bucket.status().in_flight_tokens == 35
    bucket.settle(before, reading(clock, 90, consumed=10))
    assert bucket.status().in_flight_tokens == 25
    after = bucket.reserve(5)
    bucket.settle(after, reading(clock, 60, consumed=5))
    assert bucket.status().in_flight_tokens == 0
    assert bucket.status().tokens == 60


def test_a_429_is_applied_and_remembered(make_bucket, clock):
    bucket = known(make_bucket(), clock, 3)
    grant = bucket.reserve(5)
    clock.advance(1)
    bucket.settle(grant, reading(clock, -4, consumed=0), status=429)
    status = bucket.status()
    assert status.tokens == -4 and status.last_429_at == clock.time()
    assert status.last_refusal_status == 429 and status.last_refusal_at == clock.time()


def test_a_402_is_remembered_as_a_402_never_as_a_429(make_bucket, clock):
    bucket = known(make_bucket(), clock, 3)
    grant = bucket.reserve(1)
    clock.advance(1)
    bucket.settle(grant, reading(clock, 0, rate=0, consumed=0), status=402)
    status = bucket.status()
    assert status.last_429_at is None
    assert status.last_refusal_status == 402 and status.last_refusal_at == clock.time()


def test_time_never_runs_backwards_across_the_small_disagreements_of_hosts_clocks(make_bucket, clock):
    bucket = known(make_bucket(), clock, 0, refill_in=30)
    clock.advance(40)
    assert bucket.status().tokens == 5
    clock.advance(-30)  # another host's clock, half a minute behind: within the bound
    status = bucket.status()
    assert status.tokens == 5 and status.last_reading_age_seconds == 40
    assert status.clock_skew_kind == ""


# --- recharge mode ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rate", "threshold", "clamped"),
    [(5, 280, 280), (5, 480, 295), (1, 280, 59), (25, 280, 280), (25, 5000, 1475), (0, 280, 0)],
)
def test_the_recharge_threshold_is_clamped_below_the_capacity(make_bucket, clock, rate, threshold, clamped):
    bucket = known(make_bucket(threshold=threshold), clock, 0, rate=rate)
    assert bucket.status().recharge_threshold == clamped


def test_a_recharge_refuses_every_call_until_the_threshold_then_bursts(make_bucket, clock):
    bucket = known(make_bucket(threshold=280), clock, 100, rate=5, refill_in=30)
    status = bucket.start_recharge("deploy", "deploy")
    assert status.recharge_active and status.recharge_reason == "deploy"
    assert status.recharge_eta_seconds == 30 + 35 * 60  # 36 refills of 5 from 100
    refusal = bucket.reserve(1)
    assert isinstance(refusal, Refusal) and refusal.reason == "recharging"
    assert refusal.wait_seconds == status.recharge_eta_seconds
    clock.advance(refusal.wait_seconds - 1)
    assert isinstance(bucket.reserve(1), Refusal)
    clock.advance(1)
    assert isinstance(bucket.reserve(1), Grant)
    assert not bucket.status().recharge_active


def test_a_recharge_is_reclamped_when_the_refill_rate_drops(make_bucket, clock):
    bucket = known(make_bucket(threshold=280), clock, 100, rate=5)
    bucket.start_recharge("operator", "command")
    clock.advance(1)
    bucket.settle(None, reading(clock, 100, rate=2, consumed=0))
    status = bucket.status()
    assert status.recharge_threshold == 118 and status.recharge_active
    assert isinstance(bucket.reserve(1), Refusal)
    clock.advance(60 * 9)  # 100 + 9 x 2 = 118
    assert isinstance(bucket.reserve(1), Grant)


def test_a_recharge_that_cannot_complete_ends_at_its_timeout_with_a_log_line(make_bucket, clock, caplog):
    changes = []
    bucket = make_bucket(recharge_timeout_seconds=3600, on_transition=changes.append)
    known(bucket, clock, -500, rate=1)
    bucket.start_recharge("operator", "command")
    refusal = bucket.reserve(1)
    assert refusal.reason == "recharging" and refusal.wait_seconds == 3600
    clock.advance(3600)
    bucket.reserve(1)
    assert not bucket.status().recharge_active
    assert [c.action for c in changes] == ["recharge_on", "recharge_off"]
    assert changes[-1].reason.startswith("timeout") and changes[-1].actor == "automatic"
    assert "timeout" in caplog.text


def test_the_automatic_policy_recharges_a_small_plan_below_the_balance_limit(make_bucket, clock):
    changes = []
    bucket = known(make_bucket(auto_recharge=True, on_transition=changes.append), clock, 25, rate=5)
    assert isinstance(bucket.reserve(10), Grant)  # 25 >= 20: spend
    refusal = bucket.reserve(1)  # 15 left: below 20 at 5/min
    assert isinstance(refusal, Refusal) and refusal.reason == "recharging"
    assert [(c.action, c.actor, c.old_state, c.new_state) for c in changes] == [
        ("recharge_on", "automatic", "active", "recharging")
    ]


@pytest.mark.parametrize(("auto", "rate"), [(False, 5), (True, 10), (True, 25)])
def test_no_automatic_recharge_when_switched_off_or_at_larger_rates(make_bucket, clock, auto, rate):
    bucket = known(make_bucket(auto_recharge=auto), clock, 15, rate=rate)
    assert isinstance(bucket.reserve(1), Grant)
    assert not bucket.status().recharge_active


def test_a_manual_recharge_is_honoured_at_every_rate(make_bucket, clock):
    bucket = known(make_bucket(), clock, 100, rate=50)
    bucket.start_recharge("operator", "command")
    assert bucket.reserve(1).reason == "recharging"
    status = bucket.end_recharge("done", "command")
    assert not status.recharge_active
    assert isinstance(bucket.reserve(1), Grant)


def test_toggles_report_each_change_once(make_bucket, clock):
    changes = []
    bucket = known(make_bucket(on_transition=changes.append), clock, 100)
    bucket.start_recharge("a", "admin")
    bucket.start_recharge("b", "admin")
    bucket.end_recharge("c", "api")
    bucket.end_recharge("d", "api")
    assert [(c.action, c.reason) for c in changes] == [("recharge_on", "a"), ("recharge_off", "c")]


# --- fatal pause -----------------------------------------------------------------------


def test_a_fatal_pause_refuses_everything_until_released(make_bucket, clock):
    bucket = known(make_bucket(), clock, 100)
    bucket.pause_fatal("Keepa answered 402")
    refusal = bucket.reserve(1)
    assert refusal.reason == "fatal" and "402" in refusal.detail
    assert bucket.status().state == "paused"
    bucket.release_fatal("key renewed", "command")
    assert isinstance(bucket.reserve(1), Grant)


# --- identity --------------------------------------------------------------------------


def test_the_bucket_is_named_by_a_hash_of_the_key(make_bucket, store, clock):
    secret = "k3epa-s3cret-key"
    assert secret not in bucket_id_for(secret)
    assert bucket_id_for(secret) == bucket_id_for(secret) != bucket_id_for("other")
    bucket = known(make_bucket(), clock, 5)
    assert all(b"test" in key for key in store.keys("tokens:*"))
    assert secret not in repr(bucket)


def test_a_leaked_reservation_cannot_stretch_a_recharge_beyond_its_expiry(make_bucket, clock):
    bucket = known(make_bucket(threshold=280, reservation_ttl_seconds=120), clock, 290, rate=5)
    bucket.reserve(200)  # its worker dies
    bucket.start_recharge("operator", "command")
    refusal = bucket.reserve(1)
    assert refusal.reason == "recharging" and refusal.wait_seconds == 120
    clock.advance(refusal.wait_seconds)
    assert isinstance(bucket.reserve(1), Grant)


def test_an_unknown_balance_is_probed_even_during_a_recharge(make_bucket, clock):
    bucket = make_bucket(threshold=280)
    bucket.start_recharge("deploy", "deploy")  # a deploy onto an empty Redis
    probe = bucket.reserve(1)
    assert isinstance(probe, Grant)
    bucket.settle(probe, reading(clock, 100))
    status = bucket.status()
    assert status.recharge_active and status.recharge_eta_seconds == 60 + 35 * 60
    assert bucket.reserve(1).reason == "recharging"


def test_between_two_refills_a_later_reading_never_raises_the_balance(make_bucket, clock):
    """A server may assemble an envelope's balance before a concurrent charge and stamp it
    after; within one refill period the balance only goes down, so the lower one holds."""
    bucket = known(make_bucket(), clock, 40, refill_in=50)
    clock.advance(5)
    bucket.settle(None, reading(clock, 45, refill_in=45, consumed=0))  # stale balance, newer stamp
    assert bucket.status().tokens == 40
    clock.advance(50)  # past the refill: a higher reading is believed again
    bucket.settle(None, reading(clock, 70, refill_in=55, consumed=0))
    assert bucket.status().tokens == 70


# --- several calls from one reservation ---------------------------------------------------


def test_prepaid_calls_hold_their_tokens_against_other_workers_and_hand_back_the_rest(make_bucket, clock):
    bucket = known(make_bucket(), clock, 25)
    prepaid = PrepaidBucket(bucket, bucket.reserve(20))
    assert bucket.status().available == 5

    page = prepaid.reserve(5)
    assert isinstance(page, Grant) and bucket.status().available == 5, "drawn from the reservation"
    clock.advance(1)
    prepaid.settle(page, reading(clock, 20, consumed=5))
    assert bucket.status().tokens == 20, "the reading is applied at once"
    # Conservative while the calls last: the reading already shows the page's 5 tokens spent
    # and the reservation still holds all 20, so other workers wait rather than overspend.
    assert isinstance(bucket.reserve(1), Refusal)

    prepaid.close()
    assert bucket.status().in_flight_tokens == 0 and bucket.status().available == 20, "handed back"
    assert isinstance(bucket.reserve(1), Grant)


# --- clocks that disagree ----------------------------------------------------------------
# Keepa stamps each reading with its own time, between our sending the call and receiving the
# answer; the bound (max_clock_skew_seconds, 300 s here) is how far clocks may disagree.

HOUR = 3600


def test_a_reading_stamped_an_hour_ahead_never_holds_the_bucket(make_bucket, clock):
    """An earlier demo's x60 clock (or a skewed host) left a reading and a high-water mark an
    hour ahead. The next real reading replaces it, and the balance moves again at once."""
    earlier_run = make_bucket()
    earlier_run.clock = FakeClock(clock.time() + HOUR)
    known(earlier_run, earlier_run.clock, 1196, rate=20)
    assert isinstance(earlier_run.reserve(50), Grant)  # and one of its workers died holding 50

    bucket = make_bucket()
    status = bucket.status()
    assert status.now == clock.time(), "the bucket follows the earlier clock, not the frozen one"
    assert status.clock_skew_kind == "bucket_ahead"
    assert not status.known, "a balance projected on the wrong clock is not trusted"
    probe = bucket.reserve(1)
    assert isinstance(probe, Grant), "one probe call brings Keepa's own reading"
    bucket.settle(probe, reading(clock, 1200, rate=20))
    status = bucket.status()
    assert status.tokens == 1200 and status.in_flight_tokens == 50, "Keepa's own reading is believed"
    assert status.clock_skew_kind == "reading_ahead" and status.clock_skew_seconds == HOUR
    assert isinstance(bucket.reserve(100), Grant)
    clock.advance(bucket.reservation_ttl_seconds + 1)
    assert bucket.status().in_flight_tokens == 0, "the dead worker's 50 expire after their ttl"


def test_reservations_stamped_on_a_clock_an_hour_ahead_expire_after_their_own_ttl(make_bucket, clock):
    earlier_run = make_bucket()
    earlier_run.clock = FakeClock(clock.time() + HOUR)
    known(earlier_run, earlier_run.clock, 500, rate=20)
    assert isinstance(earlier_run.reserve(50), Grant)  # a worker of that run dies holding it

    bucket = make_bucket()
    bucket.settle(None, reading(clock, 600, rate=20, consumed=0))
    assert bucket.status().in_flight_tokens == 50
    clock.advance(bucket.reservation_ttl_seconds + 1)
    assert bucket.status().in_flight_tokens == 0, "not an hour and two minutes"


def test_a_caller_whose_clock_is_an_hour_ahead_is_corrected_by_keepas_timestamp(make_bucket, clock):
    bucket = known(make_bucket(), clock, 100, rate=20, refill_in=30)
    skewed = make_bucket()
    skewed.clock = FakeClock(clock.time() + HOUR)
    grant = skewed.reserve(5)
    assert isinstance(grant, Grant)
    assert bucket.status().now == clock.time(), "the others are not frozen an hour ahead"
    skewed.settle(grant, reading(clock, 95, rate=20, refill_in=30))  # stamped on Keepa's own time
    assert skewed.clock_offset_ms == HOUR * 1000
    assert skewed.status().now == clock.time(), "the skewed caller now works on Keepa's time"
    status = bucket.status()
    assert status.tokens == 95 and status.now == clock.time()
    assert status.clock_skew_kind == "caller_ahead" and status.clock_skew_seconds == HOUR
    clock.advance(31)
    skewed.clock.advance(31)
    assert skewed.status().tokens == bucket.status().tokens == 115, "one refill for both"


def test_a_caller_whose_clock_is_an_hour_behind_is_corrected_too(make_bucket, clock):
    bucket = known(make_bucket(), clock, 100, rate=20)
    behind = make_bucket()
    behind.clock = FakeClock(clock.time() - HOUR)
    grant = behind.reserve(5)
    behind.settle(grant, reading(clock, 95, rate=20))
    assert behind.clock_offset_ms == -HOUR * 1000
    assert behind.status().now == clock.time()
    assert bucket.status().clock_skew_kind == "caller_behind"


def test_a_slow_answer_is_not_mistaken_for_a_skewed_clock(make_bucket, clock):
    """Keepa's stamp lies between sending and receiving: a long call stays inside that."""
    bucket = known(make_bucket(), clock, 100, rate=20)
    grant = bucket.reserve(5)
    stamped = reading(clock, 95, rate=20)
    clock.advance(2 * HOUR)  # answered much later than stamped (a stalled connection)
    bucket.settle(grant, stamped)
    assert bucket.clock_offset_ms == 0
    assert bucket.status().clock_skew_kind == ""
