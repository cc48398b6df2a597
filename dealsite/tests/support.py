"""Helpers the tests of every app share (the app-specific ones live in that app's tests)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dealsite.access import SELLERS_GROUP

T = TypeVar("T")


def wait_for(condition: Callable[[], T], *, timeout: float, interval: float = 0.25, message: str) -> T:
    """Poll ``condition`` until it is truthy and return what it gave; fail the test after
    ``timeout`` seconds. For real processes (workers, servers) that settle in their own time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


def make_seller(user_model, username: str = "seller", password: str = "a-long-test-password-1", **fields):
    """A user in the "sellers" group: reads, never writes. (Migration deals 0011 makes the
    group; a transactional test's flush removes it, hence get_or_create.)"""
    user = user_model.objects.create_user(username, password=password, **fields)
    user.groups.add(Group.objects.get_or_create(name=SELLERS_GROUP)[0])
    return user


def index_plans(run: Callable[[], object]) -> list[str]:
    """PostgreSQL's plans for the SELECTs ``run()`` sends, with sequential scans and sorts
    priced out: what a million rows would get, whatever a test's few rows make the planner
    prefer. A plan that still sorts has no index that gives its order."""
    with CaptureQueriesContext(connection) as queries:
        run()
    plans = []
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("SET LOCAL enable_incremental_sort = off")
        for query in queries:
            if query["sql"].lstrip().upper().startswith("SELECT"):
                cursor.execute("EXPLAIN " + query["sql"])
                plans.append("\n".join(row[0] for row in cursor.fetchall()))
        cursor.execute("RESET enable_seqscan")
        cursor.execute("RESET enable_sort")
        cursor.execute("RESET enable_incremental_sort")
    return plans
