from deals.discovery import run_discovery

from ._pipeline import PipelineCommand


class Command(PipelineCommand):
    help = "Scan the deal finder once and record candidates, in the foreground (--limit: pages)."

    def run_pass(self, client, bucket, clock, options):
        return run_discovery(client, now=clock.now(), max_pages=options["limit"])
