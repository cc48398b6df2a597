"""Who reads what: staff, and sellers (members of the "sellers" group) who are not staff.

Sellers sign in on the site's own login page and read the dashboard, the deal view and the
API; they never reach the admin (they are not staff), the recharge controls (they lack
``tokens.toggle_recharge``) or any write. A signed-in user in neither group is refused with
a 403 saying why, never a silent redirect loop to the login page.
"""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.shortcuts import render
from rest_framework.permissions import BasePermission

SELLERS_GROUP = "sellers"
REFUSED = "Your account can sign in but is not a seller's: ask staff to add it to the sellers group."


def can_read_deals(user) -> bool:
    """Staff, or an active member of the sellers group."""
    if not (user.is_authenticated and user.is_active):
        return False
    return user.is_staff or user.groups.filter(name=SELLERS_GROUP).exists()


class ReadsDeals(BasePermission):
    """The API's default: without credentials DRF answers 401 (the first authentication
    class names its scheme in ``WWW-Authenticate``); signed in but neither seller nor
    staff, 403 with ``REFUSED``."""

    message = REFUSED

    def has_permission(self, request, view) -> bool:
        return can_read_deals(request.user)


def seller_or_staff_required(view):
    """The pages' guard: anonymous visitors go to the site's login page; a signed-in user in
    neither group gets a 403 page saying what to ask for."""

    @wraps(view)
    def guarded(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not can_read_deals(request.user):
            return render(request, "deals/forbidden.html", {"reason": REFUSED}, status=403)
        return view(request, *args, **kwargs)

    return guarded
