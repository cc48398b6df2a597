"""What a buyer sees of a deal: the dashboard's columns, nothing of the repair machinery.

Money is integer cents; percentages are Decimal strings ("25.50") exactly as computed, so no
client ever needs float arithmetic on them.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from deals.models import Deal

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

    class Meta:
        model = Deal
        fields = (
            "asin",
            "title",
            "category",
            "condition",
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

    @extend_schema_field({"type": "array", "items": PRICE_POINT})
    def get_used_price_history(self, deal: Deal) -> list[list[int]]:
        """Only well-formed [int, int] pairs: the column is JSON any writer could fill."""
        history = deal.used_price_history if isinstance(deal.used_price_history, list) else []
        return [
            [point[0], point[1]]
            for point in history
            if isinstance(point, list | tuple)
            and len(point) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) for v in point)
        ]


#: The columns the serializer reads: the list query loads nothing else.
SERIALIZED_COLUMNS = DealSerializer.Meta.fields
