"""Query parameters of ``GET /api/deals/``: each one validated at the edge.

A malformed value answers 400 with the parameter's name as the key of the error body
(django-filter's form errors, raised by ``DjangoFilterBackend``), never a 500 and never a
silently ignored filter. Numbers are bounded so nothing reaches the database that it could
overflow on; decimal thresholds are rounded up to the cent, which selects exactly the same
rows because the columns hold two decimals.
"""

from __future__ import annotations

import copy
import re
from datetime import UTC
from decimal import ROUND_CEILING, Decimal

import django_filters
from django import forms
from django.db.models import F, Q
from drf_spectacular.utils import extend_schema_field

from deals.keepa.facts import COLLECTIBLE_CONDITIONS
from deals.models import Deal, Fulfillment, Verification
from deals.money import MAX_CENTS

CENT = Decimal("0.01")
PERCENT_LIMIT = 10_000_000  # far beyond any margin or ROI; keeps the value inside numeric(10, 2)
RANK_LIMIT = 2_147_483_647  # PositiveIntegerField's ceiling on PostgreSQL
WHOLE_NUMBER = re.compile(r"^-?\d{1,30}$")

#: What ``ordering`` accepts (each also with a leading "-"). The dashboard sorts by the
#: ``th[data-order]`` columns of its template; the others are there for API users.
ORDERING_FIELDS = (
    "profit_cents",
    "margin_percent",
    "roi_percent",
    "percent_down",
    "sales_rank",
    "sales_rank_drops_30",
    "deal_trust_percent",
    "one_year_avg_cents",
    "price_now_cents",
    "all_in_cost_cents",
    "list_at_cents",
    "title",
    "keepa_updated_at",
    "fetched_at",
    "created_at",
)
ORDERING_CHOICES = [(value, value) for name in ORDERING_FIELDS for value in (name, f"-{name}")]
DEFAULT_ORDERING = "-profit_cents"
#: Never NULL on a displayable row (the zombie rule and the "complete has its inputs"
#: constraint see to it), so their ORDER BY matches the partial indexes as written.
NEVER_NULL_WHEN_DISPLAYABLE = {
    "profit_cents",
    "list_at_cents",
    "one_year_avg_cents",
    "price_now_cents",
    "title",
    "created_at",
}


def order_by(queryset, ordering: str):
    """``ordering`` ("field" or "-field") with NULLs last either way and ``asin`` as the
    unique tiebreaker, so pages never overlap or skip a row."""
    name = ordering.removeprefix("-")
    descending = ordering.startswith("-")
    if name in NEVER_NULL_WHEN_DISPLAYABLE:
        key = F(name).desc() if descending else F(name).asc()
    else:
        key = F(name).desc(nulls_last=True) if descending else F(name).asc(nulls_last=True)
    return queryset.order_by(key, "asin")


class StrictBooleanField(forms.Field):
    """true/false (also 1/0, yes/no, on/off); anything else is an error, not "no filter"."""

    TRUE = frozenset({"true", "1", "yes", "on"})
    FALSE = frozenset({"false", "0", "no", "off"})
    default_error_messages = {"invalid": "Enter true or false."}

    def to_python(self, value):
        if value in (None, ""):
            return None
        text = str(value).strip().lower()
        if text in self.TRUE:
            return True
        if text in self.FALSE:
            return False
        raise forms.ValidationError(self.error_messages["invalid"], code="invalid")


class WholeNumberField(forms.IntegerField):
    """Digits with an optional minus sign: "10.0" or "1e6" is an error, not 10 or a million."""

    def to_python(self, value):
        if value not in self.empty_values and not WHOLE_NUMBER.match(str(value).strip()):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)


class UTCDateTimeField(django_filters.fields.IsoDateTimeField):
    """An ISO 8601 moment; one the database cannot hold in UTC (year 1 at +01:00, say) is
    a validation error instead of an OverflowError deep in the backend."""

    def to_python(self, value):
        moment = super().to_python(value)
        if moment is None:
            return None
        try:
            return moment.astimezone(UTC)
        except (OverflowError, ValueError) as exc:
            raise forms.ValidationError(
                "Enter a date and time the database can hold.", code="invalid"
            ) from exc


class StrictBooleanFilter(django_filters.Filter):
    field_class = StrictBooleanField
    schema = {"type": "boolean"}


class CentsAtLeastFilter(django_filters.Filter):
    field_class = WholeNumberField
    schema = {"type": "integer", "minimum": -MAX_CENTS, "maximum": MAX_CENTS}

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("lookup_expr", "gte")
        super().__init__(*args, min_value=-MAX_CENTS, max_value=MAX_CENTS, **kwargs)


