"""The business costs admin: one row staff edit, with its history (who changed what, and
revert). Money is edited in dollars; a save goes through ``services.update_costs``, which
recalculates every deal in the same transaction and says how many. Imported by
``deals.admin`` so Django's admin discovery registers it.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.urls import reverse

from deals import services
from deals.costs import current_costs
from deals.history_admin import AuditedHistoryAdmin
from deals.keepa.facts import CONDITION_NAMES
from deals.models import BusinessCosts
from deals.money import DollarsField

DOLLAR_LABELS = {
    "prep_fee_cents": "Prep fee per book ($)",
    "inbound_shipping_cents": "Inbound shipping per book ($)",
    "default_fba_fee_cents": "FBA pick & pack when Keepa lacks it ($)",
    "min_profit_cents": "Minimum profit ($)",
}


class BusinessCostsForm(forms.ModelForm):
    acceptable_conditions = forms.TypedMultipleChoiceField(
        coerce=int,
        choices=sorted(CONDITION_NAMES.items()),
        widget=forms.CheckboxSelectMultiple,
        label="Acceptable conditions",
        help_text="Verification buys only offers in these conditions.",
        error_messages={"required": "Choose at least one condition."},
    )

    class Meta:
        model = BusinessCosts
        fields = (
            "tax_percent",
            "prep_fee_cents",
            "inbound_shipping_cents",
            "markup_percent",
            "default_fba_fee_cents",
            "default_referral_percent",
            "min_profit_cents",
            "min_roi_percent",
            "acceptable_conditions",
        )


@admin.register(BusinessCosts)
class BusinessCostsAdmin(AuditedHistoryAdmin):
    form = BusinessCostsForm
    readonly_fields = ("updated_at",)
    fieldsets = (
        (
            "Costs of a book (every deal follows: saving recalculates them all)",
            {
                "fields": (
                    "tax_percent",
                    "prep_fee_cents",
                    "inbound_shipping_cents",
                    "markup_percent",
                    "default_fba_fee_cents",
                    "default_referral_percent",
                )
            },
        ),
        (
            "What the seller buys",
            {"fields": ("min_profit_cents", "min_roi_percent", "acceptable_conditions")},
        ),
        (None, {"fields": ("updated_at",)}),
    )

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name in DOLLAR_LABELS:
            return DollarsField(label=DOLLAR_LABELS[db_field.name], help_text=db_field.help_text)
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def has_add_permission(self, request):
        return False  # the one row exists from its first read

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        """There is one row: the list is its page."""
        url = reverse("admin:deals_businesscosts_change", args=[current_costs().pk])
        return HttpResponseRedirect(url)

    def save_model(self, request, obj, form, change):
        recalculated = services.update_costs(obj, user=request.user)
        if recalculated is not None:
            self.message_user(request, f"Recalculated {recalculated:,} deals with the new costs.")

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ValidationError as exc:
            return self._refused(request, exc)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        try:
            return super().history_form_view(request, object_id, version_id, extra_context)
        except ValidationError as exc:
            return self._refused(request, exc)

    def _refused(self, request, exc: ValidationError):
        """The database refused the new figures of some deal: nothing was saved."""
        self.message_user(request, f"Not saved: {'; '.join(exc.messages)}", messages.ERROR)
        return HttpResponseRedirect(request.get_full_path())
