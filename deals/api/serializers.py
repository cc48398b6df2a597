"""What a buyer sees of a deal: the dashboard's columns, nothing of the repair machinery.

Money is integer cents; percentages are Decimal strings ("25.50") exactly as computed, so no
client ever needs float arithmetic on them.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from deals.models import Deal
from deals.verification import is_stale
from tokens.clock import get_clock

PRICE_POINT = {
    "type": "array",
    "items": {"type": "integer"},
    "minItems": 2,
    "maxItems": 2,
    "description": "[unix seconds, cents]",
}


class DealSerializer(serializers.ModelSerializer):
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
            "amazon_sells",
            "price_now_cents",
            "one_year_avg_cents",
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
        """Same output as ``ModelSerializer.to_representation`` (a test holds them equal),
        at a fraction of its cost: a page is 25 to 200 deals of 25 fields, and the generic
        path (field lookup, ``get_attribute``, a call per field) was most of the request."""
        data = {}
        for name, convert in _converters(type(self)):
            value = getattr(deal, name)
            data[name] = value if value is None or convert is None else convert(value)
        data["used_price_history"] = self.get_used_price_history(deal)
        data["verification_stale"] = self.get_verification_stale(deal)
        return data

    def get_verification_stale(self, deal: Deal) -> bool:
        if "now" not in self.context:
            self.context["now"] = get_clock().now()
        return is_stale(deal, self.context["now"])

    @extend_schema_field({"type": "array", "items": PRICE_POINT})
    def get_used_price_history(self, deal: Deal) -> list[list[int]]:
        """Only well-formed [int, int] pairs: the column is JSON any writer could fill."""
        history = deal.used_price_history
        if type(history) is not list:
            return []
        # ``type(...) is int`` also leaves out booleans (a subclass of int).
        return [
            [point[0], point[1]]
            for point in history
            if type(point) is list and len(point) == 2 and type(point[0]) is int and type(point[1]) is int
        ]


_PASSTHROUGH = (serializers.IntegerField, serializers.CharField, serializers.BooleanField)
_CONVERTERS: dict[type, list] = {}


def _converters(serializer_class: type[DealSerializer]) -> list:
    """(field name, converter or None) for the model fields, built once per class from the
    serializer's own fields: ints, text and booleans come from the database as DRF would
    output them; Decimals and datetimes go through their DRF field."""
    if serializer_class not in _CONVERTERS:
        fields = serializer_class().fields
        _CONVERTERS[serializer_class] = [
            (name, None if isinstance(field, _PASSTHROUGH) else field.to_representation)
            for name, field in fields.items()
            if not isinstance(field, serializers.SerializerMethodField)
        ]
    return _CONVERTERS[serializer_class]


#: The columns the serializer reads: the list query loads nothing else.
SERIALIZED_COLUMNS = (
    *(name for name in DealSerializer.Meta.fields if name != "verification_stale"),
    "checked_at",
    "checked_used_price_cents",
)
