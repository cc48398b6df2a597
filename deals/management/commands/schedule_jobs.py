from deals.jobs import abandon_dead_runs, ensure_all_scheduled
from dealsite.operator_command import OperatorCommand


class Command(OperatorCommand):
    help = (
        "Start the discover/backfill/repair job chains unless they are already running "
        "(idempotent), replacing dead chain jobs and closing runs whose worker died: one watchdog run."
    )

    def handle(self, *args, **options):
        for kind, job_id in ensure_all_scheduled().items():
            self.stdout.write(f"{kind}: {job_id}")
        abandoned = abandon_dead_runs()
        if abandoned:
            self.stdout.write(f"marked {abandoned} run(s) of killed jobs abandoned")
