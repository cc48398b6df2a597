from deals.repair import run_repair

from ._pipeline import PipelineCommand


class Command(PipelineCommand):
    help = "Re-fetch incomplete deals once, ignoring the cache, in the foreground."

    def run_pass(self, client, bucket, clock, options):
        return run_repair(client, clock=clock, limit=options["limit"])
