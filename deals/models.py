"""The deal domain's tables.

Money is integer cents and percentages are Decimal; database constraints make impossible
rows impossible whichever path writes them. ``Deal.objects`` is unfiltered so staff can see
and repair zombies; ``displayable()`` is the one zombie rule, applied in SQL.
"""

from __future__ import annotations

from contextlib import nullcontext
from datetime import datetime

from django.conf import settings
from django.core.exceptions import FieldError, ValidationError
from django.db import DatabaseError, connections, models, router, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.db.models.sql import Query
from django.db.models.sql.constants import SINGLE
from django.utils import timezone
from simple_history.models import HistoricalRecords

from deals.audit import ActorHistory
from deals.keepa.facts import ASIN_PATTERN, CONDITION_NAMES
from deals.pricing import BusinessRules
from deals.selection import validate_selection

MARGIN_FLOOR = -10000  # percent: costs a hundred times the List at is nonsense, not a deal


class Quality(models.TextChoices):
    COMPLETE = "complete", "Complete"
    INCOMPLETE = "incomplete", "Incomplete"
    UNREPAIRABLE = "unrepairable", "Unrepairable"


class Verification(models.TextChoices):
    """Whether a live offer backs the deal: an estimate rests on Keepa's statistics alone; a
    deal with no acceptable live offer at a profit is hidden on purpose (not a zombie)."""

    ESTIMATE = "estimate", "Estimate"
    VERIFIED = "verified", "Verified"
    NO_OFFER = "no_offer", "No acceptable offer"


class AverageSource(models.TextChoices):
    """Where the 1yr average came from: the sales inferred from the history, or, without a
    sale in the year, Keepa's 365-day Used listing average (shown as an estimate)."""

    SALES = "sales", "Inferred sales"
    KEEPA = "keepa", "Estimate (Keepa's listing average)"


class Fulfillment(models.TextChoices):
    FBA = "FBA", "Fulfilled by Amazon"
    MFN = "MFN", "Merchant fulfilled"
    AMAZON = "Amazon", "Sold by Amazon"


#: THE zombie rule: what the API, the dashboard, the admin filter and diagnostics show. A
#: deal is bought at its price now (an estimate) or its offer's buy price (verified): either
#: missing or $0 would be a book "bought" for nothing, so it is never shown.
DISPLAYABLE = Q(
    quality=Quality.COMPLETE,
    expired_at__isnull=True,
    profit_cents__gt=0,
    list_at_cents__gt=0,
    one_year_avg_cents__gt=0,
    price_now_cents__gt=0,
    verification__in=(Verification.ESTIMATE, Verification.VERIFIED),
) & (Q(verification=Verification.ESTIMATE) | Q(buy_price_cents__gt=0))


#: What the list shows unless asked for estimates too: displayable and confirmed by an offer.
LISTED = DISPLAYABLE & Q(verification=Verification.VERIFIED)


#: What the repair job must fix: hidden for missing or nonsensical data, not given up on, not
#: expired. Its index holds only these few rows, so a recalculation of every deal barely
#: touches it.
NEEDS_REPAIR = (
    (
        Q(quality=Quality.INCOMPLETE)
        | Q(list_at_cents__isnull=True)
        | Q(one_year_avg_cents__isnull=True)
        | Q(profit_cents__isnull=True)
        | Q(price_now_cents__isnull=True)
    )
    & Q(expired_at__isnull=True)
    & ~Q(quality=Quality.UNREPAIRABLE)
)


class DealQuerySet(models.QuerySet):
    def displayable(self) -> DealQuerySet:
        return self.filter(DISPLAYABLE)

    def zombies(self) -> DealQuerySet:
        """Live deals the rule hides (expired ones and ones without an acceptable offer are
        hidden on purpose, not zombies)."""
        return (
            self.filter(expired_at__isnull=True)
            .exclude(verification=Verification.NO_OFFER)
            .exclude(DISPLAYABLE)
        )

    def verified(self) -> DealQuerySet:
        return self.filter(verification=Verification.VERIFIED)

    def incomplete(self, *, now: datetime) -> DealQuerySet:
        """``NEEDS_REPAIR`` and due for another attempt."""
        return self.filter(NEEDS_REPAIR).filter(Q(next_repair_at__isnull=True) | Q(next_repair_at__lte=now))


