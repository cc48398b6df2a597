"""``/healthz`` for load balancers: cheap (no Keepa call), JSON, 200 or 503, no auth.

Anyone may ask whether the site is healthy; only staff are told why. An anonymous caller
gets ``{"status": "ok"}`` or ``{"status": "fail"}`` with the status code, because a failing
check's message names hosts, ports and versions (``manage.py diagnose`` says all of it).
"""

from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from diagnostics.checks import CheckResult, Status, check_redis, run_check


def _database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return CheckResult("database", Status.OK, "reachable", {})


@never_cache
@require_GET
def healthz(request):
    results = [run_check("database", _database), run_check("redis", check_redis)]
    healthy = all(result.status == Status.OK for result in results)
    body = {"status": "ok" if healthy else "fail"}
    if request.user.is_active and request.user.is_staff:
        body["checks"] = {r.name: r.explanation for r in results}
    return JsonResponse(body, status=200 if healthy else 503)
