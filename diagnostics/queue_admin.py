"""django-rq's queue pages (jobs, workers, delete/requeue/stop, empty a queue) for operators
who hold the permission, not for every staff user.

django-rq checks only ``is_staff``, on both of its mounts: ``/admin/django-rq/`` (our
urls.py) and ``/admin/django_rq/dashboard/`` (its ModelAdmin). Both go through
``require_queue_permission`` here. The permission is django-rq's own ``django_rq.admin``
("Access admin page"), granted in the admin like any other; superusers hold every permission.
The admin index shows the link to exactly those who may follow it.
"""

from __future__ import annotations

from functools import wraps

from django.core.exceptions import PermissionDenied
from django.urls import URLPattern
from django_rq import admin as rq_admin
from django_rq import urls as rq_urls

PERMISSION = "django_rq.admin"


def may_manage_queues(user) -> bool:
    return user.is_active and user.has_perm(PERMISSION)


def require_queue_permission(view):
    """A staff user without the permission gets 403; anyone not signed in as staff falls
    through to django-rq's own check, which sends them to the admin login."""

    @wraps(view)
    def guarded(request, *args, **kwargs):
        if request.user.is_staff and not may_manage_queues(request.user):
            raise PermissionDenied(f"the job queues need the {PERMISSION} permission")
        return view(request, *args, **kwargs)

    return guarded


def guarded_patterns(patterns: list[URLPattern]) -> list[URLPattern]:
    for pattern in patterns:
        pattern.callback = require_queue_permission(pattern.callback)
    return patterns


def urlpatterns() -> list[URLPattern]:
    """django-rq's pages for ``include(..., namespace="django_rq")``. ``stats.json`` and the
    metrics stay as django-rq has them: read-only, for staff or its API token."""
    return rq_urls.get_api_urlpatterns() + guarded_patterns(rq_urls.get_admin_urlpatterns())


class QueueAdmin(rq_admin.QueueAdmin):
    """django-rq's admin entry, its pages and its index link behind the same permission."""

    def has_module_permission(self, request):
        return may_manage_queues(request.user)

    def has_view_permission(self, request, obj=None):
        return may_manage_queues(request.user)

    def has_change_permission(self, request, obj=None):
        return may_manage_queues(request.user)

    def get_urls(self):
        api = {pattern.name for pattern in rq_urls.get_api_urlpatterns(name_prefix="django_rq_")}
        urls = super().get_urls()
        return [pattern for pattern in urls if pattern.name in api] + guarded_patterns(
            [pattern for pattern in urls if pattern.name not in api]
        )
