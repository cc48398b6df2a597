"""What a buyer sees of a deal: the dashboard's columns, nothing of the repair machinery.

The list carries what the table shows, with a sparkline of at most ``SPARKLINE_POINTS``
price points (well under 1 KB a deal); the detail carries every figure and the stored price
history. Money is integer cents; percentages are Decimal strings ("25.50") exactly as
computed, so no client ever needs float arithmetic on them.
"""

from __future__ import annotations

import decimal
from bisect import bisect_right
from collections.abc import Callable
from functools import cached_property

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import ISO_8601, serializers
from rest_framework.settings import api_settings

from deals.models import AverageSource, Deal, FilterPreset
from deals.verification import is_stale
from tokens.clock import get_clock

SPARKLINE_POINTS = 20
ONE_YEAR_SECONDS = 365 * 24 * 3600
PRICE_POINT = {
    "type": "array",
    "items": {"type": "integer"},
    "minItems": 2,
    "maxItems": 2,
    "description": "[unix seconds, cents]",
}


class DealSerializer(serializers.ModelSerializer):
    one_year_avg_source = serializers.ChoiceField(
        choices=AverageSource.choices,
        allow_blank=True,
        read_only=True,
        help_text="Where the 1yr average comes from: sales (inferred from the history) or keepa "
        "(no sale in the year: Keepa's Used listing average, an estimate); empty until refreshed.",
    )
    used_price_history = serializers.SerializerMethodField(
        help_text="Used price changes over the last year: [[unix seconds, cents], ...]"
    )
    verification_stale = serializers.SerializerMethodField(
        help_text="true when the verification is older than the staleness limit or Keepa's used "
        "price moved since: the offer may have sold; it is being checked again."
    )

    class Meta:
        model = Deal
        fields = (
            "asin",
            "title",
            "category",
            "verification",
            "verified_at",
            "verification_stale",
            "condition",
            "buy_price_cents",
            "shipping_cents",
            "fulfillment",
            "seller_id",
            "seller_name",
            "seller_score",
            "live_used_offers",
            "sales_rank",
            "sales_rank_drops_30",
            "used_offer_count",
            "peak_season",
            "trough_season",
            "expected_trough_cents",
            "deal_trust_percent",
            "amazon_sells",
            "price_now_cents",
            "one_year_avg_cents",
            "one_year_avg_source",
            "list_at_cents",
            "list_at_suspicious",
            "all_in_cost_cents",
            "min_list_price_cents",
            "amazon_fees_cents",
            "fba_fee_cents",
            "referral_percent",
            "profit_cents",
            "margin_percent",
            "roi_percent",
            "percent_down",
            "used_price_history",
            "keepa_updated_at",
            "fetched_at",
            "created_at",
        )
        read_only_fields = fields

    def to_representation(self, deal: Deal) -> dict:
        """Same output as ``ModelSerializer.to_representation`` (tests hold them equal), at a
        fraction of its cost: a page is 25 to 200 deals of 25 fields, and the generic path
        (field lookup, ``get_attribute``, a call per field) was most of the request. ``deal``
        is a Deal or anything with its columns as attributes (the list reads named rows)."""
        data = {}
        for name, convert in self.converters:
            value = getattr(deal, name)
            data[name] = value if value is None or convert is None else convert(value)
        data["verification_stale"] = self.get_verification_stale(deal)
        self.add_history(deal, data)
        return data

    @cached_property
    def converters(self) -> list[tuple[str, Callable | None]]:
        """Once a page: a list serializer's rows all go through its one child."""
        return _page_converters(type(self))

    def add_history(self, deal: Deal, data: dict) -> None:
        data["used_price_history"] = self.get_used_price_history(deal)

    def now(self):
        """One moment for the whole page (a list serializer shares its context)."""
        if "now" not in self.context:
            self.context["now"] = get_clock().now()
        return self.context["now"]

    def get_verification_stale(self, deal: Deal) -> bool:
        return is_stale(deal, self.now())

    @extend_schema_field({"type": "array", "items": PRICE_POINT})
    def get_used_price_history(self, deal: Deal) -> list[list[int]]:
        return price_points(deal.used_price_history)


