"""Helpers the tests of every app share (the app-specific ones live in that app's tests)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(condition: Callable[[], T], *, timeout: float, interval: float = 0.25, message: str) -> T:
    """Poll ``condition`` until it is truthy and return what it gave; fail the test after
    ``timeout`` seconds. For real processes (workers, servers) that settle in their own time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")
