"""The audit trail of the bucket's mode: every recharge toggle and fatal pause, by whom."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class RechargeEvent(models.Model):
    class Action(models.TextChoices):
        RECHARGE_ON = "recharge_on", "recharge started"
        RECHARGE_OFF = "recharge_off", "recharge ended"
        FATAL_PAUSE = "fatal_pause", "paused (fatal Keepa error)"
        FATAL_RELEASE = "fatal_release", "fatal pause released"

    class Actor(models.TextChoices):
        COMMAND = "command", "management command"
        DEPLOY = "deploy", "deploy script"
        AUTOMATIC = "automatic", "automatic"
        ADMIN = "admin", "admin"
        API = "api", "API"

    class State(models.TextChoices):
        ACTIVE = "active", "active"
        RECHARGING = "recharging", "recharging"
        PAUSED = "paused", "paused"

    # The bucket's clock time of the change (services.record_transition); the default serves
    # rows made by hand.
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor = models.CharField(max_length=16, choices=Actor.choices)
    action = models.CharField(max_length=16, choices=Action.choices)
    reason = models.CharField(max_length=200, blank=True)
    old_state = models.CharField(max_length=16, choices=State.choices)
    new_state = models.CharField(max_length=16, choices=State.choices)
    tokens = models.IntegerField(help_text="projected balance when it happened")
    refill_rate = models.IntegerField(help_text="tokens per minute when it happened")

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("toggle_recharge", "Can turn Keepa token recharge mode on and off")]

    def __str__(self) -> str:
        return f"{self.get_action_display()} by {self.actor} ({self.old_state} -> {self.new_state})"