def price_points(history: object) -> list[list[int]]:
    """Only well-formed [int, int] pairs: the column is JSON any writer could fill."""
    if type(history) is not list:
        return []
    # ``type(...) is int`` also leaves out booleans (a subclass of int).
    return [
        [point[0], point[1]]
        for point in history
        if type(point) is list and len(point) == 2 and type(point[0]) is int and type(point[1]) is int
    ]


def sample_year(points: list[list[int]], end: int, size: int = SPARKLINE_POINTS) -> list[int | None]:
    """The price in force (a Keepa price holds until the next change) at ``size`` moments
    evenly spaced over the year up to ``end`` (unix seconds), the last one ``end`` itself;
    None before the first known price. Evenly spaced values need no times: a sparkline's
    whole payload is a few dozen numbers."""
    ordered = sorted(points)
    times = [t for t, _ in ordered]
    samples: list[int | None] = []
    for i in range(size):
        moment = end - ONE_YEAR_SECONDS + ONE_YEAR_SECONDS * i // (size - 1)
        k = bisect_right(times, moment)
        samples.append(ordered[k - 1][1] if k else None)
    return samples


#: What the dashboard's table shows of a deal (the list's fields).
LIST_FIELDS = (
    "asin",
    "title",
    "category",
    "verification",
    "verified_at",
    "verification_stale",
    "condition",
    "buy_price_cents",
    "shipping_cents",
    "fulfillment",
    "seller_name",
    "seller_score",
    "sales_rank",
    "sales_rank_drops_30",
    "deal_trust_percent",
    "used_offer_count",
    "peak_season",
    "trough_season",
    "expected_trough_cents",
    "amazon_sells",
    "price_now_cents",
    "one_year_avg_cents",
    "one_year_avg_source",
    "list_at_cents",
    "list_at_suspicious",
    "all_in_cost_cents",
    "min_list_price_cents",
    "profit_cents",
    "margin_percent",
    "roi_percent",
    "percent_down",
    "sparkline",
    "keepa_updated_at",
    "created_at",
)


class SecondsDateTimeField(serializers.DateTimeField):
    """A moment to the second: the table shows ages in minutes, and a list page is read
    often enough for seven digits a timestamp to count."""

    def to_representation(self, value):
        return super().to_representation(value.replace(microsecond=0))


@extend_schema_serializer(component_name="DealRow")
class DealListSerializer(DealSerializer):
    """A row of the dashboard's table: the detail's figures it shows, and instead of the
    price history its sparkline, ``SPARKLINE_POINTS`` sampled prices."""

    used_price_history = None  # the detail's
    verified_at = SecondsDateTimeField(read_only=True, allow_null=True)
    keepa_updated_at = SecondsDateTimeField(read_only=True, allow_null=True)
    created_at = SecondsDateTimeField(read_only=True)
    sparkline = serializers.SerializerMethodField(
        help_text=f"The used price in cents at {SPARKLINE_POINTS} moments evenly spaced over the year "
        "up to the response (oldest first, the last one now); null before the first known price. "
        "The detail has the price history itself."
    )

    class Meta(DealSerializer.Meta):
        fields = LIST_FIELDS
        read_only_fields = fields

    def add_history(self, deal: Deal, data: dict) -> None:
        data["sparkline"] = self.get_sparkline(deal)

    @extend_schema_field(
        {
            "type": "array",
            "items": {"type": "integer", "nullable": True},
            "minItems": SPARKLINE_POINTS,
            "maxItems": SPARKLINE_POINTS,
        }
    )
    def get_sparkline(self, deal: Deal) -> list[int | None]:
        return sample_year(price_points(deal.used_price_history), int(self.now().timestamp()))


