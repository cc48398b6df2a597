"""``services.recompute`` as SQL: every deal's figures from its stored inputs in one UPDATE.

A change of the business costs must reach a million deals in seconds, without Keepa and
without a million history rows, so the per-deal arithmetic of ``deals.pricing`` is written
again here as one UPDATE, kept exactly equal to it (a test holds the two equal over many
rows, rounding edges included, on PostgreSQL and SQLite):

- every amount is integer cents and every rate an integer (tax in thousandths of a percent,
  referral and markup in hundredths), so the database divides integers, never floats;
- Python rounds half-up (away from zero); ``_half_up`` does the same with integer division,
  which truncates on both databases, and the sign decides the direction;
- a percentage is an integer count of hundredths, made a two-decimal number at the end;
- each figure is written out in place, built from the ones before it (so the text repeats
  them): the database evaluates that faster than it joins the table to derived tables that
  name each value once (that join was a fifth of the time at a million deals,
  docs/BENCHMARKS.md); the margin floor, which most figures wait on, is one inequality.

The quality follows ``recompute`` too: the stored reasons it cannot rediscover are kept
(``_reasons_to_keep``: the text split on "; " without its own reasons, done here with
REPLACE on the "; "-wrapped text), then its own reasons are found again from the row.
"""

from __future__ import annotations

from datetime import datetime

from django.db import connection

from deals.models import MARGIN_FLOOR, Deal, Quality, Verification
from deals.pricing import BusinessRules

NO_PRICE = "no used price now"
NO_AVERAGE = "no valid 1yr average"
NO_LIST_AT = "no List at"
COSTS_OVER_FLOOR = "costs are over a hundred times the List at"
#: The reasons ``recompute`` finds for itself, in the order it gives them.
OWN_REASONS = (NO_PRICE, NO_AVERAGE, NO_LIST_AT, COSTS_OVER_FLOOR)
SEPARATOR = "; "
FLOOR_HUNDREDTHS = MARGIN_FLOOR * 100


def _half_up(numerator: str, denominator: str) -> str:
    """numerator / denominator rounded half away from zero (Python's ROUND_HALF_UP); the
    denominator is positive wherever it is not NULL."""
    n, d = f"({numerator})", f"({denominator})"
    return f"(CASE WHEN {n} >= 0 THEN ({n} * 2 + {d}) / ({d} * 2) ELSE -((-{n} * 2 + {d}) / ({d} * 2)) END)"


def _half_up_positive(numerator: str, denominator: int) -> str:
    """The same for a numerator never negative (prices, rates) and a constant denominator."""
    return f"(({numerator}) * 2 + {denominator}) / {2 * denominator}"


def _percent(hundredths: str) -> str:
    """Hundredths as a two-decimal number: exact numeric on PostgreSQL; on SQLite, which has
    no decimal type, the REAL Django itself stores there."""
    if connection.vendor == "sqlite":
        return f"({hundredths} / 100.0)"
    return f"(CAST({hundredths} AS NUMERIC) / 100)"


def _text(value: str) -> str:
    """A literal of our own words (never input): quoted for SQL."""
    return "'" + value.replace("'", "''") + "'"


def _kept_reasons() -> str:
    """The stored reasons ``recompute`` keeps: the text without its own reasons."""
    sep = _text(SEPARATOR)
    wrapped = f"({sep} || quality_reason || {sep})"
    for reason in OWN_REASONS:
        own = _text(f"{SEPARATOR}{reason}{SEPARATOR}")
        # Twice: REPLACE skips the second of two adjacent copies (they share a separator).
        wrapped = f"replace(replace({wrapped}, {own}, {sep}), {own}, {sep})"
    return (
        f"(CASE WHEN length({wrapped}) > {2 * len(SEPARATOR)} "
        f"THEN substr({wrapped}, 1, length({wrapped}) - {len(SEPARATOR)}) ELSE '' END)"
    )


def _margin_at_least_floor(profit: str, list_at: str) -> str:
    """Whether the margin, ``profit * 10000 / list_at`` hundredths rounded half away from
    zero, is at least the floor, without computing it: for a floor F <= 0 and a List at over
    0 that is exactly ``profit * 20000 + (1 - 2F) * list_at > 0`` (a margin rounds to F or
    above while it is above F - 1/2). NULL when an input is."""
    return f"(({profit}) * 20000 + {1 - 2 * FLOOR_HUNDREDTHS} * ({list_at}) > 0)"


