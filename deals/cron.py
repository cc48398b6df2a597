"""Cron configuration for ``manage.py rqcron deals.cron``: the chains' watchdog."""

from rq import cron

from deals.jobs import QUEUE_NAME, watchdog_job

cron.register(watchdog_job, QUEUE_NAME, interval=60, result_ttl=600, name="dealsite-watchdog")
