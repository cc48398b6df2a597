from deals.backfill import run_backfill
from deals.jobs import bucket_plan

from ._pipeline import PipelineCommand


class Command(PipelineCommand):
    help = "Fetch due candidates and stale deals once, in the foreground."

    def run_pass(self, client, bucket, clock, options):
        return run_backfill(
            client, clock=clock, plan=bucket_plan(bucket), limit=options["limit"], progress=self.progress
        )
