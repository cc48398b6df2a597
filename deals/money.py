"""Money in and out: one parser for whatever a price arrives as, its staff-facing form field,
and the one way cents are shown.

Money is integer cents; no float ever holds it. The arithmetic on it (fees, profit, margin,
ROI) is ``deals.pricing``.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

MAX_CENTS = 10**11  # a billion dollars: anything above is garbage, not a price
_NO_VALUE = {"", "-", "--", "n/a", "na", "none", "null", "nan", "inf", "-inf", "infinity"}
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
_AMOUNT = re.compile(r"^(?P<sign>-?)\d+(\.\d{1,2})?$")


def _dollars_to_cents(dollars: Decimal) -> int | None:
    if not dollars.is_finite() or dollars < 0:
        return None
    cents = int((dollars * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return cents if cents <= MAX_CENTS else None


def parse_cents(value: Any) -> int | None:
    """Whatever a price arrives as -> integer cents, or None for "no value".

    Integers are cents (Keepa's unit; a negative one is Keepa's "no offer"); floats, Decimals
    and strings are dollars ("$1,234.56", "12.5", "0"). Zero is a real zero: the caller
    decides whether zero is acceptable. Negative, NaN, infinite, empty, "-", "N/A", booleans
    and anything unparseable are "no value".
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value <= MAX_CENTS else None
    if isinstance(value, float):
        try:
            return _dollars_to_cents(Decimal(repr(value)))
        except InvalidOperation:
            return None
    if isinstance(value, Decimal):
        return _dollars_to_cents(value)
    if isinstance(value, str):
        text = value.strip().replace("$", "").replace(",", "").replace(" ", "")
        if text.lower() in _NO_VALUE or not _NUMBER.match(text):
            return None
        return _dollars_to_cents(Decimal(text))
    return None


def format_cents(cents: int | None) -> str:
    """Integer cents as "$1,234.56" (no float on the way)."""
    if cents is None:
        return "-"
    sign = "-" if cents < 0 else ""
    dollars, rest = divmod(abs(int(cents)), 100)
    return f"{sign}${dollars:,}.{rest:02d}"


class DollarsField(forms.CharField):
    """Integer cents edited as dollars: "12.34", "$1,234.56", "12"; blank clears the value.

    Negative amounts are kept (as negative cents) so the model's rules reject them with
    the field's own message; text that is no amount at all is refused here.
    """

    def prepare_value(self, value):
        if isinstance(value, int) and not isinstance(value, bool):
            return format_cents(value).replace("$", "").replace(",", "")
        return value

    def to_python(self, value):
        text = super().to_python(value)
        if text in self.empty_values:
            return None
        text = text.replace("$", "").replace(",", "").replace(" ", "")
        match = _AMOUNT.match(text)
        if not match:
            raise ValidationError(
                "Enter an amount in dollars with at most two decimals, like 12.34.", code="invalid"
            )
        cents = parse_cents(text.lstrip("-"))
        if cents is None:
            raise ValidationError("That amount is too large.", code="max_value")
        return -cents if match["sign"] else cents

    def has_changed(self, initial, data):
        try:
            return self.to_python(data) != initial
        except ValidationError:
            return True
