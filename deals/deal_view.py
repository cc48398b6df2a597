"""What the deal view (``/deals/<asin>/``) shows, computed from a stored deal: its charts as
server-drawn SVG geometry, the months of its inferred sales, how each figure was computed,
the live offer behind it, and, for staff, its change history.

Plain functions over a ``Deal`` so the view stays a few lines and the page needs no script.
The cost breakdown is ``pricing.compute_costs`` again on the deal's own inputs (the same call
``services.recompute`` makes), so the page explains the stored profit rather than a second
formula; ``matches_stored`` says when business costs changed since the deal was computed.
"""

from __future__ import annotations

import calendar
import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from deals.keepa.analytics import median_cents
from deals.models import Deal, Verification
from deals.money import format_cents
from deals.pricing import BusinessRules
from deals.services import buy_price_basis, costs_at_buy_price
from deals.verification import is_stale

WIDTH, HEIGHT = 720, 240
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 64, 12, 12, 28
PRICE_SERIES = (("used", "Used"), ("new", "New"), ("amazon", "Amazon"))
HISTORY_ROWS = 50
#: Fields whose every refresh changes: the change history names them without values.
BULKY_FIELDS = {"used_price_history", "list_at_basis", "chart_history"}


@dataclass(frozen=True)
class Tick:
    at: float  # x or y in the SVG
    label: str


@dataclass(frozen=True)
class Marker:
    x: float
    y: float
    label: str
    condition: str


@dataclass
class Chart:
    """One SVG chart: per series its polyline pieces (a gap where there was no offer)."""

    lines: dict[str, list[str]] = field(default_factory=dict)
    markers: list[Marker] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    reference: Tick | None = None  # a horizontal line (List at)
    width: int = WIDTH
    height: int = HEIGHT
    left: int = PAD_LEFT
    right: int = WIDTH - PAD_RIGHT
    top: int = PAD_TOP
    bottom: int = HEIGHT - PAD_BOTTOM

    @property
    def empty(self) -> bool:
        return not any(self.lines.values()) and not self.markers


class _Scale:
    """Maps unix seconds to x and a value to y (linear, or log10 for the rank, best on top)."""

    def __init__(self, start: int, end: int, low: float, high: float, *, log: bool = False):
        self.start, self.end = start, max(end, start + 1)
        self.log = log
        self.low, self.high = (math.log10(low), math.log10(high)) if log else (low, high)
        if self.high <= self.low:
            self.high = self.low + 1

    def x(self, t: int) -> float:
        span = PAD_LEFT + (WIDTH - PAD_LEFT - PAD_RIGHT) * (t - self.start) / (self.end - self.start)
        return round(span, 1)

    def y(self, value: float) -> float:
        v = math.log10(max(value, 1)) if self.log else value
        share = (v - self.low) / (self.high - self.low)
        if self.log:  # rank 1 at the top
            share = 1 - share
        return round(HEIGHT - PAD_BOTTOM - (HEIGHT - PAD_TOP - PAD_BOTTOM) * share, 1)


def _steps(points: list[list], scale: _Scale, end: int) -> list[str]:
    """Keepa's values hold until the next change: a step line, broken where there was no offer
    (None), carried to ``end``."""
    pieces, current = [], []
    for i, (t, value) in enumerate(points):
        nxt = points[i + 1][0] if i + 1 < len(points) else end
        if value is None:
            if current:
                pieces.append(" ".join(current))
            current = []
            continue
        y = scale.y(value)
        current += [f"{scale.x(t)},{y}", f"{scale.x(max(t, nxt))},{y}"]
    if current:
        pieces.append(" ".join(current))
    return pieces


def _month_ticks(start: int, end: int, scale: _Scale) -> list[Tick]:
    """A tick at the first of every third month (every month for a short history)."""
    first = datetime.fromtimestamp(start, UTC)
    last = datetime.fromtimestamp(end, UTC)
    months = (last.year - first.year) * 12 + last.month - first.month
    step = 1 if months <= 6 else 3
    ticks = []
    year, month = first.year, first.month
    while True:
        month += 1
        if month > 12:
            year, month = year + 1, 1
        moment = datetime(year, month, 1, tzinfo=UTC)
        if moment > last:
            return ticks
        if (month - 1) % step == 0:
            label = f"{calendar.month_abbr[month]} {year % 100:02d}"
            ticks.append(Tick(scale.x(int(moment.timestamp())), label))


def _nice_step(span: float, count: int = 4) -> float:
    raw = span / count
    magnitude = 10 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)


def _span(history: dict, now: datetime) -> tuple[int, int] | None:
    times = [p[0] for name in ("used", "new", "amazon", "rank") for p in history.get(name) or []]
    times += [s[0] for s in history.get("sales") or []]
    if not times:
        return None
    return min(times), max(max(times), int(now.timestamp()))


