"""The audit log of the bucket's mode, with a status panel and the recharge toggle on top.

Staff with view permission read the log and the panel; only ``tokens.toggle_recharge``
shows and accepts the toggle. The log itself is read-only: rows are written by services.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from redis.exceptions import RedisError

from tokens import services
from tokens.bucket import REASON_MAX_LENGTH
from tokens.models import RechargeEvent
from tokens.reporting import progress_bar, render


@admin.register(RechargeEvent)
class RechargeEventAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "action",
        "actor",
        "user",
        "old_state",
        "new_state",
        "tokens",
        "refill_rate",
        "reason",
    )
    list_filter = ("action", "actor", "new_state")
    search_fields = ("reason", "user__username")
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        toggle = path(
            "toggle/", self.admin_site.admin_view(self.toggle_view), name="tokens_rechargeevent_toggle"
        )
        return [toggle, *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        context = {"can_toggle_recharge": request.user.has_perm("tokens.toggle_recharge")}
        context["reason_max_length"] = REASON_MAX_LENGTH
        try:
            current = services.get_bucket().status()
        except RedisError as exc:
            context["bucket_error"] = f"the token bucket is unreachable ({type(exc).__name__})"
        else:
            context.update(
                bucket=current, bucket_text=render(current), bar=progress_bar(current.recharge_progress)
            )
        return super().changelist_view(request, extra_context={**context, **(extra_context or {})})

    def toggle_view(self, request):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not request.user.has_perm("tokens.toggle_recharge"):
            raise PermissionDenied
        back = HttpResponseRedirect(reverse("admin:tokens_rechargeevent_changelist"))
        active = request.POST.get("active")
        reason = request.POST.get("reason", "").strip()
        if active not in ("on", "off"):
            self.message_user(request, "Choose whether to turn recharge mode on or off.", messages.ERROR)
            return back
        if not reason or len(reason) > REASON_MAX_LENGTH:
            self.message_user(
                request, f"Give a reason of 1 to {REASON_MAX_LENGTH} characters.", messages.ERROR
            )
            return back
        try:
            current = services.set_recharge(
                services.get_bucket(), active=active == "on", reason=reason, actor="admin", user=request.user
            )
        except RedisError as exc:
            self.message_user(
                request, f"The token bucket is unreachable ({type(exc).__name__}).", messages.ERROR
            )
            return back
        self.message_user(request, f"Token bucket is now {current.state}.", messages.SUCCESS)
        return back
