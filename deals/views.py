"""The dashboard page: a shell the browser fills from ``/api/deals/`` and ``/api/tokens/status/``.

The view renders no deal itself, so the page can only ever show what the API (and its one
zombie rule) returns; it hands the script the URLs, the server's clock and the built-in
presets, and records the visit that "new since your last visit" counts from.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import timezone

from deals import visits
from deals.models import Deal
from deals.presets import BUILT_IN
from tokens.clock import get_clock

PAGE_SIZES = (25, 50, 100)


@login_required
def dashboard(request):
    categories = (
        Deal.objects.displayable()
        .exclude(category="")
        .order_by("category")
        .values_list("category", flat=True)
        .distinct()[:200]
    )
    visit = visits.record_visit(request.user, now=get_clock().now())
    return render(
        request,
        "deals/dashboard.html",
        {
            "categories": list(categories),
            "page_sizes": PAGE_SIZES,
            "server_now": timezone.now().isoformat(),
            "new_since": visit.since.isoformat(),
            "built_in_presets": BUILT_IN,
        },
    )
