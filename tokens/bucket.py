"""The one Keepa token bucket every worker on every host shares, kept in Redis.

Model (all arithmetic in ``bucket.lua``, one atomic script per decision):

* Keepa's last reading is the truth: ``tokensLeft`` at the moment we received it, the next
  refill ``refillIn`` later, then ``refillRate`` every 60 s, capped at 60 x rate. Anchoring
  on our receive time (not Keepa's ``timestamp``) only ever makes the projection late by the
  network latency, never early, whatever the clocks' skew. ``timestamp`` orders readings:
  one older than the last applied is ignored.
* Reservations in flight are subtracted until their call settles. A call that settled
  without a reading (timeout, garbled body) may still have been charged, so its cost stays
  as "unconfirmed" until a call granted after it reports; a dead worker's reservation
  expires after ``reservation_ttl_seconds``.
* A call is granted when, after it, projected balance minus in-flight stays at or above
  ``floor``; a call on its own (nothing else in flight) may overdraw as Keepa allows (any
  positive balance starts a call). Concurrent calls may not: Keepa sees them in any order,
  and if the overdrawing one came first a later one would get a 429. The floor keeps a
  reserve (or, negative, allows a bounded debt). With no reading yet (first start, flushed
  Redis) one probe call at a time is granted so the first reading arrives.
* Within one refill period the balance only goes down, so a later-stamped reading showing
  more than the one held (an envelope assembled before a concurrent charge) is not believed.
* Recharge mode refuses every call until the projected balance reaches the threshold,
  clamped below the capacity (re-clamped on every rate change), or until its timeout.

Times enter the script from the injected clock, never from Redis ``TIME``, and a stored
high-water mark keeps them from running backwards.

Clocks that disagree (``max_clock_skew_seconds``, the bound): Keepa's ``timestamp`` is
Keepa's own time, stamped between our sending a call and receiving its answer. A process whose
clock puts the sending after the stamp (ahead) or the receiving before it (behind) by more
than the bound corrects its clock by the difference from then on, and tells the bucket. A held
reading stamped further ahead of a fresh one than any request lasts (a skewed host, an
earlier demo's x60 clock) is replaced by the fresh one instead of holding the bucket until
Keepa's time catches up; a high-water mark that far ahead is dropped for the earlier clock
(late, never early). Each is remembered (``clock_skew_*``) for ``diagnose``.
"""

from __future__ import annotations

import hashlib
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis as redis_lib

from tokens.clock import Clock
from tokens.interface import Grant, Refusal, TokenReading

log = logging.getLogger(__name__)

_SCRIPT = (Path(__file__).with_name("bucket.lua")).read_text()
_FIELD_SEP, _RECORD_SEP = "\x1f", "\x1e"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
REASON_MAX_LENGTH = 200


def bucket_id_for(api_key: str) -> str:
    """A stable name for the key's bucket that reveals nothing of the key."""
    return hashlib.sha256(f"dealsite-keepa-bucket:{api_key}".encode()).hexdigest()[:20]


def clean_reason(reason: str) -> str:
    """One line of at most ``REASON_MAX_LENGTH`` characters (control characters would break
    the script's reply format and the audit log)."""
    return _CONTROL.sub(" ", str(reason)).strip()[:REASON_MAX_LENGTH]


def _at(ms: str) -> float | None:
    return int(ms) / 1000 if ms else None


def _seconds_between(now_ms: int, later_ms: str) -> float | None:
    return (int(later_ms) - now_ms) / 1000 if later_ms else None


@dataclass(frozen=True)
class Transition:
    """A change of the bucket's mode, reported by the script to the one caller that made it."""

    action: str  # recharge_on, recharge_off, fatal_pause, fatal_release
    old_state: str  # active, recharging, paused
    new_state: str
    actor: str
    reason: str
    tokens: int
    refill_rate: int
    at: float  # unix seconds of the bucket's clock


Listener = Callable[[Transition], None] | None

