"""Job functions an rq worker can import by name in the retry tests."""

from tokens.clock import FakeClock
from tokens.interface import Refusal
from tokens.retry import retry_after


def refused_job():
    return retry_after(Refusal(wait_seconds=42.5, reason="recharging"), clock=FakeClock())


def noop_job(label):
    return label
