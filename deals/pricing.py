"""The cost and profit arithmetic: fees, profit, margin, ROI, the repricer floor (prices are
parsed by ``deals.money``).

Pure functions on integer cents and Decimal percentages; no float ever holds money.
Rounding rule: every derived cent amount (tax, referral fee) is rounded half-up to the cent
on its own, and percentages are rounded half-up to two decimals.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings

CENT = Decimal("0.01")


def percent_of(cents: int, percent: Decimal) -> int:
    """``percent`` % of ``cents``, rounded half-up to the cent."""
    return int((Decimal(cents) * percent / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def ratio_percent(numerator: int, denominator: int) -> Decimal | None:
    """numerator / denominator as a percentage with two decimals (None if undefined)."""
    if denominator <= 0:
        return None
    return (Decimal(numerator) * 100 / Decimal(denominator)).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class BusinessRules:
    prep_fee_cents: int = 275
    inbound_shipping_cents: int = 399
    tax_percent: Decimal = Decimal("5")
    tax_exempt: bool = False
    default_fba_fee_cents: int = 550
    default_referral_percent: Decimal = Decimal("15")
    markup_percent: Decimal = Decimal("10")

    @classmethod
    def from_settings(cls) -> BusinessRules:
        business = settings.DEALSITE_BUSINESS
        return cls(
            prep_fee_cents=business["PREP_FEE_CENTS"],
            inbound_shipping_cents=business["INBOUND_SHIPPING_CENTS"],
            tax_percent=Decimal(business["TAX_PERCENT"]),
            tax_exempt=business["TAX_EXEMPT"],
            default_fba_fee_cents=business["DEFAULT_FBA_FEE_CENTS"],
            default_referral_percent=Decimal(business["DEFAULT_REFERRAL_PERCENT"]),
            markup_percent=Decimal(business["MARKUP_PERCENT"]),
        )


@dataclass(frozen=True)
class Costs:
    tax_cents: int
    all_in_cost_cents: int
    referral_fee_cents: int
    fba_fee_cents: int
    amazon_fees_cents: int
    profit_cents: int
    margin_percent: Decimal | None
    roi_percent: Decimal | None
    min_list_price_cents: int | None


def compute_costs(
    *,
    price_now_cents: int,
    list_at_cents: int,
    fba_fee_cents: int | None,
    referral_percent: Decimal | None,
    rules: BusinessRules,
    shipping_included: bool = False,
) -> Costs:
    """All-in cost, Amazon's fees and the profit of buying at ``price_now`` and listing at
    ``list_at``. Keepa's fees win; the business defaults stand in when Keepa lacks them."""
    tax = 0 if rules.tax_exempt else percent_of(price_now_cents, rules.tax_percent)
    shipping = 0 if shipping_included else rules.inbound_shipping_cents
    all_in = price_now_cents + tax + rules.prep_fee_cents + shipping
    fba = rules.default_fba_fee_cents if fba_fee_cents is None else fba_fee_cents
    referral_rate = rules.default_referral_percent if referral_percent is None else referral_percent
    referral = percent_of(list_at_cents, referral_rate)
    fees = referral + fba
    profit = list_at_cents - all_in - fees
    markup = percent_of(all_in, rules.markup_percent)
    return Costs(
        tax_cents=tax,
        all_in_cost_cents=all_in,
        referral_fee_cents=referral,
        fba_fee_cents=fba,
        amazon_fees_cents=fees,
        profit_cents=profit,
        margin_percent=ratio_percent(profit, list_at_cents),
        roi_percent=ratio_percent(profit, all_in),
        min_list_price_cents=min_list_price(all_in + fba + markup, referral_rate),
    )


def feed_promise_cents(
    used_now_cents: int | None, used_average_cents: int | None, rules: BusinessRules
) -> int | None:
    """The profit the deal finder's own prices promise, before a token buys the statistics:
    bought at the feed's current used price, listed at its 90-day used average, with the
    business's default fees. A rough guess (the statistics pass lists at the inferred
    sales), good for ranking candidates; None without both prices."""
    if not used_now_cents or not used_average_cents or min(used_now_cents, used_average_cents) < 0:
        return None
    return compute_costs(
        price_now_cents=used_now_cents,
        list_at_cents=used_average_cents,
        fba_fee_cents=None,
        referral_percent=None,
        rules=rules,
    ).profit_cents


def min_list_price(needed_cents: int, referral_percent: Decimal) -> int | None:
    """The repricer floor: the lowest List at (whole cents) that still brings ``needed_cents``
    (all-in cost, FBA fee and the markup on the all-in cost) once Amazon takes its referral
    share of it. None when the referral takes everything.

    Solved, not searched: with r the referral in hundredths of a percent, the referral on L is
    floor(L*r/10000 + 1/2), so L - referral >= needed exactly when
    L * (10000 - r) > 10000 * needed - 5000. ``deals.costs`` runs the same formula in SQL.
    """
    rate = int(referral_percent * 100)
    if rate >= 10000:
        return None
    return max(1, (10000 * needed_cents - 5000) // (10000 - rate) + 1)


def percent_below(price_now_cents: int, average_cents: int) -> Decimal | None:
    """How far the price now is below the 1yr average, in percent (negative if above)."""
    return ratio_percent(average_cents - price_now_cents, average_cents)
