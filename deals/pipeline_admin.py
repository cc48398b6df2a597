"""Admin for the pipeline's tables: the backlog, the deal-finder selection, job runs and the
seller cache.

Registered from deals/admin.py. Staff edit the selection (validated by the model's
``clean``, audited by simple-history); the rest is read-only operational state.
"""

from __future__ import annotations

from django.contrib import admin, messages
from redis.exceptions import RedisError

from deals.history_admin import AuditedHistoryAdmin
from deals.jobs import enqueue_refetch, enqueue_verification
from deals.keepa.facts import OFFERS_PAGE_COST
from deals.models import Candidate, DiscoverySelection, JobRun, Seller
from deals.money import format_cents


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


def queue_verification(model_admin: admin.ModelAdmin, request, asins: list[str]) -> None:
    """Staff's "verify now": a job reads the deals' live offers, whatever their rank."""
    try:
        enqueue_verification(asins)
    except RedisError as exc:
        model_admin.message_user(
            request,
            f"The job queue is unreachable ({type(exc).__name__}): nothing was verified. "
            "The deals keep their place in the verification ranking.",
            messages.ERROR,
        )
        return
    model_admin.message_user(
        request,
        f"{len(asins)} deal(s) queued for verification against live offers: about "
        f"{OFFERS_PAGE_COST * len(asins)} tokens, more for many offers or new sellers.",
        messages.SUCCESS,
    )


@admin.register(Candidate)
class CandidateAdmin(admin.ModelAdmin):
    list_display = (
        "asin",
        "status",
        "source",
        "priority",
        "feed_promise",
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

    @admin.display(description="feed promise", ordering="feed_profit_cents")
    def feed_promise(self, candidate: Candidate) -> str:
        return format_cents(candidate.feed_profit_cents)

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Re-fetch from Keepa now", permissions=["change"])
    def retry_now(self, request, queryset):
        queue_refetch(self, request, list(queryset.values_list("asin", flat=True)))


@admin.register(DiscoverySelection)
class DiscoverySelectionAdmin(AuditedHistoryAdmin):
    list_display = ("name", "active", "watermark", "last_scan_at")
    readonly_fields = ("watermark", "last_scan_at", "scan_cursor")


@admin.register(JobRun)
class JobRunAdmin(admin.ModelAdmin):
    list_display = ("kind", "outcome", "started_at", "finished_at", "counted", "tokens_consumed", "detail")
    list_filter = ("kind", "outcome")
    readonly_fields = [f.name for f in JobRun._meta.fields]

    @admin.display(description="processed", ordering="processed")
    def counted(self, obj: JobRun) -> str:
        return obj.processed_text

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Seller)
class SellerAdmin(admin.ModelAdmin):
    """The /seller cache verification reads: what each seller's score rests on."""

    list_display = ("seller_id", "name", "rating_percent", "rating_count", "found", "fetched_at")
    list_filter = ("found",)
    search_fields = ("seller_id", "name")
    readonly_fields = [f.name for f in Seller._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
