from deals import backlog
from deals.backfill import run_backfill
from deals.backlog import why_idle
from deals.jobs import bucket_plan

from ._pipeline import PipelineCommand


class Command(PipelineCommand):
    help = "Fetch due candidates and stale deals once, in the foreground."

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--retry-failed",
            action="store_true",
            help="first make every candidate that failed for good due again, with fresh attempts",
        )

    def run_pass(self, client, bucket, clock, options):
        if options["retry_failed"]:
            count = backlog.retry_failed(now=clock.now())
            self.stdout.write(f"{count} failed candidates are due again")
        return run_backfill(
            client, clock=clock, plan=bucket_plan(bucket), limit=options["limit"], progress=self.progress
        )

    def why_idle(self, now):
        return why_idle(now)
