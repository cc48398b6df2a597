"""The base of the commands an operator runs against a live system (bucket_status,
force_pause, diagnose, discover, backfill, repair, schedule_jobs).

In development they act on the stack ``make run`` started from this checkout (settings read
its state file, ``dealsite/stack.py``). When none runs and the environment names no Keepa key,
acting anyway would read or write a bucket nothing uses, so they say that instead.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from dealsite.cli import UNAVAILABLE


class OperatorCommand(BaseCommand):
    def execute(self, *args, **options):
        if settings.DEALSITE_NO_STACK:
            raise CommandError(settings.DEALSITE_NO_STACK, returncode=UNAVAILABLE)
        return super().execute(*args, **options)
