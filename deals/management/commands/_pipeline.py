"""Shared shell for the foreground pipeline commands (backfill, discover, repair)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from deals.keepa.client import KeepaClient
from deals.keepa.errors import KeepaError
from tokens.clock import get_clock
from tokens.services import get_bucket, get_ledger


class PipelineCommand(BaseCommand):
    """Runs one pass in the foreground, printing progress; never sleeps for tokens."""

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=100, help="most items to process (default 100)")

    def run_pass(self, client, bucket, clock, options):
        raise NotImplementedError

    def progress(self, report) -> None:
        done = report.processed + report.failed + report.unchanged
        filled = min(40, done * 40 // self.limit)
        bar = "#" * filled + "." * (40 - filled)
        self.stderr.write(f"\r[{bar}] {report.summary()}", ending="")
        self.stderr.flush()

    def handle(self, *args, **options):
        if options["limit"] <= 0:
            raise CommandError("--limit must be a positive number")
        self.limit = options["limit"]
        bucket = get_bucket()
        client = KeepaClient.from_settings(bucket=bucket)
        try:
            report = self.run_pass(client, bucket, get_clock(), options)
        except KeepaError as exc:
            raise CommandError(f"Keepa: {exc}") from exc
        get_ledger().record(report.spent)
        self.stderr.write("")
        self.stdout.write(report.summary())
        if report.wait_seconds is not None:
            self.stdout.write(self.style.WARNING(f"stopped for tokens: retry in {report.wait_seconds:.0f}s"))
        if report.fatal:
            raise CommandError(f"Keepa access paused: {report.fatal}")
