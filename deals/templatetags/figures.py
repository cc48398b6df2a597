"""The deal view's number formats: ``{{ cents|dollars }}`` ("$1,234.56", via ``deals.money``,
no float) and ``{{ count|grouped }}`` ("1,234,567"), "-" for a missing value."""

from django import template

from deals.money import format_cents

register = template.Library()


@register.filter
def dollars(cents: int | None) -> str:
    return format_cents(cents)


@register.filter
def grouped(number: int | None) -> str:
    return "-" if number is None else f"{number:,}"
