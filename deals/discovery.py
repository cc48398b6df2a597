"""Discovery: walk Keepa's deal finder and record candidate ASINs in the database.

The feed is queried newest deal first (Keepa's deal age order) and each page is sorted by
``creationDate`` as well, so a scan may stop at the watermark (the newest deal of the last
scan that completed).
Candidates are committed page by page with the scan's place; the watermark moves only when a
scan completes, so a scan cut short (no tokens, an error, a killed worker) resumes at its next
page and skips nothing (``ScanCursor``).
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q

from deals import backlog
from deals.audit import acting_as
from deals.costs import current_rules
from deals.keepa.facts import (
    ASIN_RE,
    DEAL_PAGE_COST,
    DEAL_PAGE_SIZE,
    USED,
    keepa_minutes_to_datetime,
)
from deals.models import Candidate, DiscoverySelection
from deals.passes import RunReport, stop_for_tokens
from deals.pricing import feed_promise_cents
from deals.selection import DEFAULT_SELECTION, scan_query
from tokens.interface import PrepaidBucket, Refusal

log = logging.getLogger(__name__)


def active_selection() -> DiscoverySelection:
    selection = DiscoverySelection.objects.filter(active=True).order_by("id").first()
    if selection is None:
        selection, _ = DiscoverySelection.objects.get_or_create(
            name="Used books", defaults={"selection": copy.deepcopy(DEFAULT_SELECTION)}
        )
    return selection


#: The deal object's ``avg`` rows are day, week, month and 90 days: the longest is the guess
#: of what a copy sells for.
NINETY_DAYS = 3


@dataclass(frozen=True)
class FeedDeal:
    asin: str
    created: datetime  # when Keepa found the deal: the feed's order and our watermark
    last_update: datetime  # when Keepa last updated the product: the fetch cache's key
    used_now_cents: int | None = None  # the feed's current used price
    used_average_cents: int | None = None  # its 90-day used average


def _price(value: Any) -> int | None:
    """A Keepa price in cents; -1 (none), -2 (unknown) and anything malformed are None."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _at(values: Any, *indexes: int) -> Any:
    """``values[i][j]...`` of a Keepa array, or None where it is short or not a list."""
    for index in indexes:
        if not isinstance(values, list) or index >= len(values):
            return None
        values = values[index]
    return values


def parse_feed(deals: Iterable[Any]) -> tuple[list[FeedDeal], int]:
    """Valid deals newest first, and how many entries were unusable (counted, never fatal)."""
    parsed: list[FeedDeal] = []
    rejected = 0
    for deal in deals:
        if not isinstance(deal, Mapping):
            rejected += 1
            continue
        asin, created, updated = deal.get("asin"), deal.get("creationDate"), deal.get("lastUpdate")
        valid_times = all(
            isinstance(t, int) and not isinstance(t, bool) and t > 0 for t in (created, updated)
        )
        if not isinstance(asin, str) or not ASIN_RE.match(asin) or not valid_times:
            rejected += 1
            continue
        parsed.append(
            FeedDeal(
                asin=asin,
                created=keepa_minutes_to_datetime(created),
                last_update=keepa_minutes_to_datetime(updated),
                used_now_cents=_price(_at(deal.get("current"), USED)),
                used_average_cents=_price(_at(deal.get("avg"), NINETY_DAYS, USED)),
            )
        )
    parsed.sort(key=lambda d: d.created, reverse=True)
    return parsed, rejected


@transaction.atomic
def record_candidates(feed: list[FeedDeal], *, now: datetime) -> int:
    """Idempotently record a page of the feed; returns how many became due.

    New ASINs are inserted; a finished candidate whose product Keepa has updated since is
    made due again; one already pending keeps its due time and takes the newer report's
    promise (``claim_order``). Each carries what the feed's prices promise.
    """
    if not feed:
        return 0
    newest: dict[str, FeedDeal] = {}
    for deal in feed:
        if deal.asin not in newest or deal.last_update > newest[deal.asin].last_update:
            newest[deal.asin] = deal
    rules = current_rules()
    promise = {
        asin: feed_promise_cents(deal.used_now_cents, deal.used_average_cents, rules)
        for asin, deal in newest.items()
    }
    existing = {c.asin: c for c in Candidate.objects.filter(asin__in=newest).select_for_update()}
    new_candidates = [
        backlog.new_candidate(
            asin,
            source=Candidate.Source.DISCOVERY,
            now=now,
            feed_last_update=deal.last_update,
            feed_profit_cents=promise[asin],
        )
        for asin, deal in newest.items()
        if asin not in existing
    ]
    Candidate.objects.bulk_create(new_candidates, ignore_conflicts=True)
    revived = 0
    for asin, candidate in existing.items():
        update = newest[asin].last_update
        if candidate.feed_last_update is not None and candidate.feed_last_update >= update:
            continue
        if candidate.status == Candidate.Status.PENDING:
            Candidate.objects.filter(pk=candidate.pk).update(
                feed_last_update=update, feed_profit_cents=promise[asin], updated_at=now
            )
        else:
            backlog.make_due(
                asin,
                source=Candidate.Source.DISCOVERY,
                now=now,
                feed_last_update=update,
                feed_profit_cents=promise[asin],
            )
            revived += 1
    return len(new_candidates) + revived


