from django.core.management.base import BaseCommand

from deals.jobs import ensure_all_scheduled


class Command(BaseCommand):
    help = "Start the discover/backfill/repair job chains unless they are already running (idempotent)."

    def handle(self, *args, **options):
        for kind, job_id in ensure_all_scheduled().items():
            self.stdout.write(f"{kind}: {job_id}")
