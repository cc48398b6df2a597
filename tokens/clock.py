"""The one clock every wait and projection goes through.

Tests use ``FakeClock`` so hours of Keepa time pass in milliseconds; demos use
``ScaledClock`` so a recharge is visible in a minute; production uses ``RealClock``.
``time()`` is unix seconds (float), like ``time.time()``; ``now()`` is the same instant as an
aware datetime, for every timestamp a job stores, so a scaled demo never stores two kinds of
time side by side.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal

from django.conf import settings


class Clock(ABC):
    @abstractmethod
    def time(self) -> float:
        """Unix seconds now, as Keepa would see it."""

    @abstractmethod
    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time."""

    def now(self) -> datetime:
        """``time()`` as an aware UTC datetime."""
        return datetime.fromtimestamp(self.time(), tz=UTC)


class RealClock(Clock):
    def time(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class FakeClock(Clock):
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


class ScaledClock(Clock):
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
        scale = Decimal(settings.TOKENS["CLOCK_SCALE"])
        epoch = settings.TOKENS["CLOCK_EPOCH"]
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
