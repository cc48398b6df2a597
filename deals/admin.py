"""The Deal admin: the dashboard's columns for staff, edits through the one write path, an
audit history that says who changed what from what to what, and revert.

Staff edit the inputs (title, category, prices, fees, the List at override) in dollars; the
form validates the whole deal as ``deals.services`` will save it (recomputed, every field
and every database constraint), so a bad edit is a form error, never a 500. ``save_model``
writes through ``services.save_staff_edit`` / ``services.set_list_at_override`` with the
editor recorded. A revert (simple-history's history form) restores the editable inputs of
the chosen version onto the current row, through the same validation and service; Keepa's
data and the pipeline's bookkeeping stay current. Deals come from Keepa: no add, no delete.
The pipeline's own tables are registered by ``deals.pipeline_admin`` and the business
costs by ``deals.costs_admin`` (both imported below).
"""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db.models import F
from django.forms.models import construct_instance
from django.http import HttpResponseRedirect
from django.templatetags.static import static
from django.utils.html import format_html
from django.utils.text import capfirst

from deals import costs_admin, services  # noqa: F401  (costs_admin registers BusinessCosts)
from deals.history_admin import AuditedHistoryAdmin
from deals.models import Deal, Quality
from deals.money import DollarsField, format_cents
from deals.pipeline_admin import (  # also registers Candidate, DiscoverySelection, JobRun
    queue_refetch,
    queue_verification,
)
from tokens.clock import get_clock

#: What staff may edit; everything else is computed or comes from Keepa.
EDITABLE = (
    "title",
    "category",
    "price_now_cents",
    "one_year_avg_cents",
    "fba_fee_cents",
    "referral_percent",
    "list_at_override_cents",
)
DOLLAR_LABELS = {
    "price_now_cents": "Price now ($)",
    "one_year_avg_cents": "1yr avg ($)",
    "fba_fee_cents": "FBA pick & pack ($)",
    "list_at_override_cents": "List at, staff override ($)",
}


def format_percent(value: Decimal | None) -> str:
    return "-" if value is None else f"{value}%"


def form_label(name: str) -> str:
    """A deal field's name as this form says it: money in dollars, as staff type it."""
    if name in DOLLAR_LABELS:
        return DOLLAR_LABELS[name]
    return capfirst(str(Deal._meta.get_field(name).verbose_name).replace("(¢)", "($)"))


def labelled(name: str, error: str) -> str:
    """An error about a computed field, said once: the rule's own words when they already
    name the field, else the field's label (in dollars) before them."""
    label = form_label(name)
    bare = label.removesuffix(" ($)")
    error = error.replace(" (¢)", "")
    if error.lower().startswith(bare.lower()):
        return error
    return f"{label}: {error}"


class DealAdminForm(forms.ModelForm):
    """Validates the deal as it will be saved: the stored row with the staff's changes,
    recomputed by ``services.recompute``, then ``full_clean`` and every constraint.

    ``revert_version`` is set for simple-history's revert form: there every editable field
    is taken from the old version (onto the current row), not only the changed ones.
    """

    revert_version: str | None = None

    class Meta:
        model = Deal
        fields = EDITABLE

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "title" in self.fields:  # a view-only page has no inputs
            # Keepa may leave a title blank; staff saving the deal may not.
            self.fields["title"].required = True
            self.fields["title"].error_messages["required"] = "A deal needs a title."

    def changes(self) -> list[str]:
        """The fields this save takes from the form."""
        if self.revert_version:
            return [name for name in self._meta.fields if name in self.cleaned_data]
        return [name for name in self.changed_data if name in self._meta.fields]

    def clean(self):
        cleaned = super().clean()
        if self.errors or not self.instance.pk:
            return cleaned
        self._validate_as_saved(self.target())
        return cleaned

    def target(self) -> Deal:
        """The stored row as it is now, with this form's changes applied."""
        deal = Deal.objects.get(pk=self.instance.pk)
        for name in self.changes():
            setattr(deal, name, self.cleaned_data[name])
        return deal

    def _validate_as_saved(self, deal: Deal) -> None:
        services.recompute(deal)  # on a throwaway copy: the save recomputes for itself
        try:
            deal.full_clean(validate_unique=False, validate_constraints=False)
        except ValidationError as exc:
            for name, errors in exc.message_dict.items():
                if name not in self.fields and name != NON_FIELD_ERRORS:
                    errors = [labelled(name, error) for error in errors]
                self._attach(name, errors)
        try:
            deal.validate_constraints()
        except ValidationError as exc:
            # Each rule's own words, on the field deals.models gives it (or on the whole deal).
            for name, errors in exc.message_dict.items():
                self._attach(name, errors)

    def _attach(self, name: str, errors: list[str]) -> None:
        """A field in the form shows its first problem; anything else is about the deal."""
        if name in self.fields:
            if name not in self.errors:
                self.add_error(name, errors[0])
            return
        for error in errors:
            if error not in self.non_field_errors():
                self.add_error(None, error)

    def _post_clean(self):
        # The whole deal was validated in clean(), as the service will save it; the model
        # validation of the bare instance would only repeat those errors less clearly.
        try:
            self.instance = construct_instance(self, self.instance, self._meta.fields, self._meta.exclude)
        except ValidationError as exc:
            self._update_errors(exc)


