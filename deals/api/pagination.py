"""Page-number pagination whose cost does not grow with the table.

DRF's ``PageNumberPagination`` runs an exact ``COUNT(*)`` of every match on every request;
at a million deals that alone costs 130 ms for the unfiltered list and over 600 ms with the
dashboard's rank and margin filters (``bench/api_latency.py``), whatever the indexes.
Here instead:

- the page is fetched with one extra row, so ``next`` is exact and a page past the end is
  a 404 (as DRF answers) without counting anything; a deep page (offset of 1,000 or more)
  first reads just its keys, so the rows skipped over are index entries, not wide rows;
- ``count`` is exact whenever it can be had cheaply: on the last page (it is the rows
  before it plus the page), and when at most ``exact_count_limit`` rows match (a count
  bounded by a LIMIT);
- beyond that it is PostgreSQL's planner estimate, never less than the rows known to
  exist, and ``count_exact`` says so. On other databases (SQLite in development) the
  count stays exact.
"""

from __future__ import annotations

import json
import re
from collections import OrderedDict

from django.db import connections
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

_WHOLE_NUMBER = re.compile(r"^\d{1,9}$")
MAX_OFFSET = 10**9  # past any real table; keeps OFFSET far from bigint overflow


def bounded_count_and_estimate(queryset, limit: int) -> tuple[int, int | None]:
    """How many rows ``queryset`` has, counting at most ``limit`` of them; and when it has
    more, PostgreSQL's planner estimate of the total (None on other databases). The keys
    query is compiled once and wrapped, by hand, for both."""
    keys_sql, params = queryset.order_by().values("asin").query.sql_with_params()
    connection = connections[queryset.db]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM ({keys_sql} LIMIT {int(limit)}) AS page", params)
        bounded = cursor.fetchone()[0]
        if bounded < limit or connection.vendor != "postgresql":
            return bounded, None
        cursor.execute(f"EXPLAIN (FORMAT JSON) {keys_sql}", params)
        plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return bounded, int(plan[0]["Plan"]["Plan Rows"])


class DealPagination(PageNumberPagination):
    """``count``, ``count_exact``, ``next``, ``previous``, ``results``; ``page_size``
    defaults to 50 and is capped at 200 (a larger value is clamped, a value that is not a
    positive whole number is a 400)."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    exact_count_limit = 10_000
    deferred_join_offset = 1_000

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None or raw == "":
            return self.page_size
        if not _WHOLE_NUMBER.match(raw) or int(raw) < 1:
            raise ValidationError({self.page_size_query_param: ["Enter a whole number of at least 1."]})
        return min(int(raw), self.max_page_size)

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        size = self.get_page_size(request)
        raw = request.query_params.get(self.page_query_param) or "1"
        number = int(raw) if _WHOLE_NUMBER.match(raw) else 0
        offset = (number - 1) * size
        if number < 1 or offset > MAX_OFFSET:
            raise NotFound(self.invalid_page_message)
        rows = self._page(queryset, offset, size + 1)
        self.number, self.has_next = number, len(rows) > size
        rows = rows[:size]
        if not rows and number > 1:
            raise NotFound(self.invalid_page_message)
        self.count, self.count_exact = self._count(queryset, known=offset + len(rows))
        return rows

    def _page(self, queryset, offset: int, limit: int) -> list:
        """``queryset[offset:offset + limit]``; deep pages find their keys first (an index-only
        scan skips the offset without reading a wide row) and then load just those rows."""
        if offset < self.deferred_join_offset:
            return list(queryset[offset : offset + limit])
        keys = list(queryset.values_list("asin", flat=True)[offset : offset + limit])
        rows = {row.asin: row for row in queryset.order_by().filter(asin__in=keys)}
        return [rows[key] for key in keys if key in rows]

    def _count(self, queryset, *, known: int) -> tuple[int, bool]:
        if not self.has_next:
            return known, True
        bounded, estimate = bounded_count_and_estimate(queryset, self.exact_count_limit + 1)
        if bounded <= self.exact_count_limit:
            return bounded, True
        if estimate is None:
            return queryset.count(), True
        return max(estimate, known + 1, self.exact_count_limit + 1), False

    def get_next_link(self):
        if not self.has_next:
            return None
        url = self.request.build_absolute_uri()
        return replace_query_param(url, self.page_query_param, self.number + 1)

    def get_previous_link(self):
        if self.number <= 1:
            return None
        url = self.request.build_absolute_uri()
        if self.number == 2:
            return remove_query_param(url, self.page_query_param)
        return replace_query_param(url, self.page_query_param, self.number - 1)

    def get_paginated_response(self, data):
        return Response(
            OrderedDict(
                [
                    ("count", self.count),
                    ("count_exact", self.count_exact),
                    ("next", self.get_next_link()),
                    ("previous", self.get_previous_link()),
                    ("results", data),
                ]
            )
        )

    def get_paginated_response_schema(self, schema):
        described = super().get_paginated_response_schema(schema)
        described["properties"]["count"]["description"] = (
            f"Matching deals: exact up to {self.exact_count_limit:,} matches and on the last page, "
            "otherwise PostgreSQL's estimate (see count_exact)."
        )
        described["properties"]["count_exact"] = {
            "type": "boolean",
            "description": "false when count is an estimate",
        }
        described["required"] = ["count", "count_exact", "results"]
        return described

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1, "maximum": 999_999_999}
                parameter["description"] = (
                    f"Results per page: default {self.page_size}, values above {self.max_page_size} "
                    f"are clamped to {self.max_page_size}."
                )
            if parameter["name"] == self.page_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1}
                parameter["description"] = "Page number from 1; a page past the end answers 404."
        return parameters
