"""Bucket status for any signed-in user; the recharge toggle for holders of
``tokens.toggle_recharge`` (every toggle is audited with the user)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from redis.exceptions import RedisError
from rest_framework import permissions, status
from rest_framework.response import Response
from rest_framework.views import APIView

from tokens import services
from tokens.api.serializers import (
    BucketStatusSerializer,
    RechargeRequestSerializer,
    RechargeResponseSerializer,
)

UNAVAILABLE = OpenApiResponse(description="Redis (the bucket's store) is unreachable")
INVALID = OpenApiResponse(description="invalid body: field errors")


def _unavailable(exc: RedisError) -> Response:
    return Response(
        {"detail": f"token bucket unavailable: {type(exc).__name__}"},
        status=status.HTTP_503_SERVICE_UNAVAILABLE,
    )


class CanToggleRecharge(permissions.BasePermission):
    def has_permission(self, request, view):
        return request.user.has_perm("tokens.toggle_recharge")


class BucketStatusView(APIView):
    @extend_schema(responses={200: BucketStatusSerializer, 503: UNAVAILABLE}, summary="Token bucket status")
    def get(self, request):
        try:
            current = services.get_bucket().status()
        except RedisError as exc:
            return _unavailable(exc)
        return Response(BucketStatusSerializer(current.as_dict()).data)


class RechargeView(APIView):
    permission_classes = [permissions.IsAuthenticated, CanToggleRecharge]

    @extend_schema(
        request=RechargeRequestSerializer,
        responses={
            200: RechargeResponseSerializer,
            400: OpenApiResponse(description="invalid body"),
            503: UNAVAILABLE,
        },
        summary="Turn recharge mode on or off",
    )
    def post(self, request):
        body = RechargeRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            current, note = services.toggle_recharge(
                services.get_bucket(),
                active=body.validated_data["active"],
                reason=body.validated_data["reason"],
                actor="api",
                user=request.user,
            )
        except RedisError as exc:
            return _unavailable(exc)
        data = dict(BucketStatusSerializer(current.as_dict()).data)
        if note:
            data["detail"] = note
        return Response(data)
