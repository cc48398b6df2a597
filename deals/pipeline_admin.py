"""Admin for the pipeline's tables: the backlog, the deal-finder selection and job runs.

Registered from deals/admin.py. Staff edit the selection (validated by the model's
``clean``, audited by simple-history); the rest is read-only operational state.
"""

from __future__ import annotations

from django.contrib import admin, messages
from simple_history.admin import SimpleHistoryAdmin

from deals.models import Candidate, DiscoverySelection, JobRun


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

    @admin.action(description="Fetch again now (top priority, cache ignored)")
    def retry_now(self, request, queryset):
        from deals.jobs import enqueue_refetch

        count = enqueue_refetch(list(queryset.values_list("asin", flat=True)))
        self.message_user(request, f"{count} ASIN(s) queued for a fresh fetch.", messages.SUCCESS)


@admin.register(DiscoverySelection)
class DiscoverySelectionAdmin(SimpleHistoryAdmin):
    list_display = ("name", "active", "watermark", "last_scan_at")
    readonly_fields = ("watermark", "last_scan_at")


@admin.register(JobRun)
class JobRunAdmin(admin.ModelAdmin):
    list_display = ("kind", "outcome", "started_at", "finished_at", "processed", "tokens_consumed", "detail")
    list_filter = ("kind", "outcome")
    readonly_fields = [f.name for f in JobRun._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
