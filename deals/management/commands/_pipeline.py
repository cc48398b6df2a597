"""Shared shell for the foreground pipeline commands (backfill, discover, repair)."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.core.management.base import CommandError

from deals.keepa.client import KeepaClient
from deals.keepa.errors import KeepaError, TransientError
from dealsite.cli import UNAVAILABLE
from dealsite.operator_command import OperatorCommand
from tokens.clock import get_clock
from tokens.services import get_bucket, get_ledger


class PipelineCommand(OperatorCommand):
    """Runs one pass in the foreground, printing progress; never sleeps for tokens."""

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=100, help="most items to process (default 100)")

    def run_pass(self, client, bucket, clock, options):
        raise NotImplementedError

    def why_idle(self, now: datetime) -> str | None:
        """Why a pass that did nothing had nothing to do, when the command can tell."""
        return None

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
        clock = get_clock()
        try:
            report = self.run_pass(client, bucket, clock, options)
        except TransientError as exc:
            if exc.status is None:  # no answer at all, after the client's retries
                # The first clause ("/deal connection failed"); the rest is the requests detail.
                raise CommandError(
                    f"Keepa is unreachable at {settings.KEEPA_BASE_URL} ({str(exc).split(':')[0]}, "
                    "after retries): check the network or KEEPA_BASE_URL",
                    returncode=UNAVAILABLE,
                ) from None
            raise CommandError(f"Keepa: {exc}") from None
        except KeepaError as exc:
            raise CommandError(f"Keepa: {exc}") from None
        get_ledger().record(report.spent)
        worked = report.processed + report.failed + report.unchanged + report.verified + report.rejected
        if worked:
            # The pass's final state, even when it drew none (a single batch, or discovery).
            self.progress(report)
            self.stderr.write("")
        self.stdout.write(report.summary())
        if report.wait_seconds is not None:
            self.stdout.write(self.style.WARNING(f"stopped for tokens: retry in {report.wait_seconds:.0f}s"))
        if report.fatal:
            raise CommandError(f"Keepa access paused: {report.fatal}")
        if not worked and not report.stopped and not report.tokens_consumed:
            idle = self.why_idle(clock.now())
            if idle:
                self.stdout.write(f"nothing to do: {idle}")
