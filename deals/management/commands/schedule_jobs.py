from deals.jobs import ensure_all_scheduled
from dealsite.operator_command import OperatorCommand


class Command(OperatorCommand):
    help = "Start the discover/backfill/repair job chains unless they are already running (idempotent)."

    def handle(self, *args, **options):
        for kind, job_id in ensure_all_scheduled().items():
            self.stdout.write(f"{kind}: {job_id}")
