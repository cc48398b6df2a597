"""``GET /api/deals/`` and ``GET /api/deals/<asin>/``: displayable deals only; and what
belongs to the signed-in user: their filter presets and their "new since last visit" count.

The deals start from ``Deal.objects.displayable()`` (the one zombie rule), so a zombie is
never listed and its detail answers 404. The list is lean (the table's columns and a short
sparkline); the detail carries every figure and the price history. Session and token
authentication, sellers and staff only (the project's DRF defaults: ``dealsite.access.ReadsDeals``).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from deals import presets, visits
from deals.api.filters import DEFAULT_ORDERING, DealFilter, order_by
from deals.api.pagination import DealPagination
from deals.api.serializers import (
    DETAIL_COLUMNS,
    LIST_COLUMNS,
    DealListSerializer,
    DealSerializer,
    FilterPresetSerializer,
)
from deals.keepa.facts import ASIN_PATTERN
from deals.models import Deal, FilterPreset
from tokens.clock import get_clock

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
    return Deal.objects.displayable().only(*DETAIL_COLUMNS)


class DealListView(generics.ListAPIView):
    serializer_class = DealListSerializer
    filterset_class = DealFilter
    pagination_class = DealPagination
    schema = EmptyMeansAbsentSchema()
    # Named rows of the table's columns, not Deals: the serializer reads them alike, and a
    # Deal per row cost more Python than fetching the rows. (DRF clones this per request.)
    queryset = order_by(Deal.objects.displayable().values_list(*LIST_COLUMNS, named=True), DEFAULT_ORDERING)

    @extend_schema(
        summary="Displayable deals, best profit first: the table's columns (the detail has the rest)",
        responses={
            200: DealListSerializer(many=True),
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


NEW_DEALS_SCHEMA = {
    "type": "object",
    "properties": {
        "since": {
            "type": "string",
            "format": "date-time",
            "nullable": True,
            "description": "The end of your previous visit (or when you last marked deals seen); "
            "null before your first visit to the dashboard.",
        },
        "count": {"type": "integer", "description": "Matching deals created since then."},
        "count_exact": {"type": "boolean", "description": f"false: more than {visits.COUNT_LIMIT}."},
    },
    "required": ["since", "count", "count_exact"],
}


class NewDealsView(generics.GenericAPIView):
    """How many displayable deals matching the filters arrived since the user's last visit."""

    filterset_class = DealFilter
    filter_backends = [DjangoFilterBackend]
    pagination_class = None
    schema = EmptyMeansAbsentSchema()

    def get_queryset(self):
        return Deal.objects.displayable()

    def answer(self, since) -> Response:
        count, exact = visits.count_new(self.filter_queryset(self.get_queryset()), since)
        return Response({"since": since, "count": count, "count_exact": exact})

    @extend_schema(
        summary="Deals new since your last visit that match these filters",
        responses={
            200: OpenApiResponse(NEW_DEALS_SCHEMA),
            400: BAD_PARAMETER,
            401: NOT_SIGNED_IN,
            403: NOT_A_SELLER,
        },
    )
    def get(self, request, *args, **kwargs):
        return self.answer(visits.baseline(request.user))

    @extend_schema(
        summary="Mark every deal seen: the count starts again from now",
        request=None,
        responses={
            200: OpenApiResponse(NEW_DEALS_SCHEMA),
            400: BAD_PARAMETER,
            401: NOT_SIGNED_IN,
            403: NOT_A_SELLER,
        },
    )
    def post(self, request, *args, **kwargs):
        visit = visits.mark_seen(request.user, now=get_clock().now())
        return self.answer(visit.since)


def _saved(request, serializer, preset=None) -> FilterPreset:
    """Through the one preset rule (``presets.save_preset``): errors come back keyed by the
    field or the filter parameter at fault."""
    serializer.is_valid(raise_exception=True)
    try:
        return presets.save_preset(
            request.user,
            name=serializer.validated_data.get("name", getattr(preset, "name", "")),
            params=serializer.validated_data.get("params", getattr(preset, "params", {})),
            now=get_clock().now(),
            preset=preset,
        )
    except DjangoValidationError as exc:
        raise ValidationError(exc.message_dict) from exc


class FilterPresetListView(generics.ListCreateAPIView):
    """The signed-in user's saved filter presets (nobody else's)."""

    serializer_class = FilterPresetSerializer
    filter_backends: list = []
    pagination_class = None

    def get_queryset(self):
        return FilterPreset.objects.filter(user=self.request.user)

    @extend_schema(summary="Your saved filter presets", responses={200: FilterPresetSerializer(many=True)})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Save the filters as a new preset",
        responses={201: FilterPresetSerializer, 400: BAD_PARAMETER, 401: NOT_SIGNED_IN, 403: NOT_A_SELLER},
    )
    def post(self, request, *args, **kwargs):
        preset = _saved(request, self.get_serializer(data=request.data))
        return Response(self.get_serializer(preset).data, status=status.HTTP_201_CREATED)


class FilterPresetDetailView(generics.RetrieveUpdateDestroyAPIView):
    """One of the user's presets; another user's answers 404, as if it did not exist."""

    serializer_class = FilterPresetSerializer
    filter_backends: list = []

    def get_queryset(self):
        return FilterPreset.objects.filter(user=self.request.user)

    def get_object(self):
        return get_object_or_404(self.get_queryset(), pk=self.kwargs["pk"])

    def update(self, request, *args, **kwargs):
        preset = self.get_object()
        partial = kwargs.get("partial", False)
        preset = _saved(request, self.get_serializer(preset, data=request.data, partial=partial), preset)
        return Response(self.get_serializer(preset).data)
