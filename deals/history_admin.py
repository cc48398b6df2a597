"""The audit history pages of the deals admin: what changed, from what to what, by whom.

simple-history's views trust the object id in the URL. The admin's ``<path:object_id>``
routes also match ``<id>/change/history/`` (the change page's address plus "history/") with
the id ``"<id>/change"``, which the plugin hands to the database as a primary key: a
ValueError, a 500. Here an id that is no primary key is a 404, and that address goes to the
history page it meant. The rows read as staff think: money in dollars, times in the site's
time zone to the second, long JSON summarised, and each row names who wrote it, the user or
the job (``deals.audit``).
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import Any

from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import ValidationError
from django.db import models
from django.http import Http404, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.dateformat import format as format_date
from simple_history.admin import SimpleHistoryAdmin
from simple_history.template_utils import HistoricalRecordContextHelper

from deals.money import format_cents

#: How a history row shows a time: the site's time zone, to the second.
TIME_FORMAT = "Y-m-d H:i:s T"

#: JSON longer than this is summarised: how many entries, and for an object the keys that
#: changed.
JSON_SHOWN_CHARS = 80


def format_time(value: datetime) -> str:
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    return format_date(value.replace(microsecond=0), TIME_FORMAT)


def compact_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "), sort_keys=True, default=str)


def summarise_json(old: Any, new: Any) -> tuple[str, str]:
    """Both sides of a JSON change, each short enough to read in a history row."""
    if isinstance(old, dict) and isinstance(new, dict):
        changed = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
        old = {k: old[k] for k in changed if k in old}
        new = {k: new[k] for k in changed if k in new}
    return _summary(old), _summary(new)


def _summary(value: Any) -> str:
    text = compact_json(value)
    if len(text) <= JSON_SHOWN_CHARS:
        return text
    if isinstance(value, list):
        return f"{len(value)} entries, the last {_clip(compact_json(value[-1]))}" if value else "[]"
    if isinstance(value, dict):
        return f"{len(value)} keys: {_clip(', '.join(map(str, value)))}"
    return _clip(text)


def _clip(text: str, limit: int = JSON_SHOWN_CHARS // 2) -> str:
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


class AuditHistoryHelper(HistoricalRecordContextHelper):
    """History deltas in the admin's words: "Price now: $10.00 -> $12.50"."""

    def prepare_delta_change_value(self, change, value):
        if change.field.endswith("_cents") and isinstance(value, int):
            return format_cents(value)
        if isinstance(value, datetime):
            return format_time(value)
        return super().prepare_delta_change_value(change, value)

    def stringify_delta_change_values(self, change, old, new):
        if isinstance(self.model._meta.get_field(change.field), models.JSONField):
            old, new = summarise_json(old, new)
        return super().stringify_delta_change_values(change, old, new)

    def format_delta_change(self, change):
        formatted = super().format_delta_change(change)
        return dataclasses.replace(formatted, field=str(formatted.field).replace(" (¢)", ""))


class AuditedHistoryAdmin(SimpleHistoryAdmin):
    """simple-history's pages, safe against any URL and naming the writer of each row."""

    object_history_list_template = "deals/admin/object_history_list.html"

    def history_view(self, request, object_id, extra_context=None):
        if self._history_pk(object_id) is None:
            return self._redirect_from_change_page(object_id)
        return super().history_view(request, object_id, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        history = getattr(self.model, self.model._meta.simple_history_manager_attribute)
        version_pk = history.model._meta.pk
        if self._history_pk(object_id) is None or self._valid(version_pk, version_id) is None:
            raise Http404("No such version.")
        return super().history_form_view(request, object_id, version_id, extra_context)

    def get_historical_record_context_helper(self, request, historical_record):
        return AuditHistoryHelper(self.model, historical_record)

    def _history_pk(self, object_id: str):
        return self._valid(self.model._meta.pk, unquote(object_id))

    @staticmethod
    def _valid(field: models.Field, value: str):
        """``value`` as the primary key ``field`` holds, or None when it cannot be one."""
        try:
            return field.to_python(value)
        except (ValidationError, ValueError, TypeError):
            return None

    def _redirect_from_change_page(self, object_id: str) -> HttpResponseRedirect:
        """``<id>/change/history/`` means the history of ``<id>``; any other bad id is a 404."""
        head, _, tail = unquote(object_id).rpartition("/")
        pk = self._valid(self.model._meta.pk, head) if tail == "change" else None
        if pk is None:
            raise Http404("No such object.")
        opts = self.model._meta
        return HttpResponseRedirect(
            reverse(f"admin:{opts.app_label}_{opts.model_name}_history", args=(quote(pk),))
        )
