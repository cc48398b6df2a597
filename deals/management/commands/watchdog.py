from django.core.management.base import BaseCommand

from deals.worker import WatchdogScheduler


class Command(BaseCommand):
    help = (
        "Run the cron watchdog (deals/cron.py): re-creates lost job chains and closes runs whose "
        "worker died, every DEALSITE_WATCHDOG_SECONDS; keeps running through Redis outages."
    )

    def handle(self, *args, **options):
        scheduler = WatchdogScheduler()
        scheduler.load_config_from_file("deals.cron")
        scheduler.start()