def update_sql(rules: BusinessRules) -> str:
    """The UPDATE that gives every deal what ``recompute`` with ``rules`` gives it (one
    parameter: the ``updated_at`` stamp)."""
    table = connection.ops.quote_name(Deal._meta.db_table)
    buy = (
        f"(CASE WHEN verification <> {_text(Verification.ESTIMATE)} AND buy_price_cents IS NOT NULL "
        "THEN buy_price_cents ELSE price_now_cents END)"
    )
    list_at = "COALESCE(list_at_override_cents, list_at_computed_cents)"
    fba = f"COALESCE(fba_fee_cents, {rules.default_fba_fee_cents})"
    rate = (
        "COALESCE(CAST(ROUND(referral_percent * 100) AS BIGINT), "
        f"{int(rules.default_referral_percent * 100)})"
    )
    tax = "0" if rules.tax_exempt else _half_up_positive(f"{buy} * {int(rules.tax_percent * 1000)}", 100_000)
    all_in = f"({buy} + {tax} + {rules.prep_fee_cents + rules.inbound_shipping_cents})"
    fees = f"({_half_up_positive(f'{list_at} * {rate}', 10_000)} + {fba})"
    profit = f"({list_at} - {all_in} - {fees})"
    margin = _half_up(f"{profit} * 10000", list_at)
    roi = _half_up(f"{profit} * 10000", all_in)
    markup = _half_up_positive(f"{all_in} * {int(rules.markup_percent * 100)}", 10_000)
    needed = f"({all_in} + {fba} + {markup})"
    floor_price = (
        f"(CASE WHEN {rate} >= 10000 THEN NULL WHEN {needed} < 1 THEN 1 "
        f"ELSE ({needed} * 10000 - 5000) / (10000 - {rate}) + 1 END)"
    )
    down = _half_up("(one_year_avg_cents - price_now_cents) * 10000", "one_year_avg_cents")
    sane = _margin_at_least_floor(profit, list_at)
    kept = _kept_reasons()
    found = (
        ("price_now_cents IS NULL", NO_PRICE),
        ("one_year_avg_cents IS NULL", NO_AVERAGE),
        (f"{list_at} IS NULL", NO_LIST_AT),
        (f"NOT {sane}", COSTS_OVER_FLOOR),
    )
    joined = " || ".join(
        [
            kept,
            *(f"(CASE WHEN {when} THEN {_text(SEPARATOR + reason)} ELSE '' END)" for when, reason in found),
        ]
    )
    reasons = f"substr({joined}, {len(SEPARATOR) + 1})"
    # No reason left: none kept and none found (the figures exist whenever their inputs do).
    none_left = (
        f"({kept} = '' AND price_now_cents IS NOT NULL AND one_year_avg_cents IS NOT NULL "
        f"AND {list_at} IS NOT NULL AND {sane})"
    )
    unrepairable = f"quality = {_text(Quality.UNREPAIRABLE)}"

    def if_sane(figure: str) -> str:
        # NULL inputs give NULL figures, as in Python.
        return f"CASE WHEN {sane} THEN {figure} END"

    return f"""
        UPDATE {table} SET
            list_at_cents = {list_at},
            all_in_cost_cents = {if_sane(all_in)},
            amazon_fees_cents = {if_sane(fees)},
            profit_cents = {if_sane(profit)},
            margin_percent = {if_sane(_percent(margin))},
            roi_percent = {if_sane(_percent(roi))},
            min_list_price_cents = {if_sane(floor_price)},
            percent_down = {_percent(down)},
            quality = CASE WHEN {none_left} THEN {_text(Quality.COMPLETE)}
                           WHEN {unrepairable} THEN quality
                           ELSE {_text(Quality.INCOMPLETE)} END,
            quality_reason = CASE WHEN {none_left} THEN ''
                                  WHEN {unrepairable} THEN quality_reason
                                  ELSE {reasons} END,
            repair_attempts = CASE WHEN {none_left} THEN 0 ELSE repair_attempts END,
            next_repair_at = CASE WHEN {none_left} THEN NULL ELSE next_repair_at END,
            updated_at = %s
    """


def recalculate(rules: BusinessRules, now: datetime) -> int:
    """Run the UPDATE (the caller holds the transaction); returns the number of deals."""
    with connection.cursor() as cursor:
        cursor.execute(update_sql(rules), [now])
        return cursor.rowcount