class FieldCheckConstraint(models.CheckConstraint):
    """A check constraint that belongs to one field: model validation reports its message
    (``violation_error_message``) on ``field``, so a form shows it beside that input.

    The field is not schema: migrations see a plain ``CheckConstraint``."""

    def __init__(self, *, field: str, **kwargs):
        super().__init__(**kwargs)
        self.field = field

    def validate(self, model, instance, **kwargs):
        try:
            super().validate(model, instance, **kwargs)
        except ValidationError as exc:
            raise self.placed(exc) from None

    def placed(self, error: ValidationError) -> ValidationError:
        """``error`` reported on this constraint's field."""
        return ValidationError({self.field: error.error_list})

    def deconstruct(self):
        _, args, kwargs = super().deconstruct()
        return "django.db.models.CheckConstraint", args, kwargs

    def clone(self):
        _, args, kwargs = self.deconstruct()
        return type(self)(*args, field=self.field, **kwargs)


def _violation(constraint: models.CheckConstraint) -> ValidationError:
    """What ``constraint.validate`` raises when its condition fails."""
    error = ValidationError(constraint.get_violation_error_message(), code=constraint.violation_error_code)
    return constraint.placed(error) if isinstance(constraint, FieldCheckConstraint) else error


def _check_verdicts(instance, model_class, constraints, exclude, using) -> dict[str, bool]:
    """Whether each check constraint holds for ``instance``, by constraint name, from one
    ``SELECT`` of all their conditions where Django's ``Q.check`` runs one query each.

    The semantics are ``Q.check``'s: a condition that is NULL passes, as in the database's
    CHECK; one naming an excluded field passes untested. When the query fails the answer is
    empty, leaving every constraint to its own ``validate`` (which lets it pass, logged).
    """
    checks = [c for c in constraints if isinstance(c, models.CheckConstraint)]
    if not checks:
        return {}
    connection = connections[using]
    query = Query(None)
    for name, value in instance._get_field_expression_map(meta=model_class._meta, exclude=exclude).items():
        query.add_annotation(value, name, select=False)
    verdicts, selected = {}, []
    for check in checks:
        condition = Q(check.condition)
        if connection.features.supports_comparing_boolean_expr:
            condition = Coalesce(condition, True, output_field=models.BooleanField())
        try:
            query.add_annotation(condition, f"_check_{len(selected)}")
        except FieldError:
            verdicts[check.name] = True
            continue
        selected.append(check.name)
    if not selected:
        return verdicts
    savepoint = transaction.atomic(using=using) if connection.in_atomic_block else nullcontext()
    try:
        with savepoint:
            row = query.get_compiler(using=using).execute_sql(SINGLE)
    except DatabaseError:
        return {}
    verdicts.update(zip(selected, (bool(holds) for holds in row), strict=True))
    return verdicts


class ChecksInOneQuery(models.Model):
    """Model validation that asks the database about all the check constraints at once.

    The deal write path runs ``full_clean`` on every save, and Django's one query per check
    constraint (~23 on a deal) was most of a save's time. The errors are Django's: the same
    messages on the same fields, in the same order; other kinds of constraint are validated
    by Django as ever.
    """

    class Meta:
        abstract = True

    def validate_constraints(self, exclude=None):
        using = router.db_for_write(self.__class__, instance=self)
        errors = {}
        for model_class, constraints in self.get_constraints():
            verdicts = _check_verdicts(self, model_class, constraints, exclude, using)
            for constraint in constraints:
                try:
                    if constraint.name not in verdicts:
                        constraint.validate(model_class, self, exclude=exclude, using=using)
                    elif not verdicts[constraint.name]:
                        raise _violation(constraint)
                except ValidationError as e:
                    if getattr(e, "code", None) == "unique" and len(constraint.fields) == 1:
                        errors.setdefault(constraint.fields[0], []).append(e)
                    else:
                        errors = e.update_error_dict(errors)
        if errors:
            raise ValidationError(errors)


def _non_negative(**labels: str) -> list[FieldCheckConstraint]:
    return _against_zero("gte", "not_negative", "must not be negative.", labels)