def price_chart(deal: Deal, now: datetime) -> Chart:
    """Used, new and Amazon prices with the inferred sales marked and List at as a line."""
    history = deal.chart_history or {}
    span = _span(history, now)
    if span is None:
        return Chart()
    values = [p[1] for name, _ in PRICE_SERIES for p in history.get(name) or [] if p[1] is not None]
    values += [s[1] for s in history.get("sales") or []]
    if deal.list_at_cents:
        values.append(deal.list_at_cents)
    top = max(values, default=100)
    step = _nice_step(top)
    ceiling = step * math.ceil(top * 1.05 / step)
    scale = _Scale(span[0], span[1], 0, ceiling)
    chart = Chart(
        lines={name: _steps(history.get(name) or [], scale, span[1]) for name, _ in PRICE_SERIES},
        markers=[
            Marker(scale.x(t), scale.y(cents), f"{_day(t)}: {kind} sold at {format_cents(cents)}", kind)
            for t, cents, kind in history.get("sales") or []
        ],
        x_ticks=_month_ticks(*span, scale),
        y_ticks=[Tick(scale.y(v), format_cents(int(v))) for v in _ticks(ceiling, step)],
    )
    if deal.list_at_cents:
        chart.reference = Tick(scale.y(deal.list_at_cents), f"List at {format_cents(deal.list_at_cents)}")
    return chart


def _ticks(ceiling: float, step: float) -> list[float]:
    return [step * i for i in range(round(ceiling / step) + 1)]


def rank_chart(deal: Deal, now: datetime) -> Chart:
    """The sales rank on a log scale, best (1) on top: a drop is a sale."""
    history = deal.chart_history or {}
    points = history.get("rank") or []
    ranks = [p[1] for p in points if p[1]]
    span = _span(history, now)
    if not ranks or span is None:
        return Chart()
    low = 10 ** math.floor(math.log10(min(ranks)))
    high = 10 ** math.ceil(math.log10(max(ranks) + 1))
    scale = _Scale(span[0], span[1], low, high, log=True)
    powers = range(round(math.log10(low)), round(math.log10(high)) + 1)
    return Chart(
        lines={"rank": _steps(points, scale, span[1])},
        x_ticks=_month_ticks(*span, scale),
        y_ticks=[Tick(scale.y(10**p), f"{10**p:,}") for p in powers],
    )


def _day(unix: int) -> str:
    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%d")


@dataclass(frozen=True)
class Month:
    name: str
    sales: int
    median: str
    peak: bool


def sales_by_month(deal: Deal) -> list[Month]:
    """The inferred sales per calendar month (median price), the months List at reads its
    peak from; ``peak`` marks the deal's peak month."""
    by_month: dict[int, list[int]] = defaultdict(list)
    for unix, cents, _condition in (deal.chart_history or {}).get("sales") or []:
        by_month[datetime.fromtimestamp(unix, UTC).month].append(cents)
    return [
        Month(
            calendar.month_name[m],
            len(by_month[m]),
            format_cents(median_cents(by_month[m])),
            calendar.month_name[m] == deal.peak_season,
        )
        for m in sorted(by_month)
    ]


@dataclass(frozen=True)
class Line:
    label: str
    amount: str
    note: str = ""


@dataclass
class Figures:
    """How the 1yr average, List at, fees and all-in cost came about, line by line."""

    average: list[Line]
    list_at: list[Line]
    cost: list[Line]
    fees: list[Line]
    result: list[Line]
    matches_stored: bool


def _percent(value: Decimal | None) -> str:
    return "-" if value is None else f"{value}%"


def figures(deal: Deal, rules: BusinessRules | None = None) -> Figures:
    rules = rules or BusinessRules.from_settings()
    basis = deal.list_at_basis or {}
    average = [Line("1yr average", format_cents(deal.one_year_avg_cents), _average_note(basis))]
    list_at = _list_at_lines(deal, basis)
    buy_at = buy_price_basis(deal)
    costs = costs_at_buy_price(deal, rules)
    if costs is None:
        return Figures(average, list_at, [], [], [], matches_stored=False)
    live = deal.verification != Verification.ESTIMATE and deal.buy_price_cents is not None
    tax_note = "tax exempt" if rules.tax_exempt else f"{rules.tax_percent}% of the buy price"
    cost = [
        Line(
            "Buy price",
            format_cents(buy_at),
            "the live offer, item plus shipping" if live else "Keepa's used price now (an estimate)",
        ),
        Line("Sales tax", format_cents(costs.tax_cents), tax_note),
        Line("Prep", format_cents(rules.prep_fee_cents)),
        Line("Inbound shipping", format_cents(rules.inbound_shipping_cents)),
        Line("All-in cost", format_cents(costs.all_in_cost_cents)),
    ]
    referral = rules.default_referral_percent if deal.referral_percent is None else deal.referral_percent
    fees = [
        Line(
            "Referral fee",
            format_cents(costs.referral_fee_cents),
            f"{referral}% of List at" + (" (default)" if deal.referral_percent is None else " (Keepa)"),
        ),
        Line(
            "FBA pick & pack",
            format_cents(costs.fba_fee_cents),
            "business default" if deal.fba_fee_cents is None else "Keepa",
        ),
        Line("Amazon fees", format_cents(costs.amazon_fees_cents)),
    ]
    result = [
        Line("Profit", format_cents(costs.profit_cents), "List at - all-in cost - Amazon fees"),
        Line("Margin", _percent(costs.margin_percent), "profit ÷ List at"),
        Line("ROI", _percent(costs.roi_percent), "profit ÷ all-in cost"),
    ]
    matches = costs.profit_cents == deal.profit_cents
    return Figures(average, list_at, cost, fees, result, matches_stored=matches)


