from deals.backfill import run_backfill
from deals.backlog import why_idle
from deals.jobs import bucket_plan

from ._pipeline import PipelineCommand


class Command(PipelineCommand):
    help = "Fetch due candidates and stale deals once, in the foreground."

    def run_pass(self, client, bucket, clock, options):
        return run_backfill(
            client, clock=clock, plan=bucket_plan(bucket), limit=options["limit"], progress=self.progress
        )

    def why_idle(self, now):
        return why_idle(now)
