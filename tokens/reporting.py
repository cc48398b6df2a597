"""How the bucket's state reads for an operator (text) and what counts as unhealthy."""

from __future__ import annotations

from datetime import UTC, datetime

from tokens.bucket import SKEW_KINDS, BucketStatus

BAR_WIDTH = 30

#: What Keepa meant by each refusal it answered.
REFUSALS = {429: "429 out of tokens", 402: "402 payment required: key expired or plan lacks access"}


def _clock_time(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    seconds = max(0, round(seconds))
    if seconds < 120:
        return f"{seconds} s"
    minutes, rest = divmod(seconds, 60)
    if minutes < 120:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def progress_bar(fraction: float, width: int = BAR_WIDTH) -> str:
    filled = round(max(0.0, min(1.0, fraction)) * width)
    return "[" + "#" * filled + "-" * (width - filled) + f"] {fraction:4.0%}"


def last_refusal(status: BucketStatus) -> str:
    """The status Keepa last refused a call with, as it was: a 402 is not a 429."""
    if status.last_refusal_status is None:
        if status.last_429_at is None:
            return "never"
        return f"{REFUSALS[429]} at {_clock_time(status.last_429_at)}"
    code = status.last_refusal_status
    return f"{REFUSALS.get(code, str(code))} at {_clock_time(status.last_refusal_at)}"


def clock_skew(status: BucketStatus) -> str:
    """The last disagreement of clocks beyond the bound, as a sentence (empty if none)."""
    if not status.clock_skew_kind:
        return ""
    what = SKEW_KINDS.get(status.clock_skew_kind, status.clock_skew_kind)
    by = duration(status.clock_skew_seconds)
    return f"{what} (off by {by}, seen at {_clock_time(status.clock_skew_at)})"


def problems(status: BucketStatus, *, stale_after_seconds: float) -> list[str]:
    """Why the bucket is not healthy (empty when it is)."""
    found = []
    if not status.known:
        found.append("no Keepa reading yet: the balance is unknown")
    elif (
        status.last_reading_age_seconds is not None and status.last_reading_age_seconds > stale_after_seconds
    ):
        found.append(
            f"stale: the last Keepa reading is {duration(status.last_reading_age_seconds)} old "
            f"(more than {duration(stale_after_seconds)})"
        )
    if status.fatal_reason:
        found.append(f"paused by a fatal Keepa error: {status.fatal_reason}")
    return found


def render(status: BucketStatus) -> str:
    lines = []
    if status.known:
        lines.append(f"tokens        {status.tokens} / {status.capacity}  (available {status.available})")
        lines.append(
            f"refill rate   {status.refill_rate}/min, next refill in {duration(status.next_refill_seconds)}"
        )
    else:
        lines.append("tokens        unknown (no Keepa reading yet; one probe call at a time)")
    if status.recharge_active:
        lines.append(
            f"recharge      ON since {_clock_time(status.recharge_started_at)} "
            f"by {status.recharge_actor}: {status.recharge_reason}"
        )
        progress = (
            f"{progress_bar(status.recharge_progress)} of {status.recharge_threshold}, "
            f"ETA {duration(status.recharge_eta_seconds)}"
            if status.known
            else "until the first Keepa reading shows the balance and the threshold"
        )
        lines.append(f"              {progress} (timeout {_clock_time(status.recharge_deadline_at)})")
    else:
        lines.append(f"recharge      off (threshold {status.recharge_threshold})")
    lines.append(
        f"in flight     {status.reservations_in_flight} reservation(s), {status.in_flight_tokens} tokens"
    )
    age = status.last_reading_age_seconds
    lines.append(f"last reading  {duration(age) + ' ago' if age is not None else 'never'}")
    lines.append(f"last refusal  {last_refusal(status)}")
    if status.clock_skew_kind:
        lines.append(f"clock skew    {clock_skew(status)}")
    lines.append(f"fatal pause   {status.fatal_reason or 'none'}")
    return "\n".join(lines)
