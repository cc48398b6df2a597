"""``GET /api/deals/`` and ``GET /api/deals/<asin>/``: displayable deals only.

Both start from ``Deal.objects.displayable()`` (the one zombie rule), so a zombie is never
listed and its detail answers 404. Session and token authentication, sellers and staff only
(the project's DRF defaults: ``dealsite.access.ReadsDeals``).
"""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics

from deals.api.filters import DEFAULT_ORDERING, DealFilter, order_by
from deals.api.pagination import DealPagination
from deals.api.serializers import SERIALIZED_COLUMNS, DealSerializer
from deals.keepa.facts import ASIN_PATTERN
from deals.models import Deal

DETAIL_SCHEMA = {"type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"]}
FIELD_ERRORS_SCHEMA = {
    "type": "object",
    "description": "Parameter name -> messages",
    "additionalProperties": {"type": "array", "items": {"type": "string"}},
}
BAD_PARAMETER = OpenApiResponse(
    FIELD_ERRORS_SCHEMA, description="A malformed query parameter; the body is keyed by its name."
)
NOT_SIGNED_IN = OpenApiResponse(
    DETAIL_SCHEMA, description="No or bad credentials (session or token); see WWW-Authenticate."
)
NOT_A_SELLER = OpenApiResponse(DETAIL_SCHEMA, description="Signed in, but neither a seller nor staff.")
NOT_FOUND = OpenApiResponse(DETAIL_SCHEMA, description="A page past the end (or not a page number).")


class EmptyMeansAbsentSchema(AutoSchema):
    """Every query parameter of the list treats an empty value (``?category=``, as an HTML
    form sends it) as not given; the schema says so with ``allowEmptyValue``."""

    def _get_parameters(self):
        parameters = super()._get_parameters()
        for parameter in parameters:
            if parameter["in"] == "query":
                parameter["allowEmptyValue"] = True
        return parameters


def displayable_deals():
    return Deal.objects.displayable().only(*SERIALIZED_COLUMNS)


class DealListView(generics.ListAPIView):
    serializer_class = DealSerializer
    filterset_class = DealFilter
    pagination_class = DealPagination
    schema = EmptyMeansAbsentSchema()

    def get_queryset(self):
        return order_by(displayable_deals(), DEFAULT_ORDERING)

    @extend_schema(
        summary="Displayable deals, best profit first",
        responses={
            200: DealSerializer(many=True),
            400: BAD_PARAMETER,
            401: NOT_SIGNED_IN,
            403: NOT_A_SELLER,
            404: NOT_FOUND,
        },
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class DealDetailView(generics.RetrieveAPIView):
    serializer_class = DealSerializer
    filter_backends: list = []  # the list's filters never hide or reveal a single deal
    lookup_field = "asin"

    def get_queryset(self):
        return displayable_deals()

    @extend_schema(
        summary="One displayable deal by ASIN",
        parameters=[
            OpenApiParameter(
                "asin",
                OpenApiTypes.STR,
                OpenApiParameter.PATH,
                pattern=ASIN_PATTERN,
                description="10 characters, digits and upper-case letters.",
            )
        ],
        responses={
            200: DealSerializer,
            401: NOT_SIGNED_IN,
            403: NOT_A_SELLER,
            404: OpenApiResponse(DETAIL_SCHEMA, description="No such deal, or it is not displayable."),
        },
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