@dataclass
class ScanResult:
    pages: int = 0
    due: int = 0
    rejected: int = 0
    completed: bool = False


@dataclass
class ScanCursor:
    """An unfinished scan's place: the next page, the newest deal of its first page (the
    watermark it will set), the oldest deal committed so far, and how many deals the query
    matched when its last page was read."""

    query: str
    page: int
    newest: datetime | None
    oldest: datetime | None
    total: int | None = None

    @classmethod
    def load(cls, stored: Any, query: str) -> ScanCursor | None:
        """The stored cursor for this query; None for a new query or an unreadable value."""
        if not isinstance(stored, Mapping) or stored.get("query") != query:
            return None
        try:
            return cls(
                query=query,
                page=max(0, int(stored["page"])),
                newest=_parse_time(stored.get("newest")),
                oldest=_parse_time(stored.get("oldest")),
                total=int(stored["total"]) if stored.get("total") is not None else None,
            )
        except (KeyError, TypeError, ValueError):
            return None

    def dump(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "page": self.page,
            "newest": self.newest.isoformat() if self.newest else None,
            "oldest": self.oldest.isoformat() if self.oldest else None,
            "total": self.total,
        }

    def continues_at(self, feed: list[FeedDeal], total: int | None) -> bool:
        """Whether the page about to be read as this cursor's next one skips no deal.

        New deals enter the feed on top. Deals that left it above the scan's place shift the
        rest up, so the next page could start past deals never committed. It cannot if it
        starts with a deal newer than the oldest committed, or if the query matches no fewer
        deals than before: then at least as many arrived on top as left above the place.
        """
        if feed and self.oldest is not None and feed[0].created > self.oldest:
            return True
        return total is not None and self.total is not None and total >= self.total


def _parse_time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _fingerprint(query: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(query, sort_keys=True).encode()).hexdigest()[:16]


def scan(
    client,
    selection: DiscoverySelection,
    *,
    now: datetime,
    max_pages: int = 50,
    enough_due: int | None = None,
    report: RunReport | None = None,
) -> ScanResult:
    """Walk the feed newest first, committing each page's candidates with the scan's place.

    With ``enough_due`` the scan pauses once that many promising candidates are due: pages
    bought beyond what the plan can fetch soon would only age in the backlog.

    A scan cut short (tokens, an error, a killed worker, ``max_pages``, a pause) resumes at
    its next page instead of paying for its first pages again (``max_pages`` counts the pages
    it commits). Deals that left the feed meanwhile shift the rest up; while the page read
    cannot show that it skips nothing (``ScanCursor.continues_at``), the scan steps back a page,
    keeping the page it stepped from (Keepa's cached result list leaves it unchanged), so
    nothing is skipped and nothing is bought twice. Raises the client's errors to the job.
    """
    query = scan_query(selection.selection)
    cursor = ScanCursor.load(selection.scan_cursor, _fingerprint(query)) or ScanCursor(
        query=_fingerprint(query), page=0, newest=None, oldest=None
    )
    resuming = cursor.page > 0 and cursor.oldest is not None
    stepped_from: dict[int, Any] = {}  # pages read while finding the place, used in turn
    committed = 0
    result = ScanResult()
    while committed < max_pages:
        response = stepped_from.pop(cursor.page, None)
        if response is None:
            response = client.deals({**query, "page": cursor.page})
            result.pages += 1
            if report is not None:
                report.spend("discovery", response.reading)
        feed, rejected = parse_feed(response.deals)
        if resuming and cursor.page > 0 and not cursor.continues_at(feed, response.total):
            log.info("deal finder page %s starts past the scan's place: stepping back", cursor.page)
            stepped_from[cursor.page] = response
            cursor.page -= 1
            continue
        resuming = False
        result.rejected += rejected
        if feed:
            if cursor.newest is None:
                cursor.newest = feed[0].created
            cursor.oldest = min(feed[-1].created, cursor.oldest or feed[-1].created)
        cursor.total = response.total
        reached_watermark = bool(
            feed and selection.watermark is not None and feed[-1].created <= selection.watermark
        )
        result.completed = len(response.deals) < DEAL_PAGE_SIZE or reached_watermark
        cursor.page += 1
        committed += 1
        with transaction.atomic():
            due = record_candidates(feed, now=now)
            _save_progress(selection, cursor, completed=result.completed, now=now)
        result.due += due
        if report is not None:
            report.processed += due  # committed with the page, so counted as it is
        log.info(
            "deal finder page %s: %s deals, %s due%s",
            cursor.page - 1,
            len(feed),
            due,
            " (scan complete)" if result.completed else "",
        )
        if result.completed:
            break
        if enough_due is not None and _due_worth_fetching(now) >= enough_due:
            break
    return result