#: What the bucket saw when two clocks disagreed by more than the bound, as an operator reads it.
SKEW_KINDS = {
    "bucket_ahead": "the bucket's time was ahead of a caller's clock; it follows the earlier clock",
    "caller_ahead": "a caller's clock was ahead of Keepa's; that caller corrects it",
    "caller_behind": "a caller's clock was behind Keepa's; that caller corrects it",
    "reading_ahead": "the held Keepa reading was stamped ahead of Keepa's own time; "
    "the bucket resynced from the next real reading",
}


@dataclass(frozen=True)
class BucketStatus:
    """What the operator sees. Times are unix seconds of the bucket's clock."""

    known: bool  # False until the first Keepa reading
    tokens: int  # projected Keepa balance (0 while unknown)
    capacity: int
    refill_rate: int
    next_refill_seconds: float | None
    recharge_active: bool
    recharge_threshold: int  # clamped below the capacity
    recharge_started_at: float | None
    recharge_deadline_at: float | None
    recharge_reason: str
    recharge_actor: str
    recharge_eta_seconds: float | None
    reservations_in_flight: int
    in_flight_tokens: int  # live reservations plus unconfirmed ones
    last_reading_age_seconds: float | None
    last_429_at: float | None
    fatal_reason: str
    now: float
    # The last refusal Keepa answered: 429 (no tokens) or 402 (key or plan), and when.
    last_refusal_status: int | None = None
    last_refusal_at: float | None = None
    # The last disagreement of clocks beyond the bound (``SKEW_KINDS``), by how much, when.
    clock_skew_kind: str = ""
    clock_skew_seconds: float | None = None
    clock_skew_at: float | None = None

    @property
    def available(self) -> int:
        return self.tokens - self.in_flight_tokens

    @property
    def state(self) -> str:
        if self.fatal_reason:
            return "paused"
        return "recharging" if self.recharge_active else "active"

    @property
    def recharge_progress(self) -> float:
        """0..1 of the way to the threshold (1 when there is nothing to wait for)."""
        if self.recharge_threshold <= 0:
            return 1.0
        return min(1.0, max(0.0, self.available / self.recharge_threshold))

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, shared by ``bucket_status --json`` and the API."""
        data = asdict(self)
        for name in (
            "recharge_started_at",
            "recharge_deadline_at",
            "last_429_at",
            "last_refusal_at",
            "clock_skew_at",
            "now",
        ):
            if data[name] is not None:
                data[name] = datetime.fromtimestamp(data[name], tz=UTC).isoformat()
        data["state"] = self.state
        data["available"] = self.available
        data["fatal_pause"] = bool(self.fatal_reason)
        return data


class RedisTokenBucket:
    """The shared bucket (implements ``tokens.interface.TokenBucket``).

    ``on_transition`` is told of every mode change this process caused (the factory wires it
    to the audit log); exceptions it raises propagate to the caller.
    """

    def __init__(
        self,
        redis: redis_lib.Redis,
        *,
        bucket_id: str,
        clock: Clock,
        threshold: int = 280,
        recharge_timeout_seconds: int = 3600,
        floor: int = 0,
        auto_recharge: bool = True,
        auto_below_rate: int = 10,
        auto_below_balance: int = 20,
        reservation_ttl_seconds: int = 120,
        probe_wait_seconds: float = 5,
        max_clock_skew_seconds: float = 300,
        on_transition: Listener = None,
    ):
        if recharge_timeout_seconds <= 0 or reservation_ttl_seconds <= 0 or max_clock_skew_seconds <= 0:
            raise ValueError("recharge timeout, reservation ttl and clock skew bound must be positive")
        self.redis = redis
        self.bucket_id = bucket_id
        self.clock = clock
        self.threshold = threshold
        self.recharge_timeout_seconds = recharge_timeout_seconds
        self.floor = floor
        self.auto_recharge = auto_recharge
        self.auto_below_rate = auto_below_rate
        self.auto_below_balance = auto_below_balance
        self.reservation_ttl_seconds = reservation_ttl_seconds
        self.probe_wait_seconds = probe_wait_seconds
        self.max_clock_skew_seconds = max_clock_skew_seconds
        # This process's clock minus Keepa's, once Keepa showed it beyond the bound (else 0).
        self.clock_offset_ms = 0
        self.on_transition = on_transition
        prefix = f"tokens:bucket:{bucket_id}"
        self.keys = [f"{prefix}:state", f"{prefix}:reservations", f"{prefix}:expiry"]
        self._script = redis.register_script(_SCRIPT)

    def __repr__(self) -> str:
        return f"RedisTokenBucket(bucket_id={self.bucket_id!r})"

    # --- the TokenBucket protocol ---------------------------------------------------

    def reserve(self, cost: int) -> Grant | Refusal:
        if isinstance(cost, bool) or not isinstance(cost, int) or cost <= 0:
            raise ValueError(f"cost must be a positive integer, got {cost!r}")
        reservation_id = uuid.uuid4().hex
        sent_at_ms = self._clock_ms()
        reply = self._run("reserve", reservation_id, cost)
        if reply["granted"] == "1":
            return Grant(reservation_id=reservation_id, cost=cost, sent_at_ms=sent_at_ms)
        return Refusal(
            wait_seconds=int(reply["wait_ms"]) / 1000, reason=reply["reason"], detail=reply["detail"]
        )

    def settle(self, grant: Grant | None, reading: TokenReading | None, *, status: int | None = None) -> None:
        reservation_id = grant.reservation_id if grant is not None else ""
        http_status = "" if status is None else status
        if reading is None:
            self._run("settle", reservation_id, 0, "", "", "", "", "", http_status, 0)
            return
        offset = self._learn_offset(grant, reading)
        self._run(
            "settle",
            reservation_id,
            1,
            reading.tokens_left,
            reading.refill_in_ms,
            reading.refill_rate,
            reading.timestamp_ms,
            reading.tokens_consumed,
            http_status,
            offset,
        )

    def pause_fatal(self, reason: str) -> None:
        self._run("pause_fatal", "automatic", clean_reason(reason))

    # --- operator controls ---------------------------------------------------------

    def release_fatal(
        self, reason: str = "released by operator", actor: str = "command", *, on_transition: Listener = None
    ) -> BucketStatus:
        return self._status(self._run("release_fatal", actor, clean_reason(reason), listener=on_transition))

    def start_recharge(self, reason: str, actor: str, *, on_transition: Listener = None) -> BucketStatus:
        """Recharge mode on (no change if already on). ``on_transition`` replaces the bucket's
        listener for this call, e.g. to record the user who asked."""
        return self._status(self._run("start_recharge", actor, clean_reason(reason), listener=on_transition))

    def end_recharge(self, reason: str, actor: str, *, on_transition: Listener = None) -> BucketStatus:
        return self._status(self._run("end_recharge", actor, clean_reason(reason), listener=on_transition))

    def status(self) -> BucketStatus:
        return self._status(self._run("status"))

    # --- plumbing ------------------------------------------------------------------

    def _clock_ms(self) -> int:
        return int(self.clock.time() * 1000)

    def _learn_offset(self, grant: Grant | None, reading: TokenReading) -> int:
        """Keepa stamps a reading between our sending the call and receiving the answer. Outside
        that by more than the bound, this process's clock is off: remember by how much (clock
        minus Keepa) and return it for the bucket's record, else 0. Without the sending time
        (a free or prepaid call) only a clock behind shows, and a correction stays as it was."""
        bound = self.max_clock_skew_seconds * 1000
        received_ms = self._clock_ms()
        sent_ms = grant.sent_at_ms if grant is not None else None
        stamped = reading.timestamp_ms
        if sent_ms is not None and sent_ms - stamped > bound:
            offset = sent_ms - stamped
        elif stamped - received_ms > bound:
            offset = received_ms - stamped
        elif sent_ms is not None or self.clock_offset_ms < 0:
            offset = 0
        else:
            return 0
        changed = offset != self.clock_offset_ms
        self.clock_offset_ms = offset
        if changed and offset:
            log.warning(
                "this process's clock is %+.0f s off Keepa's; correcting it for the token bucket",
                offset / 1000,
            )
        return offset

    def _run(self, op: str, *args: Any, listener: Listener = None) -> dict[str, str]:
        now_ms = self._clock_ms() - self.clock_offset_ms
        policy = (
            self.threshold,
            self.recharge_timeout_seconds * 1000,
            self.floor,
            1 if self.auto_recharge else 0,
            self.auto_below_rate,
            self.auto_below_balance,
            self.reservation_ttl_seconds * 1000,
            int(self.probe_wait_seconds * 1000),
            int(self.max_clock_skew_seconds * 1000),
        )
        raw = self._script(keys=self.keys, args=[op, now_ms, *policy, *args])
        items = [v.decode() if isinstance(v, bytes) else str(v) for v in raw]
        reply = dict(zip(items[::2], items[1::2], strict=True))
        self._report(reply, listener or self.on_transition)
        return reply

    def _report(self, reply: dict[str, str], listener: Listener) -> None:
        if not reply.get("transitions"):
            return
        for record in reply["transitions"].split(_RECORD_SEP):
            action, old, new, actor, reason = record.split(_FIELD_SEP)
            tokens, rate = int(reply["tokens"]), int(reply["refill_rate"])
            change = Transition(action, old, new, actor, reason, tokens, rate, int(reply["now"]) / 1000)
            alarming = reason.startswith("timeout") or action == "fatal_pause"
            level = logging.WARNING if alarming else logging.INFO
            log.log(level, "token bucket %s: %s -> %s by %s (%s)", action, old, new, actor, reason)
            if listener is not None:
                listener(change)

    def _status(self, reply: dict[str, str]) -> BucketStatus:
        now_ms = int(reply["now"])
        rate = int(reply["refill_rate"])
        known = reply["known"] == "1"
        active = reply["recharge_active"] == "1"
        eta = None
        if active:
            deadline = int(reply["recharge_deadline"])
            ready = int(reply["recharge_ready_at"]) if reply.get("recharge_ready_at") else deadline
            eta = max(0, min(ready, deadline) - now_ms) / 1000
        applied = reply["applied_at"]
        return BucketStatus(
            known=known,
            tokens=int(reply["tokens"]) if known else 0,
            capacity=60 * rate,
            refill_rate=rate,
            next_refill_seconds=_seconds_between(now_ms, reply["next_refill_at"]),
            recharge_active=active,
            recharge_threshold=int(reply["recharge_threshold"]),
            recharge_started_at=_at(reply["recharge_started_at"]),
            recharge_deadline_at=_at(reply["recharge_deadline"]),
            recharge_reason=reply["recharge_reason"],
            recharge_actor=reply["recharge_actor"],
            recharge_eta_seconds=eta,
            reservations_in_flight=int(reply["reservations_in_flight"]),
            in_flight_tokens=int(reply["in_flight_tokens"]),
            last_reading_age_seconds=max(0, now_ms - int(applied)) / 1000 if applied else None,
            last_429_at=_at(reply["last_429_at"]),
            fatal_reason=reply["fatal_reason"],
            now=now_ms / 1000,
            last_refusal_status=int(reply["last_refusal_status"]) if reply["last_refusal_status"] else None,
            last_refusal_at=_at(reply["last_refusal_at"]),
            clock_skew_kind=reply["skew_kind"],
            clock_skew_seconds=int(reply["skew_ms"]) / 1000 if reply["skew_ms"] else None,
            clock_skew_at=_at(reply["skew_at"]),
        )
