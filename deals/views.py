"""The pages: the dashboard, a shell the browser fills from ``/api/deals/`` and
``/api/tokens/status/``, and the deal view a seller opens before buying.

The dashboard renders no deal itself, so it can only ever show what the API (and its one
zombie rule) returns; it hands the script the URLs, the server's clock and the built-in
presets, and records the visit that "new since your last visit" counts from. The deal view
is drawn on the server (``deals.deal_view``), charts included, from displayable deals only;
staff may open any deal, a hidden one with the reason, and see its change history.
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from deals import deal_view, visits
from deals.models import Deal
from deals.presets import BUILT_IN
from dealsite.access import seller_or_staff_required
from tokens.clock import get_clock

PAGE_SIZES = (25, 50, 100)


@seller_or_staff_required
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


@seller_or_staff_required
def deal_detail(request, asin: str):
    staff = request.user.is_staff
    deal = get_object_or_404(Deal.objects.all() if staff else Deal.objects.displayable(), asin=asin)
    now = get_clock().now()
    context = {
        "deal": deal,
        "now": now,
        "displayable": Deal.objects.displayable().filter(pk=deal.pk).exists(),
        "price_chart": deal_view.price_chart(deal, now),
        "rank_chart": deal_view.rank_chart(deal, now),
        "months": deal_view.sales_by_month(deal),
        "figures": deal_view.figures(deal),
        "offers": deal_view.offers(deal, now),
        "changes": deal_view.change_history(deal) if staff else None,
    }
    return render(request, "deals/deal.html", context)
