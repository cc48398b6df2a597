"""The one clock every wait and projection goes through.

Tests use ``FakeClock`` so hours of Keepa time pass in milliseconds; demos use
``ScaledClock`` so a recharge is visible in a minute; production uses ``RealClock``.
Times are unix seconds (float), like ``time.time()``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Protocol


class Clock(Protocol):
    def time(self) -> float:
        """Unix seconds now, as Keepa would see it."""

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time."""


class RealClock:
    def time(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class FakeClock:
    """A clock that only moves when told to; ``sleep`` advances it instantly."""

    def __init__(self, start: float = 1_700_000_000.0):
        self._now = float(start)
        self._lock = threading.Lock()

    def time(self) -> float:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        self.advance(max(0.0, seconds))

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds

    def set(self, now: float) -> None:
        with self._lock:
            self._now = float(now)


class ScaledClock:
    """Runs ``scale`` times faster than real time, anchored at a shared epoch.

    Every process started with the same ``epoch`` and ``scale`` agrees on the time, which is
    what lets a demo simulator and its workers share one accelerated Keepa minute.
    """

    def __init__(self, scale: float, epoch: float | None = None):
        if scale <= 0:
            raise ValueError("clock scale must be positive")
        self.scale = float(scale)
        self.epoch = time.time() if epoch is None else float(epoch)

    def time(self) -> float:
        return self.epoch + (time.time() - self.epoch) * self.scale

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds / self.scale)


_clock: Clock | None = None


def get_clock() -> Clock:
    """The process-wide clock: scaled when ``TOKENS['CLOCK_SCALE']`` is not 1."""
    global _clock
    if _clock is None:
        from django.conf import settings

        tokens = getattr(settings, "TOKENS", {})
        scale = Decimal(tokens.get("CLOCK_SCALE", 1))
        epoch = tokens.get("CLOCK_EPOCH")
        _clock = RealClock() if scale == 1 else ScaledClock(float(scale), epoch)
    return _clock


def set_clock(clock: Clock | None) -> None:
    global _clock
    _clock = clock


@contextmanager
def use_clock(clock: Clock) -> Iterator[Clock]:
    previous = _clock
    set_clock(clock)
    try:
        yield clock
    finally:
        set_clock(previous)