class ShownOnDashboardFilter(admin.SimpleListFilter):
    """The dashboard's own rule (``Deal.objects.displayable()`` and friends), not a copy."""

    title = "shown on dashboard"
    parameter_name = "dashboard"

    def lookups(self, request, model_admin):
        return [
            ("displayable", "Displayable (shown)"),
            ("zombie", "Zombie (live but hidden)"),
            ("incomplete", "Incomplete, repair due"),
            ("unrepairable", "Unrepairable"),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "displayable":
            return queryset.displayable()
        if value == "zombie":
            return queryset.zombies()
        if value == "incomplete":
            return queryset.incomplete(now=get_clock().now())
        if value == "unrepairable":
            return queryset.filter(quality=Quality.UNREPAIRABLE)
        return queryset


def _money(field: str, description: str):
    @admin.display(description=description, ordering=field)
    def show(self, obj):
        return format_cents(getattr(obj, field))

    return show


@admin.register(Deal)
class DealAdmin(AuditedHistoryAdmin):
    form = DealAdminForm
    list_display = (
        "asin",
        "short_title",
        "category",
        "sales_rank",
        "price_now",
        "one_year_avg",
        "list_at",
        "list_at_computed",
        "profit",
        "margin",
        "roi",
        "quality",
        "verification",
        "fetched_at",
    )
    list_display_links = ("asin", "short_title")
    list_filter = (
        ShownOnDashboardFilter,
        "verification",
        "fulfillment",
        "quality",
        "category",
        "list_at_suspicious",
        "amazon_sells",
        ("list_at_override_cents", admin.EmptyFieldListFilter),
        "fetched_at",
    )
    search_fields = ("^asin", "title")
    ordering = (F("profit_cents").desc(nulls_last=True), "asin")
    show_full_result_count = False
    list_per_page = 50
    actions = ["refetch_from_keepa", "verify_now"]
    fieldsets = (
        (
            None,
            {"fields": ("asin", "title", "category", "binding", "condition", "sales_rank", "amazon_sells")},
        ),
        (
            "Prices (edit in dollars)",
            {
                "fields": (
                    "price_now_cents",
                    "one_year_avg_cents",
                    "one_year_avg_source",
                    "percent_down_display",
                )
            },
        ),
        (
            "List at (the override wins over the computed value until cleared)",
            {
                "fields": (
                    "list_at_override_cents",
                    "list_at_computed",
                    "list_at_effective",
                    "list_at_check",
                )
            },
        ),
        (
            "Fees and results",
            {
                "fields": (
                    "fba_fee_cents",
                    "referral_percent",
                    "amazon_fees",
                    "all_in_cost",
                    "profit",
                    "margin",
                    "roi",
                )
            },
        ),
        (
            "Live offer (read-only: what the last verification found)",
            {
                "fields": (
                    "verification",
                    "verification_reason",
                    "verified_at",
                    "checked_at",
                    "buy_price",
                    "shipping",
                    "condition_code",
                    "fulfillment",
                    "seller_id",
                    "seller_name",
                    "seller_score",
                    "live_used_offers",
                    "checked_used_price",
                )
            },
        ),
        (
            "Data quality",
            {
                "fields": (
                    "quality",
                    "quality_reason",
                    "repair_attempts",
                    "next_repair_at",
                    "expired_at",
                    "expired_reason",
                )
            },
        ),
        (
            "Keepa and timestamps",
            {
                "fields": (
                    "keepa_updated_at",
                    "fetched_at",
                    "created_at",
                    "updated_at",
                    "sales_rank_drops_30",
                    "used_offer_count",
                    "peak_season",
                    "trough_season",
                    "expected_trough",
                    "deal_trust_percent",
                    "category_id",
                    "used_price_history",
                ),
                "classes": ("collapse",),
            },
        ),
    )

    price_now = _money("price_now_cents", "price now")
    one_year_avg = _money("one_year_avg_cents", "1yr avg")
    expected_trough = _money("expected_trough_cents", "expected trough")
    list_at_computed = _money("list_at_computed_cents", "List at, computed")
    list_at_effective = _money("list_at_cents", "List at (effective)")
    profit = _money("profit_cents", "profit")
    all_in_cost = _money("all_in_cost_cents", "all-in cost")
    amazon_fees = _money("amazon_fees_cents", "Amazon fees")
    buy_price = _money("buy_price_cents", "buy price (item + shipping)")
    shipping = _money("shipping_cents", "shipping")
    checked_used_price = _money("checked_used_price_cents", "used price now when checked")

    def get_readonly_fields(self, request, obj=None):
        shown = flatten_fieldsets(self.fieldsets)
        return [name for name in shown if name not in EDITABLE]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name in DOLLAR_LABELS:
            return DollarsField(
                label=DOLLAR_LABELS[db_field.name], required=False, help_text=db_field.help_text
            )
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    # --- list columns ------------------------------------------------------------------
    @admin.display(description="title", ordering="title")
    def short_title(self, obj):
        return obj.title if len(obj.title) <= 60 else f"{obj.title[:59]}…"

    @admin.display(description="List at", ordering="list_at_cents")
    def list_at(self, obj):
        if obj.list_at_override_cents is None:
            return format_cents(obj.list_at_cents)
        return format_html(
            '{} <span class="deal-override" title="staff override; computed {}">(override)</span>',
            format_cents(obj.list_at_cents),
            format_cents(obj.list_at_computed_cents),
        )

    @admin.display(description="margin", ordering="margin_percent")
    def margin(self, obj):
        return format_percent(obj.margin_percent)

    @admin.display(description="ROI", ordering="roi_percent")
    def roi(self, obj):
        return format_percent(obj.roi_percent)

    @admin.display(description="List at check")
    def list_at_check(self, obj):
        """A suspicious List at is a warning, not a green tick (a tick reads as "fine")."""
        if obj.list_at_suspicious:
            return format_html(
                '<span class="deal-suspicious"><img src="{}" alt="Warning"> Suspicious: {}</span>',
                static("admin/img/icon-alert.svg"),
                Deal._meta.get_field("list_at_suspicious").help_text,
            )
        return "Not suspicious"

    @admin.display(description="% below 1yr avg")
    def percent_down_display(self, obj):
        return format_percent(obj.percent_down)

    # --- permissions: deals come from Keepa and are never deleted ------------------------
    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    # --- writes go through deals.services ------------------------------------------------
    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        version = getattr(request, "_deal_revert_version", None)
        if version is not None:
            form = type("DealRevertForm", (form,), {"revert_version": version})
        return form

    def save_model(self, request, obj, form, change):
        changed = form.changes()
        if form.revert_version:
            reason = f"revert to version {form.revert_version}"
        elif changed == ["list_at_override_cents"]:
            cents = form.cleaned_data["list_at_override_cents"]
            reason = "List at override cleared" if cents is None else "List at override set"
            services.set_list_at_override(obj, cents, user=request.user, reason=reason)
            return
        else:
            reason = "staff edit: " + ", ".join(changed)
        services.save_staff_edit(form.target(), user=request.user, reason=reason)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ValidationError as exc:
            return self._refused(request, exc)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        """simple-history's revert; it checks view permission only, so a POST also needs
        change permission here."""
        if request.method == "POST" and not self.has_change_permission(request):
            raise PermissionDenied
        request._deal_revert_version = version_id
        try:
            return super().history_form_view(request, object_id, version_id, extra_context)
        except ValidationError as exc:
            return self._refused(request, exc)

    def _refused(self, request, exc: ValidationError):
        """The service refused a save the form had accepted (the row changed meanwhile)."""
        self.message_user(request, f"Not saved: {'; '.join(exc.messages)}", messages.ERROR)
        return HttpResponseRedirect(request.get_full_path())

    # --- actions ----------------------------------------------------------------------
    @admin.action(description="Re-fetch from Keepa now", permissions=["change"])
    def refetch_from_keepa(self, request, queryset):
        queue_refetch(self, request, list(queryset.values_list("asin", flat=True)))

    @admin.action(
        description="Verify now against live offers (costs about 6 tokens a deal, +1 per new seller)",
        permissions=["change"],
    )
    def verify_now(self, request, queryset):
        queue_verification(self, request, list(queryset.values_list("asin", flat=True)))