def _due_worth_fetching(now: datetime) -> int:
    """The due backlog a scan tops up. Candidates the feed promised no profit are fetched
    last, so they do not count: a pile of them must not stop the pages that bring better."""
    return Candidate.objects.due(now).filter(backlog.worth_fetching()).count()


def _save_progress(selection: DiscoverySelection, cursor: ScanCursor, *, completed: bool, now: datetime):
    """Commit the scan's place with its page; a completed scan moves the watermark (never
    backwards) to the newest deal of its first page and forgets its place."""
    rows = DiscoverySelection.objects.filter(pk=selection.pk)
    if not completed:
        rows.update(scan_cursor=cursor.dump(), last_scan_at=now)
        return
    rows.update(scan_cursor=None, last_scan_at=now)
    if cursor.newest is not None:
        rows.filter(Q(watermark__isnull=True) | Q(watermark__lt=cursor.newest)).update(
            watermark=cursor.newest
        )
    selection.refresh_from_db(fields=["watermark", "scan_cursor", "last_scan_at"])


#: The periodic scan tops the due backlog up to this many minutes of the plan's refill (a
#: product costs a token) and is skipped while it holds that much. Two discovery intervals
#: keep the backfill fed; more would be pages bought long before their products can be.
BACKLOG_MINUTES = 20

#: The most pages a periodic scan reserves up front.
PREPAID_PAGES = 4


def backlog_target(refill_rate: int) -> int:
    """Due candidates a periodic scan tops the backlog up to."""
    return refill_rate * BACKLOG_MINUTES


def pages_to_reserve(due: int, target: int) -> int:
    """The pages that should bring the backlog to ``target``, reserved at once so the
    backfill cannot take the tokens between them."""
    return max(1, min(PREPAID_PAGES, -(-(target - due) // DEAL_PAGE_SIZE)))


@acting_as("discovery")
def run_discovery(
    client, *, now: datetime, max_pages: int = 50, bucket=None, report: RunReport | None = None
) -> RunReport:
    """One scan of the active selection, as a pass report for jobs and the command.

    With the ``bucket`` (the periodic job) the scan tops the backlog up to
    ``BACKLOG_MINUTES`` of the plan's refill, and starts only with the pages it expects to
    need reserved. Without it (the operator's command) it always scans. Into ``report`` when
    given: the job reads what a scan that raised had bought and queued already.
    """
    report = report if report is not None else RunReport()
    selection = active_selection()
    target = prepaid = None
    status = bucket.status() if bucket is not None else None
    if status is not None:
        # Before the first Keepa reading the plan is unknown: assume the smallest, so a
        # fresh start buys a page, not the whole feed.
        target = backlog_target(status.refill_rate or 1)
        due = _due_worth_fetching(now)
        if due >= target:
            report.note = (
                f"scan skipped: {due} promising candidates due, over {BACKLOG_MINUTES} min of refill"
            )
            return report
        if status.known:
            # The bucket grants a lone reservation whatever it costs (Keepa lets a call
            # start on any positive balance), so look at the balance first.
            pages = pages_to_reserve(due, target)
            needed = pages * DEAL_PAGE_COST
            reservation = bucket.reserve(needed) if status.available >= needed else None
            if reservation is None or isinstance(reservation, Refusal):
                report.note = f"waiting for {needed} tokens to reserve {pages} pages"
                next_refill = status.next_refill_seconds or 60.0
                report.wait_seconds = reservation.wait_seconds if reservation else next_refill
                return report
            prepaid = PrepaidBucket(bucket, reservation)
            client = client.with_bucket(prepaid)
    result = None
    try:
        with stop_for_tokens(report):
            result = scan(client, selection, now=now, max_pages=max_pages, enough_due=target, report=report)
    finally:
        if prepaid is not None:
            prepaid.close()
    if result is None:
        return report
    report.errors = [f"{result.rejected} unusable feed entries"] if result.rejected else []
    return report
