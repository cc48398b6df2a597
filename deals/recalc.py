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
- each value is computed once, in layers of derived tables (a layer names what the next
  one uses), then joined back to its row: inlined, the expressions repeat each other many
  times over and the UPDATE is several times slower.

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
    return (
        f"(CASE WHEN {numerator} >= 0 THEN ({numerator} * 2 + {denominator}) / ({denominator} * 2) "
        f"ELSE -((-{numerator} * 2 + {denominator}) / ({denominator} * 2)) END)"
    )


def _half_up_positive(numerator: str, denominator: int) -> str:
    """The same for a numerator never negative (prices, rates) and a constant denominator."""
    return f"(({numerator} * 2 + {denominator}) / {2 * denominator})"


def _percent(hundredths: str) -> str:
    """Hundredths as a two-decimal number: exact numeric on PostgreSQL; on SQLite, which has
    no decimal type, the REAL Django itself stores there."""
    if connection.vendor == "sqlite":
        return f"({hundredths} / 100.0)"
    return f"(CAST({hundredths} AS NUMERIC) / 100)"


def _text(value: str) -> str:
    """A literal of our own words (never input): quoted for SQL."""
    return "'" + value.replace("'", "''") + "'"


def update_sql(rules: BusinessRules) -> str:
    """The UPDATE that gives every deal what ``recompute`` with ``rules`` gives it (one
    parameter: the ``updated_at`` stamp)."""
    quote = connection.ops.quote_name
    table = quote(Deal._meta.db_table)
    tax = "0" if rules.tax_exempt else _half_up_positive(f"buy * {int(rules.tax_percent * 1000)}", 100_000)
    markup = _half_up_positive(f"all_in * {int(rules.markup_percent * 100)}", 10_000)
    sep = _text(SEPARATOR)
    wrapped = f"({sep} || quality_reason || {sep})"
    for reason in OWN_REASONS:
        own = _text(f"{SEPARATOR}{reason}{SEPARATOR}")
        # Twice: REPLACE skips the second of two adjacent copies (they share a separator).
        wrapped = f"replace(replace({wrapped}, {own}, {sep}), {own}, {sep})"
    found = (
        ("price_now IS NULL", NO_PRICE),
        ("average IS NULL", NO_AVERAGE),
        ("list_at IS NULL", NO_LIST_AT),
        (f"margin < {FLOOR_HUNDREDTHS}", COSTS_OVER_FLOOR),
    )
    joined = " || ".join(
        [
            "kept",
            *(f"(CASE WHEN {when} THEN {_text(SEPARATOR + reason)} ELSE '' END)" for when, reason in found),
        ]
    )
    sane = f"r.margin >= {FLOOR_HUNDREDTHS}"  # NULL inputs give NULL figures, as in Python
    layers = f"""
        SELECT id, price_now, average, list_at, all_in, fees, profit, margin, roi, floor_price,
               {_half_up("(average - price_now) * 10000", "average")} AS down,
               substr({joined}, {len(SEPARATOR) + 1}) AS reasons
        FROM (
            SELECT *, {_half_up("profit * 10000", "list_at")} AS margin,
                      {_half_up("profit * 10000", "all_in")} AS roi,
                      CASE WHEN rate >= 10000 THEN NULL WHEN needed < 1 THEN 1
                           ELSE (needed * 10000 - 5000) / (10000 - rate) + 1 END AS floor_price,
                      CASE WHEN length(wrapped) > {2 * len(SEPARATOR)}
                           THEN substr(wrapped, 1, length(wrapped) - {len(SEPARATOR)}) ELSE '' END AS kept
            FROM (
                SELECT *, list_at - all_in - fees AS profit,
                          all_in + fba + {markup} AS needed
                FROM (
                    SELECT *, buy + {tax} + {rules.prep_fee_cents + rules.inbound_shipping_cents} AS all_in,
                              {_half_up_positive("list_at * rate", 10_000)} + fba AS fees
                    FROM (
                        SELECT id, price_now_cents AS price_now, one_year_avg_cents AS average,
                               CASE WHEN verification <> {_text(Verification.ESTIMATE)}
                                         AND buy_price_cents IS NOT NULL
                                    THEN buy_price_cents ELSE price_now_cents END AS buy,
                               COALESCE(list_at_override_cents, list_at_computed_cents) AS list_at,
                               COALESCE(fba_fee_cents, {rules.default_fba_fee_cents}) AS fba,
                               COALESCE(CAST(ROUND(referral_percent * 100) AS BIGINT),
                                        {int(rules.default_referral_percent * 100)}) AS rate,
                               {wrapped} AS wrapped
                        FROM {table}
                    ) AS inputs
                ) AS costs
            ) AS profits
        ) AS ratios
    """
    none_left = "r.reasons = ''"
    return f"""
        UPDATE {table} SET
            list_at_cents = r.list_at,
            all_in_cost_cents = CASE WHEN {sane} THEN r.all_in END,
            amazon_fees_cents = CASE WHEN {sane} THEN r.fees END,
            profit_cents = CASE WHEN {sane} THEN r.profit END,
            margin_percent = CASE WHEN {sane} THEN {_percent("r.margin")} END,
            roi_percent = CASE WHEN {sane} THEN {_percent("r.roi")} END,
            min_list_price_cents = CASE WHEN {sane} THEN r.floor_price END,
            percent_down = {_percent("r.down")},
            quality = CASE WHEN {none_left} THEN {_text(Quality.COMPLETE)}
                           WHEN quality = {_text(Quality.UNREPAIRABLE)} THEN quality
                           ELSE {_text(Quality.INCOMPLETE)} END,
            quality_reason = CASE WHEN {none_left} THEN ''
                                  WHEN quality = {_text(Quality.UNREPAIRABLE)} THEN quality_reason
                                  ELSE r.reasons END,
            repair_attempts = CASE WHEN {none_left} THEN 0 ELSE repair_attempts END,
            next_repair_at = CASE WHEN {none_left} THEN NULL ELSE next_repair_at END,
            updated_at = %s
        FROM ({layers}) AS r
        WHERE {table}.id = r.id
    """


def recalculate(rules: BusinessRules, now: datetime) -> int:
    """Run the UPDATE (the caller holds the transaction); returns the number of deals."""
    with connection.cursor() as cursor:
        cursor.execute(update_sql(rules), [now])
        return cursor.rowcount
