"""Who reads what: staff, and sellers (members of the "sellers" group) who are not staff.

Sellers sign in on the site's own login page and read the dashboard, the deal view and the
API; they never reach the admin (they are not staff), the recharge controls (they lack
``tokens.toggle_recharge``) or any write. A signed-in user in neither group is refused with
a 403 saying why, never a silent redirect loop to the login page.

Whether a user is a seller is asked in the query that loads them on every request (session
and token alike), not in a query of its own: one query fewer per request, and as fresh, so
a seller taken out of the group is refused from their next request on.
"""

from __future__ import annotations

from functools import wraps

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group
from django.contrib.auth.views import redirect_to_login
from django.db.models import Exists, OuterRef
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.permissions import BasePermission

SELLERS_GROUP = "sellers"
REFUSED = "Your account can sign in but is not a seller's: ask staff to add it to the sellers group."
#: The attribute a user loaded by the site's authentication carries: in the sellers group?
IN_SELLERS_GROUP = "in_sellers_group"


def in_sellers_group(user_id: str = "pk") -> Exists:
    """Whether the user whose id is the outer query's ``user_id`` is a seller, as a column."""
    return Exists(Group.user_set.through.objects.filter(user_id=OuterRef(user_id), group__name=SELLERS_GROUP))


def can_read_deals(user) -> bool:
    """Staff, or an active member of the sellers group (asked of the database unless the
    user was loaded knowing it)."""
    if not (user.is_authenticated and user.is_active):
        return False
    if user.is_staff:
        return True
    known = getattr(user, IN_SELLERS_GROUP, None)
    return user.groups.filter(name=SELLERS_GROUP).exists() if known is None else known


class SellerAwareBackend(ModelBackend):
    """Django's ``ModelBackend`` whose session user comes with ``IN_SELLERS_GROUP``."""

    def get_user(self, user_id):
        model = get_user_model()
        try:
            user = model._default_manager.annotate(**{IN_SELLERS_GROUP: in_sellers_group()}).get(pk=user_id)
        except model.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None


class SellerAwareTokenAuthentication(authentication.TokenAuthentication):
    """DRF's token authentication whose user comes with ``IN_SELLERS_GROUP``."""

    def authenticate_credentials(self, key):
        model = self.get_model()
        flag = in_sellers_group("user_id")
        tokens = model.objects.select_related("user").annotate(**{IN_SELLERS_GROUP: flag})
        try:
            token = tokens.get(key=key)
        except model.DoesNotExist:
            raise exceptions.AuthenticationFailed(_("Invalid token.")) from None
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        setattr(token.user, IN_SELLERS_GROUP, getattr(token, IN_SELLERS_GROUP))
        return token.user, token


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
