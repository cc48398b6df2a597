"""Keeps the Keepa key out of anything a human or a log store might read."""

from __future__ import annotations

import logging
import re

_KEY_PARAM = re.compile(r"(?i)(\bkey=)[^&\s'\"]+")


def redact(text: str, key: str | None = None) -> str:
    """Mask ``key=...`` query parameters and any literal occurrence of ``key``."""
    if key is None:
        from django.conf import settings

        key = getattr(settings, "KEEPA_API_KEY", "") or None
    text = _KEY_PARAM.sub(r"\1***", text)
    if key:
        text = text.replace(key, "***")
    return text


class RedactKeepaKeyFilter(logging.Filter):
    """Logging filter: a last line of defence, the client never logs the key on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
