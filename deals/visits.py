""" "New deals since your last visit", counted on the server for each user.

A visit is a run of dashboard page loads less than ``VISIT_GAP`` apart. A new visit moves
the user's baseline (``since``) to the end of the previous one, so reloading the page or
opening a second tab keeps counting from the same moment; "Mark as seen" moves it to now.
The count is of displayable deals created after the baseline that match the filters the
user has on, whatever page they look at.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction

from deals.models import DashboardVisit

VISIT_GAP = timedelta(minutes=30)
#: Past this many the count says "more than": counting them all would cost a scan.
COUNT_LIMIT = 1000


@transaction.atomic
def record_visit(user, *, now: datetime) -> DashboardVisit:
    """A dashboard page load; a first visit counts from now (nothing is new yet)."""
    visit = DashboardVisit.objects.select_for_update().filter(user=user).first()
    if visit is None:
        return DashboardVisit.objects.create(user=user, since=now, last_seen_at=now)
    if now - visit.last_seen_at >= VISIT_GAP:
        visit.since = visit.last_seen_at
    visit.last_seen_at = max(visit.last_seen_at, now)
    visit.save(update_fields=["since", "last_seen_at"])
    return visit


@transaction.atomic
def mark_seen(user, *, now: datetime) -> DashboardVisit:
    visit, _ = DashboardVisit.objects.select_for_update().get_or_create(
        user=user, defaults={"since": now, "last_seen_at": now}
    )
    visit.since = visit.last_seen_at = now
    visit.save(update_fields=["since", "last_seen_at"])
    return visit


def baseline(user) -> datetime | None:
    """Since when deals count as new for ``user``; None before their first visit."""
    return DashboardVisit.objects.filter(user=user).values_list("since", flat=True).first()


def count_new(deals, since: datetime | None) -> tuple[int, bool]:
    """(how many of ``deals`` were created after ``since``, exact?): exact up to
    ``COUNT_LIMIT``, "at least" beyond it."""
    if since is None:
        return 0, True
    counted = deals.filter(created_at__gt=since).order_by().values("pk")[: COUNT_LIMIT + 1].count()
    return min(counted, COUNT_LIMIT), counted <= COUNT_LIMIT