def _positive(**labels: str) -> list[FieldCheckConstraint]:
    return _against_zero("gt", "positive", "must be more than $0.", labels)


def _against_zero(lookup: str, rule: str, words: str, labels: dict[str, str]) -> list[FieldCheckConstraint]:
    """One rule per field comparing it with 0; NULL passes ("no value" is not a bad value)."""
    return [
        FieldCheckConstraint(
            condition=Q(**{f"{name}__isnull": True}) | Q(**{f"{name}__{lookup}": 0}),
            name=f"deal_{name}_{rule}",
            violation_error_message=f"{label} {words}",
            field=name,
        )
        for name, label in labels.items()
    ]


class Deal(ChecksInOneQuery):
    """One ASIN and everything the dashboard shows about buying it used and reselling it."""

    Quality = Quality
    Verification = Verification
    AverageSource = AverageSource
    Fulfillment = Fulfillment

    asin = models.CharField("ASIN", max_length=10, unique=True)
    title = models.CharField(max_length=500, blank=True)
    category = models.CharField(max_length=200, blank=True)
    category_id = models.BigIntegerField(null=True, blank=True)
    binding = models.CharField(max_length=100, blank=True)
    condition = models.CharField(max_length=40, default="Used")
    sales_rank = models.PositiveIntegerField(null=True, blank=True)
    sales_rank_drops_30 = models.PositiveIntegerField("rank drops (30 d)", null=True, blank=True)
    used_offer_count = models.PositiveIntegerField(null=True, blank=True)
    peak_season = models.CharField(max_length=20, blank=True)
    trough_season = models.CharField(
        max_length=20, blank=True, help_text="The month the inferred sales were cheapest: the time to buy."
    )
    expected_trough_cents = models.BigIntegerField(
        "expected trough (¢)", null=True, blank=True, help_text="The median sale price in the trough month."
    )
    deal_trust_percent = models.DecimalField(
        "deal trust %",
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Share of offer-count drops a sales-rank drop confirmed as a sale (two years).",
    )
    amazon_sells = models.BooleanField(default=False, help_text="Amazon itself offers the product.")

    price_now_cents = models.BigIntegerField("price now (¢)", null=True, blank=True)
    one_year_avg_cents = models.BigIntegerField("1yr avg (¢)", null=True, blank=True)
    one_year_avg_source = models.CharField(
        "1yr avg source", max_length=5, choices=AverageSource.choices, blank=True
    )
    list_at_cents = models.BigIntegerField("List at (¢)", null=True, blank=True)
    list_at_computed_cents = models.BigIntegerField("List at, computed (¢)", null=True, blank=True)
    list_at_override_cents = models.BigIntegerField(
        "List at, staff override (¢)",
        null=True,
        blank=True,
        help_text="Wins over the computed value until cleared; refreshes keep it.",
    )
    list_at_suspicious = models.BooleanField(
        default=False, help_text="List at is over 3x the used price now."
    )
    fba_fee_cents = models.BigIntegerField("FBA pick & pack (¢)", null=True, blank=True)
    referral_percent = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    all_in_cost_cents = models.BigIntegerField("all-in cost (¢)", null=True, blank=True)
    min_list_price_cents = models.BigIntegerField(
        "minimum listing price (¢)",
        null=True,
        blank=True,
        help_text="The repricer floor: the lowest List at that still makes the markup on the all-in cost.",
    )
    amazon_fees_cents = models.BigIntegerField("Amazon fees (¢)", null=True, blank=True)
    profit_cents = models.BigIntegerField("profit (¢)", null=True, blank=True)
    margin_percent = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    roi_percent = models.DecimalField("ROI %", max_digits=10, decimal_places=2, null=True, blank=True)
    percent_down = models.DecimalField(
        "% below 1yr avg", max_digits=10, decimal_places=2, null=True, blank=True
    )
    used_price_history = models.JSONField(default=list, blank=True, help_text="[[unix seconds, cents], ...]")
    # What the deal view draws and explains (deals.keepa.analytics.chart_history / list_at_basis).
    chart_history = models.JSONField(
        default=dict,
        blank=True,
        help_text="Two years of used, new and Amazon prices and sales rank, and the inferred sales.",
    )
    list_at_basis = models.JSONField(
        default=dict, blank=True, help_text="How List at was computed: sales, peak month, Amazon cap."
    )

    keepa_updated_at = models.DateTimeField(null=True, blank=True)
    fetched_at = models.DateTimeField(null=True, blank=True)
    # Set by services.py from the caller's clock; the defaults serve rows made by hand.
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    quality = models.CharField(max_length=12, choices=Quality.choices, default=Quality.INCOMPLETE)
    quality_reason = models.TextField(blank=True)
    repair_attempts = models.PositiveSmallIntegerField(default=0)
    next_repair_at = models.DateTimeField(null=True, blank=True)
    expired_at = models.DateTimeField(null=True, blank=True)
    expired_reason = models.CharField(max_length=300, blank=True)

    # What the live offers said (deals.verification): the offer a seller can buy.
    verification = models.CharField(
        max_length=10, choices=Verification.choices, default=Verification.ESTIMATE
    )
    verification_reason = models.CharField(max_length=300, blank=True)
    checked_at = models.DateTimeField(
        null=True, blank=True, help_text="When the live offers were last read, whatever they said."
    )
    verified_at = models.DateTimeField(null=True, blank=True, help_text="When a live offer confirmed it.")
    checked_used_price_cents = models.BigIntegerField(
        "used price now when checked (¢)",
        null=True,
        blank=True,
        help_text="Keepa's used price when the offers were read: a move makes the check stale.",
    )
    buy_price_cents = models.BigIntegerField(
        "buy price (¢)", null=True, blank=True, help_text="Item plus shipping of the offer."
    )
    shipping_cents = models.BigIntegerField("shipping (¢)", null=True, blank=True)
    condition_code = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Keepa's offer condition: 1 new, 2-5 used, 6 refurbished, 7-10 collectible.",
    )
    fulfillment = models.CharField(max_length=6, choices=Fulfillment.choices, blank=True)
    seller_id = models.CharField(max_length=40, blank=True)
    seller_name = models.CharField(max_length=200, blank=True)
    seller_score = models.DecimalField(
        max_digits=3,
        decimal_places=1,
        null=True,
        blank=True,
        help_text="0 to 10: the Wilson lower bound (95%) of the seller's positive ratings.",
    )
    live_used_offers = models.PositiveIntegerField(null=True, blank=True)

    # The charts are bulky and follow from Keepa's data: every refresh would copy them.
    history = HistoricalRecords(excluded_fields=["updated_at", "chart_history"], bases=[ActorHistory])
    objects = DealQuerySet.as_manager()

    class Meta:
        ordering = ["-profit_cents", "asin"]
        constraints = [
            FieldCheckConstraint(
                condition=Q(asin__regex=ASIN_PATTERN),
                name="deal_asin_format",
                violation_error_message="The ASIN must be 10 digits or upper-case letters.",
                field="asin",
            ),
            *_non_negative(
                fba_fee_cents="FBA pick & pack",
                all_in_cost_cents="All-in cost",
                amazon_fees_cents="Amazon fees",
                list_at_override_cents="List at, staff override",
            ),
            *_positive(
                price_now_cents="Price now",
                one_year_avg_cents="1yr avg",
                list_at_computed_cents="List at, computed",
                min_list_price_cents="Minimum listing price",
                expected_trough_cents="Expected trough",
            ),
            FieldCheckConstraint(
                condition=Q(deal_trust_percent__isnull=True)
                | Q(deal_trust_percent__gte=0, deal_trust_percent__lte=100),
                name="deal_deal_trust_percent_range",
                violation_error_message="Deal trust must be between 0 and 100 percent.",
                field="deal_trust_percent",
            ),
            FieldCheckConstraint(  # the computed List at has its own rule: $0 here is an override
                condition=Q(list_at_cents__isnull=True) | Q(list_at_cents__gt=0),
                name="deal_list_at_cents_positive",
                violation_error_message="List at must be more than $0.",
                field="list_at_override_cents",
            ),
            FieldCheckConstraint(
                condition=Q(referral_percent__isnull=True)
                | Q(referral_percent__gte=0, referral_percent__lte=100),
                name="deal_referral_percent_range",
                violation_error_message="Referral percent must be between 0 and 100.",
                field="referral_percent",
            ),
            models.CheckConstraint(
                condition=Q(margin_percent__isnull=True)
                | Q(margin_percent__gte=MARGIN_FLOOR, margin_percent__lte=100),
                name="deal_margin_sane",
                violation_error_message=f"The margin must be between {MARGIN_FLOOR} and 100 percent.",
            ),
            models.CheckConstraint(
                condition=Q(profit_cents__isnull=True)
                | Q(list_at_cents__isnull=True)
                | Q(all_in_cost_cents__isnull=True)
                | Q(amazon_fees_cents__isnull=True)
                | Q(profit_cents=F("list_at_cents") - F("all_in_cost_cents") - F("amazon_fees_cents")),
                name="deal_profit_matches_inputs",
                violation_error_message="The profit must be List at minus the all-in cost and Amazon fees.",
            ),
            models.CheckConstraint(
                condition=Q(list_at_override_cents__isnull=True)
                | Q(list_at_cents=F("list_at_override_cents")),
                name="deal_override_is_effective",
                violation_error_message="The List at override must be the effective List at.",
            ),
            FieldCheckConstraint(
                condition=Q(quality__in=Quality.values),
                name="deal_quality_valid",
                violation_error_message="The quality must be complete, incomplete or unrepairable.",
                field="quality",
            ),
            models.CheckConstraint(
                condition=~Q(quality=Quality.COMPLETE)
                | Q(
                    price_now_cents__isnull=False,
                    one_year_avg_cents__isnull=False,
                    list_at_cents__isnull=False,
                    profit_cents__isnull=False,
                ),
                name="deal_complete_has_its_inputs",
                violation_error_message="A complete deal needs price now, 1yr avg, List at and profit.",
            ),
            FieldCheckConstraint(
                condition=Q(verification__in=Verification.values),
                name="deal_verification_valid",
                violation_error_message="The verification must be estimate, verified or no acceptable offer.",
                field="verification",
            ),
            models.CheckConstraint(
                # buy_price_cents > 0 alone would be unknown (so passed) for a NULL buy price.
                condition=~Q(verification=Verification.VERIFIED)
                | Q(
                    buy_price_cents__isnull=False,
                    buy_price_cents__gt=0,
                    verified_at__isnull=False,
                    condition_code__isnull=False,
                ),
                name="deal_verified_has_its_offer",
                violation_error_message="A verified deal needs the offer's buy price, condition and time.",
            ),
            *_non_negative(shipping_cents="Shipping"),
            *_positive(buy_price_cents="Buy price"),
            FieldCheckConstraint(
                condition=Q(seller_score__isnull=True) | Q(seller_score__gte=0, seller_score__lte=10),
                name="deal_seller_score_range",
                violation_error_message="The seller score must be between 0 and 10.",
                field="seller_score",
            ),
        ]
        indexes = [
            # The dashboard's hot query: displayable deals, best profit first.
            models.Index(
                F("profit_cents").desc(), "asin", name="deal_displayable_profit_idx", condition=DISPLAYABLE
            ),
            models.Index(
                F("margin_percent").desc(), "asin", name="deal_displayable_margin_idx", condition=DISPLAYABLE
            ),
            models.Index("sales_rank", "asin", name="deal_displayable_rank_idx", condition=DISPLAYABLE),
            models.Index("next_repair_at", "id", name="deal_repair_due_idx", condition=NEEDS_REPAIR),
            # "New since your last visit": displayable deals created after a moment.
            models.Index("created_at", name="deal_displayable_created_idx", condition=DISPLAYABLE),
            # What the list shows by default (verified), best profit first, with every column a
            # seller filters on: the API's bounded count is an index-only scan whatever the
            # filters (it replaces 0003's covering index, whose predicate predates verification).
            models.Index(
                F("profit_cents").desc(),
                "asin",
                name="deal_listed_profit_cover_idx",
                condition=LISTED,
                include=[
                    "sales_rank",
                    "margin_percent",
                    "roi_percent",
                    "percent_down",
                    "sales_rank_drops_30",
                    "deal_trust_percent",
                    "seller_score",
                    "amazon_sells",
                    "fulfillment",
                ],
            ),
            # Sorting by deal trust (DESC NULLS LAST) has a PostgreSQL-only index: SQLite
            # refuses NULLS LAST in an index (migration 0010_seller_fields creates it).
            models.Index("fetched_at", name="deal_fetched_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.asin} {self.title[:60]}"


def _costs_rule(name: str, condition: Q, message: str) -> FieldCheckConstraint:
    return FieldCheckConstraint(
        condition=condition, name=f"costs_{name}_range", violation_error_message=message, field=name
    )


class BusinessCosts(ChecksInOneQuery):
    """The seller's costs and thresholds: one row, edited by staff in the admin, with history.

    The environment only gives the row its first values (``deals.costs.current_costs``
    creates it on first read); after that the row is the truth. Saving it through
    ``deals.costs.update_costs`` recalculates every deal at once from stored data.
    """

    #: The fields every deal's figures follow: changing one recalculates the deals.
    FIGURE_FIELDS = (
        "tax_percent",
        "prep_fee_cents",
        "inbound_shipping_cents",
        "default_fba_fee_cents",
        "default_referral_percent",
        "markup_percent",
    )
    ROW_ID = 1

    tax_percent = models.DecimalField(
        "sales tax %", max_digits=6, decimal_places=3, help_text="On the buy price; 0 when tax-exempt."
    )
    prep_fee_cents = models.BigIntegerField("prep fee per book (¢)")
    inbound_shipping_cents = models.BigIntegerField("inbound shipping per book (¢)")
    default_fba_fee_cents = models.BigIntegerField(
        "FBA pick & pack when Keepa lacks it (¢)", help_text="Keepa's own fee wins when it has one."
    )
    default_referral_percent = models.DecimalField(
        "referral % when Keepa lacks it", max_digits=5, decimal_places=2
    )
    markup_percent = models.DecimalField(
        "default markup %",
        max_digits=6,
        decimal_places=2,
        help_text="Profit on the all-in cost a listing must make: sets each deal's minimum listing price.",
    )
    min_profit_cents = models.BigIntegerField(
        "minimum profit (¢)", help_text="Verification spends no offer tokens on an estimate below it."
    )
    min_roi_percent = models.DecimalField(
        "minimum ROI %",
        max_digits=7,
        decimal_places=2,
        help_text="Verification spends no offer tokens on an estimate below it.",
    )
    acceptable_conditions = models.JSONField(
        help_text="Keepa offer condition codes a seller buys (2-5: used Like New to Acceptable)."
    )
    updated_at = models.DateTimeField(default=timezone.now)

    history = HistoricalRecords(excluded_fields=["updated_at"], bases=[ActorHistory])

    class Meta:
        verbose_name = verbose_name_plural = "business costs"
        constraints = [
            models.CheckConstraint(
                condition=Q(id=1), name="costs_single_row", violation_error_message="There is one costs row."
            ),
            _costs_rule(
                "tax_percent",
                Q(tax_percent__gte=0, tax_percent__lte=100),
                "Sales tax must be between 0 and 100 percent.",
            ),
            _costs_rule("prep_fee_cents", Q(prep_fee_cents__gte=0), "The prep fee must not be negative."),
            _costs_rule(
                "inbound_shipping_cents",
                Q(inbound_shipping_cents__gte=0),
                "Inbound shipping must not be negative.",
            ),
            _costs_rule(
                "default_fba_fee_cents", Q(default_fba_fee_cents__gte=0), "The FBA fee must not be negative."
            ),
            _costs_rule(
                "default_referral_percent",
                Q(default_referral_percent__gte=0, default_referral_percent__lt=100),
                "The referral must be at least 0 and under 100 percent.",
            ),
            _costs_rule(
                "markup_percent",
                Q(markup_percent__gte=0, markup_percent__lte=1000),
                "The markup must be between 0 and 1000 percent.",
            ),
            _costs_rule(
                "min_profit_cents", Q(min_profit_cents__gte=0), "The minimum profit must not be negative."
            ),
            _costs_rule(
                "min_roi_percent",
                Q(min_roi_percent__gte=-100, min_roi_percent__lte=10000),
                "The minimum ROI must be between -100 and 10000 percent.",
            ),
        ]

    def __str__(self) -> str:
        return "Business costs"

    def clean(self) -> None:
        codes = self.acceptable_conditions
        if (
            not isinstance(codes, list)
            or not codes
            or not all(type(code) is int and code in CONDITION_NAMES for code in codes)
        ):
            raise ValidationError(
                {"acceptable_conditions": "Choose at least one Keepa condition, codes 1-10."}
            )
        self.acceptable_conditions = sorted(set(codes))

    def rules(self) -> BusinessRules:
        """What ``deals.pricing`` computes every deal's figures with."""
        return BusinessRules(
            prep_fee_cents=self.prep_fee_cents,
            inbound_shipping_cents=self.inbound_shipping_cents,
            tax_percent=self.tax_percent,
            default_fba_fee_cents=self.default_fba_fee_cents,
            default_referral_percent=self.default_referral_percent,
            markup_percent=self.markup_percent,
        )


class CandidateQuerySet(models.QuerySet):
    def due(self, now: datetime) -> CandidateQuerySet:
        """Pending and due: the backlog discovery tops up and diagnostics report."""
        return self.filter(status=Candidate.Status.PENDING, due_at__lte=now)

    def claimable(self, now: datetime) -> CandidateQuerySet:
        """Due and not leased to a live worker (a lease that ran out is free again)."""
        return self.due(now).filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))


