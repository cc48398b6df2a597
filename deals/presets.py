"""Dashboard filter presets: the built-in "Optimal" one and the ones a user saves.

A preset is the list API's query parameters. The ones a user saves are validated by the
very ``DealFilter`` the API applies, so a stored preset can never be one the API answers
with a 400; a parameter it does not know is refused by name rather than silently dropped.
"""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction

from deals.api.filters import DealFilter
from deals.models import Deal, FilterPreset

#: The predecessor's nine "Optimal" criteria, where the data exists: profit >= $45, ROI >=
#: 20%, rank <= 1M, at least 2 rank drops in 30 days, deal trust >= 70%, seller score >=
#: 5/10, at least 10% below the 1yr average, Amazon not selling. The ninth, "hide gated",
#: needs gating data the deals do not have yet (no Keepa call reports it), so it is left out
#: until such a field exists rather than pretended.
OPTIMAL = {
    "min_profit_cents": "4500",
    "min_roi": "20",
    "max_sales_rank": "1000000",
    "min_drops_30": "2",
    "min_deal_trust": "70",
    "min_seller_score": "5",
    "min_percent_down": "10",
    "hide_amazon": "true",
}
BUILT_IN = {"optimal": {"label": "Optimal", "params": OPTIMAL}}
MAX_PRESETS = 50  # per user: a dropdown, not a database


def clean_params(params: object) -> dict[str, str]:
    """``params`` as the API would read them, or ValidationError keyed by the parameter."""
    if not isinstance(params, dict):
        raise ValidationError({"params": "Give the filters as an object of parameter: value."})
    known = set(DealFilter.base_filters)
    unknown = sorted(str(key) for key in params if key not in known)
    if unknown:
        raise ValidationError({name: "Not a filter of /api/deals/." for name in unknown})
    not_text = sorted(key for key, value in params.items() if not isinstance(value, str | int | bool))
    if not_text:
        raise ValidationError({name: "Give the value as text, as in the URL." for name in not_text})
    data = {key: _as_query_value(value) for key, value in params.items() if _as_query_value(value) != ""}
    form = DealFilter(data=data, queryset=Deal.objects.none()).form
    if not form.is_valid():
        raise ValidationError({name: list(errors) for name, errors in form.errors.items()})
    return data


def _as_query_value(value: str | int | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip()


@transaction.atomic
def save_preset(user, *, name: str, params: object, now: datetime, preset: FilterPreset | None = None):
    """Create (or, given ``preset``, change) one of ``user``'s presets; ValidationError
    names the field or parameter at fault."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "Give the preset a name."})
    if len(name) > FilterPreset._meta.get_field("name").max_length:
        raise ValidationError({"name": "Use at most 100 characters."})
    cleaned = clean_params(params)
    mine = FilterPreset.objects.select_for_update().filter(user=user)
    if mine.filter(name=name).exclude(pk=getattr(preset, "pk", None)).exists():
        raise ValidationError({"name": f"You already have a preset called {name!r}."})
    if preset is None and mine.count() >= MAX_PRESETS:
        raise ValidationError({"name": f"You have {MAX_PRESETS} presets already; delete one first."})
    preset = preset or FilterPreset(user=user, created_at=now)
    preset.name, preset.params, preset.updated_at = name, cleaned, now
    preset.save()
    return preset
