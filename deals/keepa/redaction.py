"""Keeps the Keepa key out of anything a human or a log store might read."""

from __future__ import annotations

import logging
import re

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

_KEY_PARAM = re.compile(r"(?i)(\bkey=)[^&\s'\"]+")


def redact(text: str, key: str | None = None) -> str:
    """Mask ``key=...`` query parameters and any literal occurrence of ``key``."""
    if key is None:
        key = _configured_key()
    text = _KEY_PARAM.sub(r"\1***", text)
    if key:
        text = text.replace(key, "***")
    return text


def _configured_key() -> str | None:
    """The key to mask; none in a process without Django settings (the simulator's own)."""
    try:
        return settings.KEEPA_API_KEY or None
    except ImproperlyConfigured:
        return None


class RedactKeepaKeyFilter(logging.Filter):
    """Logging filter: a last line of defence, the client never logs the key on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


# Libraries that log request URLs (urllib3 logs "GET /product?key=..." at DEBUG).
_URL_LOGGERS = ("urllib3.connectionpool", "requests")


def install_library_log_filters() -> None:
    """Attach the filter to the loggers of HTTP libraries, whatever handlers are configured
    (a logger's own filters also run for handlers like pytest's caplog)."""
    for name in _URL_LOGGERS:
        target = logging.getLogger(name)
        if not any(isinstance(f, RedactKeepaKeyFilter) for f in target.filters):
            target.addFilter(RedactKeepaKeyFilter())