class Candidate(ChecksInOneQuery):
    """An ASIN waiting to be fetched. The backlog lives here, never only in Redis, so a
    killed worker or a flushed Redis loses nothing: a claim is a lease that expires."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    class Source(models.TextChoices):
        DISCOVERY = "discovery", "Deal finder"
        REFRESH = "refresh", "Scheduled refresh"
        STAFF = "staff", "Staff request"

    asin = models.CharField("ASIN", max_length=10, unique=True)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.DISCOVERY)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    priority = models.SmallIntegerField(default=0, help_text="Higher is fetched first.")
    due_at = models.DateTimeField(default=timezone.now)
    claimed_until = models.DateTimeField(null=True, blank=True)
    feed_last_update = models.DateTimeField(
        null=True, blank=True, help_text="Keepa's lastUpdate as the deal feed reported it."
    )
    feed_profit_cents = models.IntegerField(
        "feed promise (¢)",
        null=True,
        blank=True,
        help_text="The profit the deal feed's prices promise (current used price, listed at the "
        "90-day used average, default fees): the claim order ranks discovered candidates by it.",
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    transient_failures = models.PositiveSmallIntegerField(
        default=0,
        help_text="Keepa faults (5xx, timeouts, cut-off answers) since the last fetch: each backs "
        "the candidate off, none counts as an attempt.",
    )
    last_error = models.TextField(blank=True)
    # Set by backlog.py from the caller's clock; the defaults serve rows made by hand.
    discovered_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = CandidateQuerySet.as_manager()

    class Meta:
        constraints = [
            FieldCheckConstraint(
                condition=Q(asin__regex=ASIN_PATTERN),
                name="candidate_asin_format",
                violation_error_message="The ASIN must be 10 digits or upper-case letters.",
                field="asin",
            ),
            FieldCheckConstraint(
                condition=Q(status__in=["pending", "done", "failed"]),
                name="candidate_status_valid",
                violation_error_message="The status must be pending, done or failed.",
                field="status",
            ),
        ]
        # Claims in the order found (``RANK_BY_FEED`` off). The ranked claim order has a
        # PostgreSQL-only index: SQLite refuses NULLS LAST (migration 0016_candidate_claim_index).
        indexes = [
            models.Index(
                F("priority").desc(), "due_at", "id", name="candidate_due_idx", condition=Q(status="pending")
            ),
        ]

    def __str__(self) -> str:
        return f"{self.asin} ({self.status})"


class Seller(models.Model):
    """A marketplace seller as Keepa's /seller last described it: a cache, because a rating
    changes slowly and every lookup costs a token."""

    seller_id = models.CharField(max_length=40, unique=True)
    name = models.CharField(max_length=200, blank=True)
    rating_percent = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Positive ratings, percent."
    )
    rating_count = models.PositiveIntegerField(null=True, blank=True)
    found = models.BooleanField(default=True, help_text="Keepa knew the seller.")
    fetched_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(rating_percent__isnull=True) | Q(rating_percent__lte=100),
                name="seller_rating_percent_range",
                violation_error_message="A rating share is at most 100 percent.",
            )
        ]

    def __str__(self) -> str:
        return self.name or self.seller_id


class DiscoverySelection(models.Model):
    """The deal-finder query staff edit in the admin; validated and audited."""

    name = models.CharField(max_length=100, unique=True)
    active = models.BooleanField(default=True)
    selection = models.JSONField(help_text="Keepa /deal selection JSON (page and sort are managed for you).")
    watermark = models.DateTimeField(
        null=True, blank=True, help_text="Newest deal (Keepa creationDate) of the last scan that completed."
    )
    last_scan_at = models.DateTimeField(null=True, blank=True)
    scan_cursor = models.JSONField(
        null=True,
        blank=True,
        help_text="Where an unfinished scan resumes (next page, its newest and oldest deal), "
        "so a scan cut short by tokens never pays for its pages twice.",
    )
    history = HistoricalRecords(
        excluded_fields=["watermark", "last_scan_at", "scan_cursor"], bases=[ActorHistory]
    )

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        """Every periodic scan reads the active selection, so one Keepa would refuse must not
        get in by a path that skips ``full_clean`` (a shell, a script, a bulk edit)."""
        if self.active:
            self.clean()
        super().save(*args, **kwargs)

    def clean(self) -> None:
        try:
            self.selection = validate_selection(self.selection)
        except ValueError as exc:
            raise ValidationError({"selection": str(exc)}) from exc


class JobRun(models.Model):
    """One run of a pipeline job: what diagnostics read to tell "waiting" from "stalled"."""

    class Kind(models.TextChoices):
        DISCOVER = "discover", "Discover"
        BACKFILL = "backfill", "Backfill"
        REPAIR = "repair", "Repair"
        VERIFY = "verify", "Verify now"

    class Outcome(models.TextChoices):
        RUNNING = "running", "Running"
        OK = "ok", "Completed"
        WAITING = "waiting", "Waiting for tokens"
        FAILED = "failed", "Failed"
        # Its worker was killed (or Redis lost the job): ended by the watchdog, not the run.
        ABANDONED = "abandoned", "Abandoned (worker died)"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.RUNNING)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    processed = models.PositiveIntegerField(
        default=0,
        help_text="Discover: candidates queued. Backfill and repair: deals written. Verify: deals checked.",
    )
    tokens_consumed = models.PositiveIntegerField(default=0, help_text="What Keepa charged this run.")
    detail = models.TextField(blank=True)
    # The rq job that ran it ("" when run outside rq), to abandon runs whose job died.
    job_id = models.CharField(max_length=64, blank=True, default="")

    #: What ``processed`` counts for each kind: one number, read differently per job.
    COUNTS = {
        Kind.DISCOVER: "candidates queued",
        Kind.BACKFILL: "deals written",
        Kind.REPAIR: "deals written",
        Kind.VERIFY: "deals checked",
    }

    class Meta:
        indexes = [models.Index("kind", "outcome", F("started_at").desc(), name="jobrun_kind_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.outcome} at {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def processed_text(self) -> str:
        """``processed`` with what it counts: "22 candidates queued", "5 deals written"."""
        return f"{self.processed} {self.COUNTS.get(self.kind, 'processed')}"


class FilterPreset(models.Model):
    """A seller's named set of dashboard filters, kept on the server so it follows the user
    from browser to browser. ``params`` are the list API's query parameters, validated by
    the same ``DealFilter`` (deals/presets.py) before they are stored."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="filter_presets"
    )
    name = models.CharField(max_length=100)
    params = models.JSONField(default=dict, help_text="Query parameters of /api/deals/, as strings.")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint("user", "name", name="filterpreset_user_name_unique")]

    def __str__(self) -> str:
        return f"{self.name} ({self.user})"


class DashboardVisit(models.Model):
    """When a user last looked at the deals: ``since`` is the baseline "new deals" count from
    (the end of their previous visit), ``last_seen_at`` their latest page load."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="dashboard_visit"
    )
    since = models.DateTimeField()
    last_seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.user} since {self.since:%Y-%m-%d %H:%M}"
