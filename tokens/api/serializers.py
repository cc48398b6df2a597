"""The bucket's state as the API shows it: the same fields as ``bucket_status --json``."""

from rest_framework import serializers

from tokens.bucket import REASON_MAX_LENGTH


class BucketStatusSerializer(serializers.Serializer):
    known = serializers.BooleanField(help_text="False until the first Keepa reading")
    state = serializers.ChoiceField(choices=["active", "recharging", "paused"])
    tokens = serializers.IntegerField(help_text="projected Keepa balance now")
    available = serializers.IntegerField(help_text="tokens minus reservations in flight")
    capacity = serializers.IntegerField(help_text="60 x refill rate")
    refill_rate = serializers.IntegerField(help_text="tokens per minute")
    next_refill_seconds = serializers.FloatField(allow_null=True)
    recharge_active = serializers.BooleanField()
    recharge_threshold = serializers.IntegerField(help_text="clamped below the capacity")
    recharge_started_at = serializers.DateTimeField(allow_null=True)
    recharge_deadline_at = serializers.DateTimeField(allow_null=True, help_text="the recharge timeout")
    recharge_reason = serializers.CharField(allow_blank=True)
    recharge_actor = serializers.CharField(allow_blank=True)
    recharge_eta_seconds = serializers.FloatField(allow_null=True)
    reservations_in_flight = serializers.IntegerField()
    in_flight_tokens = serializers.IntegerField()
    last_reading_age_seconds = serializers.FloatField(allow_null=True)
    last_429_at = serializers.DateTimeField(allow_null=True)
    fatal_pause = serializers.BooleanField()
    fatal_reason = serializers.CharField(allow_blank=True)
    now = serializers.DateTimeField()
    last_refusal_status = serializers.IntegerField(
        allow_null=True, help_text="what Keepa last refused a call with: 429 (tokens) or 402 (key or plan)"
    )
    last_refusal_at = serializers.DateTimeField(allow_null=True)
    clock_skew_kind = serializers.CharField(
        allow_blank=True, help_text="the last disagreement of clocks beyond the bound, if any"
    )
    clock_skew_seconds = serializers.FloatField(allow_null=True)
    clock_skew_at = serializers.DateTimeField(allow_null=True)


class RechargeResponseSerializer(BucketStatusSerializer):
    detail = serializers.CharField(
        required=False,
        help_text='present when the request changed nothing: "not recharging, nothing to release"',
    )


class RechargeRequestSerializer(serializers.Serializer):
    active = serializers.BooleanField(help_text="true starts recharge mode, false ends it")
    reason = serializers.CharField(max_length=REASON_MAX_LENGTH, help_text="recorded in the audit log")
