"""Typed Keepa failures, so callers decide by class (retry, re-enqueue, stop) and never by text.

Messages are built by the client from redacted text only; no error ever holds the request URL,
the key, or a chained ``requests`` exception (whose text would contain both).
"""

from __future__ import annotations

from tokens.interface import TokenReading


class KeepaError(Exception):
    """Base class. ``status`` is the HTTP status when one arrived; ``reading`` the token
    envelope of the response when it could be parsed."""

    def __init__(self, message: str, *, status: int | None = None, reading: TokenReading | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.reading = reading

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status={self.status!r})"


class NotEnoughTokens(KeepaError):
    """No tokens: either our bucket refused the reservation (nothing was sent) or Keepa
    answered 429. ``wait_seconds`` is clock time until the balance should be positive."""

    def __init__(
        self,
        wait_seconds: float,
        reading: TokenReading | None,
        reason: str,
        *,
        status: int | None = None,
        message: str | None = None,
    ):
        super().__init__(
            message or f"not enough Keepa tokens ({reason}); retry in {wait_seconds:.1f} s",
            status=status,
            reading=reading,
        )
        self.wait_seconds = wait_seconds
        self.reason = reason

    def __repr__(self) -> str:
        return (
            f"NotEnoughTokens(wait_seconds={self.wait_seconds!r}, reason={self.reason!r}, "
            f"status={self.status!r})"
        )


class InvalidParameter(KeepaError):
    """400 (or a request we refuse to send): our bug or bad input; do not retry."""


class PaymentRequired(KeepaError):
    """402: key expired or the plan lacks access. Fatal: all Keepa work must stop."""


class NotFound(KeepaError):
    """404/405: unknown endpoint or parameter out of range; do not retry."""


class TransientError(KeepaError):
    """5xx, timeout, connection failure or a cut-off answer that outlived the client's bounded
    retries: Keepa's trouble, not the request's. Work backs off and tries again; it never
    counts against a candidate's attempts."""


class MalformedResponse(KeepaError):
    """The body is not JSON, lacks the token envelope, or has fields of the wrong type."""


class TruncatedResponse(TransientError, MalformedResponse):
    """A 200 whose body is not valid JSON: the answer was cut off on the way (Keepa's gzip
    stream, a proxy), so the same call is likely to succeed again."""
