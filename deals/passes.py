"""What one pass of discovery, backfill or repair did, and the one way a pass stops for
tokens or a 402, shared by the jobs and the foreground commands."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from deals.keepa.errors import NotEnoughTokens, PaymentRequired

#: What Keepa tokens buy: the deal finder's pages, products' statistics, live offers, sellers.
PURPOSES = ("discovery", "statistics", "offers", "sellers")


@dataclass
class RunReport:
    """What a pass did; ``wait_seconds`` is set when it stopped for tokens, ``fatal`` when
    Keepa refused the key or plan (402), ``keepa_fault`` when it stopped for a transient Keepa
    fault (what it held backs off and is tried again; the next run comes as usual)."""

    processed: int = 0
    complete: int = 0
    incomplete: int = 0
    failed: int = 0
    unchanged: int = 0
    verified: int = 0
    rejected: int = 0
    spent: Counter[str] = field(default_factory=Counter)  # tokens Keepa charged, by ``PURPOSES``
    wait_seconds: float | None = None
    fatal: str | None = None
    keepa_fault: str | None = None
    errors: list[str] = field(default_factory=list)
    note: str = ""

    def spend(self, purpose: str, reading) -> None:
        """Count what one call cost (``reading.tokens_consumed``, as Keepa reported it)."""
        if purpose not in PURPOSES:
            raise ValueError(f"unknown purpose {purpose!r}")
        self.spent[purpose] += max(0, reading.tokens_consumed)

    @property
    def tokens_consumed(self) -> int:
        return sum(self.spent.values())

    @property
    def offer_tokens(self) -> int:
        """Of ``tokens_consumed``, what verification spent: live offers and their sellers."""
        return self.spent["offers"] + self.spent["sellers"]

    @property
    def stopped(self) -> bool:
        """The pass stopped early: no tokens, or Keepa access paused."""
        return self.wait_seconds is not None or self.fatal is not None

    def summary(self) -> str:
        return (
            (
                f"processed={self.processed} complete={self.complete} incomplete={self.incomplete} "
                f"failed={self.failed} unchanged={self.unchanged} tokens={self.tokens_consumed}"
            )
            + (
                f" verified={self.verified} rejected={self.rejected} offer_tokens={self.offer_tokens}"
                if self.verified or self.rejected or self.offer_tokens
                else ""
            )
            + (f" ({self.note})" if self.note else "")
            + (f" stopped for a Keepa fault: {self.keepa_fault}" if self.keepa_fault else "")
        )


@contextmanager
def stop_for_tokens(report: RunReport, *, on_stop: Callable[[], None] | None = None) -> Iterator[None]:
    """Turn a token refusal or a 402 inside the block into the report's stop (check
    ``report.stopped`` after it); ``on_stop`` hands back what the pass held, such as a
    claimed batch. Every other error propagates."""
    try:
        yield
    except NotEnoughTokens as exc:
        report.wait_seconds = exc.wait_seconds
    except PaymentRequired as exc:
        report.fatal = str(exc)
    else:
        return
    if on_stop is not None:
        on_stop()