def _average_note(basis: dict) -> str:
    source = basis.get("one_year_avg_source")
    if source == "sales":
        count = basis.get("sales_last_year", 0)
        return f"mean of {count} inferred sale{'s' if count != 1 else ''} in the last 365 days"
    if source == "stats.avg365":
        return "no inferred sale in the last year: Keepa's 365-day used average"
    return ""


def _list_at_lines(deal: Deal, basis: dict) -> list[Line]:
    lines = []
    sales, removed = basis.get("sales"), basis.get("outliers_removed", 0)
    if basis.get("from_sales_cents") is not None:
        if basis.get("peak_month"):
            how = f"most common price of {basis['peak_month']}, the peak month"
        else:
            how = "median of all inferred sales (fewer than 3)"
        note = f"{how}; {sales} sales over two years, {removed} outlier{'s' if removed != 1 else ''} removed"
        lines.append(Line("From sales", format_cents(basis["from_sales_cents"]), note))
    if basis.get("amazon_ceiling_cents") is not None:
        verdict = "applied" if basis.get("capped") else "not reached"
        note = f"90% of Amazon's lowest current / 180-day / 365-day price: {verdict}"
        lines.append(Line("Cap", format_cents(basis["amazon_ceiling_cents"]), note))
    lines.append(Line("List at, computed", format_cents(deal.list_at_computed_cents)))
    if deal.list_at_override_cents is not None:
        lines.append(Line("List at, staff override", format_cents(deal.list_at_override_cents), "wins"))
    if deal.list_at_suspicious:
        lines.append(Line("Check", "", "List at is over 3 times the used price now"))
    return lines


@dataclass(frozen=True)
class Offers:
    verified: bool
    stale: bool
    state: str
    buy_price: str
    shipping: str
    condition: str
    fulfillment: str
    seller: str
    seller_score: str
    live_used_offers: int | None
    verified_at: datetime | None
    checked_at: datetime | None
    reason: str


def offers(deal: Deal, now: datetime) -> Offers:
    """The live offers summary; before any check it says the figures are an estimate."""
    return Offers(
        verified=deal.verification == Verification.VERIFIED,
        stale=is_stale(deal, now),
        state=deal.get_verification_display(),
        buy_price=format_cents(deal.buy_price_cents),
        shipping=format_cents(deal.shipping_cents),
        condition=deal.condition,
        fulfillment=deal.get_fulfillment_display(),
        seller=deal.seller_name or deal.seller_id,
        seller_score="" if deal.seller_score is None else f"{deal.seller_score}/10",
        live_used_offers=deal.live_used_offers,
        verified_at=deal.verified_at,
        checked_at=deal.checked_at,
        reason=deal.verification_reason,
    )


@dataclass(frozen=True)
class Change:
    at: datetime
    who: str
    reason: str
    changes: list[str]


def _shown(name: str, value) -> str:
    if name.endswith("_cents"):
        return format_cents(value)
    return "-" if value in (None, "") else str(value)


def change_history(deal: Deal) -> list[Change]:
    """Newest first: when, who (or the job), why, and what changed from the version before."""
    newest = deal.history.select_related("history_user").order_by("-history_date", "-history_id")
    records = list(newest[: HISTORY_ROWS + 1])  # one more: what the oldest shown changed from
    rows = []
    for i, record in enumerate(records[:HISTORY_ROWS]):
        before = records[i + 1] if i + 1 < len(records) else None
        changes = []
        if before is not None:
            for change in record.diff_against(before).changes:
                if change.field in BULKY_FIELDS:
                    changes.append(change.field.replace("_", " "))
                else:
                    old, new = _shown(change.field, change.old), _shown(change.field, change.new)
                    changes.append(f"{change.field}: {old} → {new}")
        rows.append(
            Change(
                at=record.history_date,
                who=record.history_user.get_username() if record.history_user else "pipeline",
                reason=record.history_change_reason or ("created" if before is None else ""),
                changes=changes,
            )
        )
    return rows
