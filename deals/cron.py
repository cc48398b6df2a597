"""Cron configuration for ``manage.py watchdog``: the chains' watchdog."""

from django.conf import settings
from rq import cron

from deals.jobs import QUEUE_NAME, watchdog_job

cron.register(
    watchdog_job,
    QUEUE_NAME,
    interval=settings.DEALSITE_WORKERS["WATCHDOG_SECONDS"],
    result_ttl=600,
    name="dealsite-watchdog",
)
