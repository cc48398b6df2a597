"""gunicorn settings for dealsite-web.service, in one place so bench/api_load.py measures
exactly what the unit runs (the bench overrides them only to compare candidates).

Sizing (docs/BENCHMARKS.md, "API under load (issue 14)"): a request to /api/deals/ costs
~30 ms of Python CPU and spends about a third of its time waiting on PostgreSQL. Three
processes keep both cores of the shipped host busy with Python; four threads each overlap
those waits and keep connections alive (gthread), so 12 requests are in progress at once
instead of 3 while the rest queue. Each thread holds its own PostgreSQL connection: 12 per
web host. ``GUNICORN_WORKERS`` / ``GUNICORN_THREADS`` in the unit's environment override.
"""

import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "3"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread" if threads > 1 else "sync"
timeout = 60
# Workers exit after this many requests (with jitter, so not all at once): bounds any slow
# growth in memory without a restart.
max_requests = 5000
max_requests_jitter = 500
accesslog = "-"