class RankAtMostFilter(django_filters.Filter):
    field_class = WholeNumberField
    schema = {"type": "integer", "minimum": 0, "maximum": RANK_LIMIT}

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("lookup_expr", "lte")
        super().__init__(*args, min_value=0, max_value=RANK_LIMIT, **kwargs)


class CountAtLeastFilter(django_filters.Filter):
    field_class = WholeNumberField
    schema = {"type": "integer", "minimum": 0, "maximum": RANK_LIMIT}

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("lookup_expr", "gte")
        super().__init__(*args, min_value=0, max_value=RANK_LIMIT, **kwargs)


class PercentAtLeastFilter(django_filters.Filter):
    """``field >= value``; NaN and Infinity are refused by the form field, and the value is
    rounded up to the column's step (same rows, and never more digits than the column takes:
    numeric(10, 2) here)."""

    field_class = forms.DecimalField
    low, high, step = -PERCENT_LIMIT, PERCENT_LIMIT, CENT

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("lookup_expr", "gte")
        super().__init__(*args, min_value=self.low, max_value=self.high, **kwargs)
        self.schema = {"type": "number", "minimum": self.low, "maximum": self.high}

    def filter(self, qs, value):
        if value in django_filters.constants.EMPTY_VALUES:
            return qs
        return super().filter(qs, value.quantize(self.step, rounding=ROUND_CEILING))


class ScoreAtLeastFilter(PercentAtLeastFilter):
    """A seller score: 0 to 10 with one decimal."""

    low, high, step = 0, 10, Decimal("0.1")


class ShareAtLeastFilter(PercentAtLeastFilter):
    """A share of a whole: 0 to 100 percent, two decimals."""

    low, high = 0, 100


#: ``exclude_conditions`` names: an offer's condition as a seller speaks of it.
CONDITION_CODES = {
    "new": (1,),
    "like_new": (2,),
    "very_good": (3,),
    "good": (4,),
    "acceptable": (5,),
    "refurbished": (6,),
    "collectible": tuple(sorted(COLLECTIBLE_CONDITIONS)),
}


class ConditionListField(forms.CharField):
    """A comma list of ``CONDITION_CODES`` names, exactly as the schema's pattern says; an
    unknown name is an error naming it."""

    def to_python(self, value):
        text = super().to_python(value)
        if not text:
            return None
        names = text.split(",")
        unknown = sorted(set(names) - set(CONDITION_CODES))
        if unknown:
            raise forms.ValidationError(
                "Unknown condition %(unknown)s; use %(known)s.",
                code="invalid",
                params={"unknown": ", ".join(map(repr, unknown)), "known": ", ".join(CONDITION_CODES)},
            )
        return sorted({code for name in names for code in CONDITION_CODES[name]})


class ConditionsFilter(django_filters.Filter):
    field_class = ConditionListField
    _name = f"(?:{'|'.join(CONDITION_CODES)})"
    schema = {"type": "string", "maxLength": 200, "pattern": f"^{_name}(?:,{_name})*$"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, max_length=200, **kwargs)


class SinceFilter(django_filters.Filter):
    field_class = UTCDateTimeField
    schema = {"type": "string", "format": "date-time"}

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("lookup_expr", "gte")
        super().__init__(*args, **kwargs)


class TextFilter(django_filters.CharFilter):
    """Up to 200 characters without NUL (which PostgreSQL refuses in text)."""

    schema = {"type": "string", "maxLength": 200, "pattern": "^[^\\x00]*$"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, max_length=200, **kwargs)


class FilterDefinitions(dict):
    """A FilterSet's filters, which django-filter deep-copies for every request (the largest
    part of what a FilterSet cost once its form class was built once). A shallow copy of
    each does: a request sets only ``model`` and ``parent`` on its copies, and a method
    filter is rebound to its copy, so that it calls the method of the copy's FilterSet."""

    def __deepcopy__(self, memo) -> dict:
        copies = {}
        for name, definition in self.items():
            copies[name] = copy.copy(definition)
            if definition.method is not None:
                copies[name].method = definition.method
        return copies


def documented(filter_: django_filters.Filter) -> django_filters.Filter:
    """The filter's exact schema (bounds included) with its help text, for drf-spectacular."""
    return extend_schema_field({**filter_.schema, "description": filter_.extra["help_text"]})(filter_)


