"""``manage.py diagnose``: every health check as a table (or JSON); exit 1 on any FAIL."""

import json

from django.core.management.base import CommandError

from dealsite.operator_command import OperatorCommand
from diagnostics.checks import Status, run_all


class Command(OperatorCommand):
    help = "Run every health check: OK / WARN / FAIL with a one-line explanation each."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="machine-readable output")
        parser.add_argument("--no-keepa", action="store_true", help="skip the (free) Keepa /token call")

    def handle(self, *args, **options):
        results = run_all(skip=["keepa"] if options["no_keepa"] else [])
        if options["json"]:
            self.stdout.write(json.dumps([result.as_dict() for result in results], indent=2, default=str))
        else:
            width = max(len(result.name) for result in results)
            for result in results:
                line = f"{result.status:<4}  {result.name:<{width}}  {result.explanation}"
                style = {Status.OK: self.style.SUCCESS, Status.WARN: self.style.WARNING}.get(
                    result.status, self.style.ERROR
                )
                self.stdout.write(style(line))
        failed = [result.name for result in results if result.status == Status.FAIL]
        if failed:
            raise CommandError(f"failed checks: {', '.join(failed)}", returncode=1)
