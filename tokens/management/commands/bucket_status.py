"""Print the shared Keepa token bucket's state; the exit code says whether it is healthy.

Exit codes: 0 healthy, 1 unhealthy (no reading yet, stale, or paused by a fatal error),
2 Redis unreachable.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.core.management.base import CommandError
from redis.exceptions import RedisError

from dealsite.operator_command import OperatorCommand
from tokens.ledger import describe
from tokens.reporting import problems, render
from tokens.services import get_bucket, get_ledger


class Command(OperatorCommand):
    help = "Show the Keepa token bucket: balance, refill, recharge progress, in-flight calls, health."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print the state as JSON")
        parser.add_argument(
            "--stale-after",
            type=float,
            default=None,
            metavar="SECONDS",
            help="a last Keepa reading older than this is unhealthy "
            "(default: the recharge timeout plus 15 minutes)",
        )

    def handle(self, *args, **options):
        stale_after = options["stale_after"]
        if stale_after is None:
            stale_after = settings.TOKENS["RECHARGE_TIMEOUT_SECONDS"] + 900
        if stale_after <= 0:
            raise CommandError("--stale-after must be a positive number of seconds")
        bucket = get_bucket()
        try:
            status = bucket.status()
            spent = get_ledger().last(3600)
        except RedisError as exc:
            raise CommandError(f"Redis is unreachable: {type(exc).__name__}", returncode=2) from None
        found = problems(status, stale_after_seconds=stale_after)
        if options["json"]:
            data = {
                "bucket_id": bucket.bucket_id,
                **status.as_dict(),
                "spent_last_hour": spent,
                "healthy": not found,
                "problems": found,
            }
            self.stdout.write(json.dumps(data, indent=2))
        else:
            self.stdout.write(f"Keepa token bucket {bucket.bucket_id}")
            self.stdout.write(render(status))
            self.stdout.write(f"last hour     {describe(spent)}")
            for problem in found:
                self.stdout.write(self.style.WARNING(f"unhealthy: {problem}"))
        if found:
            raise CommandError("; ".join(found), returncode=1)
