"""Admin for the pipeline's tables: the backlog, the deal-finder selection and job runs.

Registered from deals/admin.py. Staff edit the selection (validated by the model's
``clean``, audited by simple-history); the rest is read-only operational state.
"""

from __future__ import annotations

from django.contrib import admin, messages
from redis.exceptions import RedisError
from simple_history.admin import SimpleHistoryAdmin

from deals.jobs import enqueue_refetch
from deals.models import Candidate, DiscoverySelection, JobRun


def queue_refetch(model_admin: admin.ModelAdmin, request, asins: list[str]) -> None:
    """Staff's "re-fetch now": the candidates are marked in the database first, so a queue
    that cannot be reached delays the fetch to the next scheduled backfill but loses nothing."""
    try:
        count = enqueue_refetch(asins)
    except RedisError as exc:
        model_admin.message_user(
            request,
            f"{len(asins)} ASIN(s) marked for a fresh fetch, but the job queue is unreachable "
            f"({type(exc).__name__}); the next scheduled backfill will fetch them.",
            messages.WARNING,
        )
        return
    model_admin.message_user(
        request, f"{count} ASIN(s) queued for a fresh fetch from Keepa (top priority).", messages.SUCCESS
    )


@admin.register(Candidate)
class CandidateAdmin(admin.ModelAdmin):
    list_display = (
        "asin",
        "status",
        "source",
        "priority",
        "due_at",
        "attempts",
        "last_error",
        "discovered_at",
    )
    list_filter = ("status", "source")
    search_fields = ("asin",)
    ordering = ("status", "-priority", "due_at")
    readonly_fields = [f.name for f in Candidate._meta.fields]
    actions = ["retry_now"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Re-fetch from Keepa now", permissions=["change"])
    def retry_now(self, request, queryset):
        queue_refetch(self, request, list(queryset.values_list("asin", flat=True)))


@admin.register(DiscoverySelection)
class DiscoverySelectionAdmin(SimpleHistoryAdmin):
    list_display = ("name", "active", "watermark", "last_scan_at")
    readonly_fields = ("watermark", "last_scan_at", "scan_cursor")


@admin.register(JobRun)
class JobRunAdmin(admin.ModelAdmin):
    list_display = ("kind", "outcome", "started_at", "finished_at", "processed", "tokens_consumed", "detail")
    list_filter = ("kind", "outcome")
    readonly_fields = [f.name for f in JobRun._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
