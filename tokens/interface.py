"""The small contract between a Keepa caller and the token bucket.

A caller ``reserve``s the estimated cost before a call and ``settle``s with the token
reading Keepa sent back (429s and errors included). ``tokens`` knows nothing of deals: the
reading is plain numbers taken from Keepa's response envelope.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


class MalformedReading(ValueError):
    """The response envelope lacks a token field or carries one of the wrong type."""


def _int_field(data: Mapping[str, Any], name: str) -> int:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedReading(
            f"token envelope field {name!r} must be an integer, got {type(value).__name__}"
        )
    return value


@dataclass(frozen=True)
class TokenReading:
    """What one Keepa response says about the token balance, at Keepa's ``timestamp``."""

    tokens_left: int
    refill_in_ms: int
    refill_rate: int
    timestamp_ms: int
    tokens_consumed: int = 0

    @classmethod
    def from_envelope(cls, data: Mapping[str, Any]) -> TokenReading:
        if not isinstance(data, Mapping):
            raise MalformedReading("response body is not a JSON object")
        consumed = data.get("tokensConsumed", 0)
        reading = cls(
            tokens_left=_int_field(data, "tokensLeft"),
            refill_in_ms=_int_field(data, "refillIn"),
            refill_rate=_int_field(data, "refillRate"),
            timestamp_ms=_int_field(data, "timestamp"),
            tokens_consumed=consumed if isinstance(consumed, int) and not isinstance(consumed, bool) else 0,
        )
        if reading.refill_rate < 0 or reading.refill_in_ms < 0 or reading.timestamp_ms <= 0:
            raise MalformedReading("token envelope has a negative rate, refill time or timestamp")
        return reading

    @property
    def capacity(self) -> int:
        """Keepa keeps at most an hour of refill."""
        return 60 * self.refill_rate


@dataclass(frozen=True)
class Grant:
    """Tokens set aside for one call; settle it with the call's reading (or None).

    ``sent_at_ms`` is the caller's clock when the bucket granted it: Keepa stamps its reading
    after that, which is how a caller finds its own clock ahead of Keepa's."""

    reservation_id: str
    cost: int
    sent_at_ms: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Refusal:
    """No tokens now: retry after ``wait_seconds`` (clock seconds). ``reason`` is one of
    ``empty``, ``recharging`` or ``fatal`` (a 402 paused all work until an operator acts)."""

    wait_seconds: float
    reason: str
    detail: str = ""


class TokenBucket(Protocol):
    def reserve(self, cost: int) -> Grant | Refusal: ...

    def settle(self, grant: Grant | None, reading: TokenReading | None, *, status: int | None = None) -> None:
        """Apply a reading; ``reading=None`` means the call never reached Keepa. ``status`` is
        the HTTP status Keepa answered (None when none arrived)."""

    def pause_fatal(self, reason: str) -> None:
        """Stop all Keepa work (402: key expired or plan lacks access) until released."""


class UnlimitedBucket:
    """Grants everything and learns nothing: for code paths that have no shared bucket."""

    def reserve(self, cost: int) -> Grant | Refusal:
        return Grant(reservation_id="unlimited", cost=cost)

    def settle(self, grant: Grant | None, reading: TokenReading | None, *, status: int | None = None) -> None:
        return None

    def pause_fatal(self, reason: str) -> None:
        return None


class PrepaidBucket:
    """Several calls paid from one reservation taken up front, so other workers cannot take
    the tokens between them (discovery's consecutive pages). Calls beyond the prepaid tokens
    reserve from the shared bucket as usual; ``close`` hands back what was not used.

    Each call's reading is applied at once while the whole reservation stays in flight, so
    until ``close`` the shared bucket counts the calls made twice: other workers wait a
    little longer, never overspend. Close it as soon as the calls are done."""

    def __init__(self, shared: TokenBucket, grant: Grant):
        self.shared = shared
        self.grant = grant
        self.remaining = grant.cost
        self.last_reading: TokenReading | None = None

    def reserve(self, cost: int) -> Grant | Refusal:
        if cost <= self.remaining:
            self.remaining -= cost
            return Grant(reservation_id=PREPAID, cost=cost)
        return self.shared.reserve(cost)

    def settle(self, grant: Grant | None, reading: TokenReading | None, *, status: int | None = None) -> None:
        if reading is not None and (
            self.last_reading is None or reading.timestamp_ms >= self.last_reading.timestamp_ms
        ):
            self.last_reading = reading
        if grant is not None and grant.reservation_id == PREPAID:
            if reading is not None or status is not None:
                self.shared.settle(None, reading, status=status)
            return
        self.shared.settle(grant, reading, status=status)

    def pause_fatal(self, reason: str) -> None:
        self.shared.pause_fatal(reason)

    def close(self) -> None:
        """Release the reservation with the newest reading its calls brought back."""
        self.shared.settle(self.grant, self.last_reading)


PREPAID = "prepaid"