_PASSTHROUGH = (serializers.IntegerField, serializers.CharField, serializers.BooleanField)
_MODEL_FIELDS: dict[type, list] = {}


def _model_fields(serializer_class: type[DealSerializer]) -> list[tuple[str, serializers.Field]]:
    """The serializer's fields that read a column, built once per class."""
    if serializer_class not in _MODEL_FIELDS:
        _MODEL_FIELDS[serializer_class] = [
            (name, field)
            for name, field in serializer_class().fields.items()
            if not isinstance(field, serializers.SerializerMethodField)
        ]
    return _MODEL_FIELDS[serializer_class]


def _page_converters(serializer_class: type[DealSerializer]) -> list[tuple[str, Callable | None]]:
    """(field name, converter or None): ints, text and booleans come from the database as
    DRF would output them; datetimes and Decimals are written as their DRF field writes
    them, with what DRF looks up for every value (the current timezone, the decimal
    context) looked up once for the page."""
    zone = timezone.get_current_timezone()
    context = decimal.getcontext().copy()
    converters = []
    for name, field in _model_fields(serializer_class):
        if isinstance(field, _PASSTHROUGH):
            convert = None
        elif isinstance(field, serializers.DateTimeField):
            convert = _moment_converter(field, zone)
        elif isinstance(field, serializers.DecimalField):
            convert = _decimal_converter(field, context)
        else:
            convert = field.to_representation
        converters.append((name, convert))
    return converters


def _moment_converter(field: serializers.DateTimeField, zone) -> Callable:
    """``field.to_representation`` for an ISO 8601 field (DRF's default format)."""
    output = getattr(field, "format", api_settings.DATETIME_FORMAT)
    if output is None or output.lower() != ISO_8601 or hasattr(field, "timezone"):
        return field.to_representation
    to_the_second = isinstance(field, SecondsDateTimeField)

    def convert(value):
        if value.tzinfo is None:  # naive: DRF's own rules
            return field.to_representation(value)
        if to_the_second:
            value = value.replace(microsecond=0)
        text = value.astimezone(zone).isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text

    return convert


def _decimal_converter(field: serializers.DecimalField, context: decimal.Context) -> Callable:
    """``field.to_representation`` for a plain decimal string (DRF's default)."""
    coerce = getattr(field, "coerce_to_string", api_settings.COERCE_DECIMAL_TO_STRING)
    if not coerce or field.localize or field.normalize_output or field.decimal_places is None:
        return field.to_representation
    context = context.copy()
    if field.max_digits is not None:
        context.prec = field.max_digits
    places = decimal.Decimal(".1") ** field.decimal_places

    def convert(value):
        if type(value) is not decimal.Decimal:  # DRF's own rules
            return field.to_representation(value)
        return f"{value.quantize(places, rounding=field.rounding, context=context):f}"

    return convert


#: The columns ``verification_stale`` reads besides the serialized ones.
_STALENESS_COLUMNS = ("checked_at", "checked_used_price_cents")
#: The columns each serializer reads: its query loads nothing else.
DETAIL_COLUMNS = (
    *(name for name in DealSerializer.Meta.fields if name != "verification_stale"),
    *_STALENESS_COLUMNS,
)
LIST_COLUMNS = (
    *(name for name in LIST_FIELDS if name not in {"verification_stale", "sparkline"}),
    "used_price_history",
    *_STALENESS_COLUMNS,
)


class FilterPresetSerializer(serializers.ModelSerializer):
    """One of the user's saved filter sets; ``params`` are checked by ``presets.save_preset``."""

    params = serializers.DictField(
        child=serializers.CharField(allow_blank=True),
        help_text="Query parameters of /api/deals/ (min_profit_cents, min_roi, ...), as strings.",
    )

    class Meta:
        model = FilterPreset
        fields = ("id", "name", "params", "updated_at")
        read_only_fields = ("id", "updated_at")
