"""``/healthz`` for load balancers: cheap (no Keepa call), JSON, 200 or 503, no auth."""

from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET

from diagnostics.checks import CheckResult, Status, check_redis, run_check


def _database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return CheckResult("database", Status.OK, "reachable", {})


@require_GET
def healthz(request):
    results = [run_check("database", _database), run_check("redis", check_redis)]
    healthy = all(result.status == Status.OK for result in results)
    body = {"status": "ok" if healthy else "fail", "checks": {r.name: r.explanation for r in results}}
    return JsonResponse(body, status=200 if healthy else 503)