class DealFilter(django_filters.FilterSet):
    min_profit_cents = documented(
        CentsAtLeastFilter(
            field_name="profit_cents", help_text="Profit at least this many cents (4500 = $45)."
        )
    )
    min_margin = documented(
        PercentAtLeastFilter(
            field_name="margin_percent", help_text="Margin (profit / List at) at least this percentage."
        )
    )
    min_roi = documented(
        PercentAtLeastFilter(
            field_name="roi_percent", help_text="ROI (profit / all-in cost) at least this percentage."
        )
    )
    max_sales_rank = documented(
        RankAtMostFilter(
            field_name="sales_rank",
            help_text="Sales rank at most this (1 is best); deals without a rank drop out.",
        )
    )
    min_percent_down = documented(
        PercentAtLeastFilter(
            field_name="percent_down",
            help_text="Used price now at least this percentage below the 1yr average.",
        )
    )
    min_drops_30 = documented(
        CountAtLeastFilter(
            field_name="sales_rank_drops_30",
            help_text="At least this many sales-rank drops (sales) in the last 30 days.",
        )
    )
    min_deal_trust = documented(
        ShareAtLeastFilter(
            field_name="deal_trust_percent",
            help_text="Deal trust (0 to 100: the share of offer-count drops confirmed as sales) at "
            "least this; deals without one (not yet refreshed, or no drop) drop out.",
        )
    )
    category = documented(
        TextFilter(field_name="category", lookup_expr="iexact", help_text="Exact category, any case.")
    )
    search = documented(
        TextFilter(method="filter_search", help_text="Part of the ASIN or of the title, any case.")
    )
    updated_since = documented(
        SinceFilter(
            field_name="keepa_updated_at",
            help_text="Keepa updated the product at or after this moment (ISO 8601; no zone means UTC).",
        )
    )
    hide_amazon = documented(
        StrictBooleanFilter(
            method="filter_hide_amazon",
            help_text="true leaves out products Amazon itself sells (an Amazon offer on the listing, or "
            "Amazon as the verified offer's seller).",
        )
    )
    suspicious = documented(
        StrictBooleanFilter(
            field_name="list_at_suspicious",
            help_text="true: only deals whose List at is over 3x the used price now; false: only the others.",
        )
    )
    verified = documented(
        StrictBooleanFilter(
            method="filter_verified",
            help_text="true (the default): only deals a live offer confirms; false: estimates too.",
        )
    )
    exclude_conditions = documented(
        ConditionsFilter(
            method="filter_exclude_conditions",
            help_text=f"Leave out verified deals whose offer is in these conditions, a comma list of "
            f"{', '.join(CONDITION_CODES)}. Estimates have no offer yet and stay.",
        )
    )
    min_seller_score = documented(
        ScoreAtLeastFilter(
            field_name="seller_score",
            help_text="Seller score (0 to 10) at least this; deals without a score (estimates) drop out.",
        )
    )
    fulfillment = django_filters.ChoiceFilter(
        choices=Fulfillment.choices,
        help_text="Only offers fulfilled this way: FBA, MFN (the seller ships) or Amazon (Amazon sells it).",
    )
    ordering = django_filters.ChoiceFilter(
        choices=ORDERING_CHOICES,
        method="filter_ordering",
        empty_label=None,
        help_text=f"Sort key, '-' for descending; default {DEFAULT_ORDERING}. Ties are broken by asin; "
        "missing values sort last either way.",
    )

    class Meta:
        model = Deal
        fields: list[str] = []

    @classmethod
    def get_filters(cls):
        return FilterDefinitions(super().get_filters())

    def get_form_class(self):
        """Built once per class, not per request (that was half of the FilterSet's cost): its
        fields come from the filters' definitions alone, and each form instance copies its
        fields anyway."""
        cls = type(self)
        if "_form_class" not in cls.__dict__:
            cls._form_class = super().get_form_class()
        return cls._form_class

    def filter_queryset(self, queryset):
        """Verified deals unless ``verified=false`` says otherwise."""
        if self.form.cleaned_data.get("verified") is None:
            queryset = queryset.filter(verification=Verification.VERIFIED)
        return super().filter_queryset(queryset)

    def filter_verified(self, queryset, name, value):
        return queryset.filter(verification=Verification.VERIFIED) if value else queryset

    def filter_exclude_conditions(self, queryset, name, value):
        return queryset.exclude(condition_code__in=value)

    def filter_search(self, queryset, name, value):
        return queryset.filter(Q(asin__icontains=value) | Q(title__icontains=value))

    def filter_hide_amazon(self, queryset, name, value):
        if not value:
            return queryset
        return queryset.filter(amazon_sells=False).exclude(fulfillment=Fulfillment.AMAZON)

    def filter_ordering(self, queryset, name, value):
        return order_by(queryset, value)
