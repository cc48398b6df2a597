"""The seller's business costs as the rest of the system reads them: one database row.

The environment gives the row its first values only, when it is first read (so a fresh
database, a flushed test database and a deploy all start from the same defaults); after
that staff edit the row in the admin (``services.update_costs``) and the row is the truth.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from deals.models import BusinessCosts
from deals.pricing import BusinessRules


def defaults_from_settings() -> dict[str, Any]:
    """The first values of the row: ``DEALSITE_BUSINESS`` and ``DEALSITE_VERIFICATION``."""
    business, verification = settings.DEALSITE_BUSINESS, settings.DEALSITE_VERIFICATION
    return {
        "tax_percent": 0 if business["TAX_EXEMPT"] else business["TAX_PERCENT"],
        "prep_fee_cents": business["PREP_FEE_CENTS"],
        "inbound_shipping_cents": business["INBOUND_SHIPPING_CENTS"],
        "default_fba_fee_cents": business["DEFAULT_FBA_FEE_CENTS"],
        "default_referral_percent": business["DEFAULT_REFERRAL_PERCENT"],
        "markup_percent": business["MARKUP_PERCENT"],
        "min_profit_cents": verification["MIN_PROFIT_CENTS"],
        "min_roi_percent": verification["MIN_ROI_PERCENT"],
        "acceptable_conditions": sorted(set(verification["CONDITIONS"])),
    }


def current_costs() -> BusinessCosts:
    """The costs row, created from the settings' defaults on first read."""
    costs = BusinessCosts.objects.filter(pk=BusinessCosts.ROW_ID).first()
    if costs is not None:
        return costs
    try:
        with transaction.atomic():
            return BusinessCosts.objects.create(pk=BusinessCosts.ROW_ID, **defaults_from_settings())
    except IntegrityError:  # another process created it first
        return BusinessCosts.objects.get(pk=BusinessCosts.ROW_ID)


def current_rules() -> BusinessRules:
    return current_costs().rules()
