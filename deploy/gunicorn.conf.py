"""gunicorn settings for dealsite-web.service, in one place so bench/api_load.py measures
exactly what the unit runs (the bench overrides them only to compare candidates).

Sizing (docs/BENCHMARKS.md, "API under load (issue 14)"): a request to /api/deals/ is
CPU-bound, ~30 ms of Python plus ~13 ms in PostgreSQL, and waits on PostgreSQL for about a
quarter of its time. Two cores then stay busy with about 2 / 0.75 ~ 3 requests in progress:
three sync workers. More processes or threads measured no more requests per second (the CPU
is the ceiling) and a longer tail with gthread's defaults, so threads stay at 1.
``GUNICORN_WORKERS`` / ``GUNICORN_THREADS`` in the unit's environment override; on a host with
more cores, keep about 1.5 workers per core.
"""

import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "3"))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
worker_class = "gthread" if threads > 1 else "sync"
# With threads (gthread), a worker accepts a connection only when it has a free thread and
# closes it after the response: gthread's defaults take connections greedily and pin
# keep-alive clients, so a request waits behind a busy worker while another idles (the
# bench's p95 doubled). Sync workers (threads = 1) ignore both.
worker_connections = threads
keepalive = 0
# A worker busy longer than this is killed and its request rolled back. The longest request
# is staff saving the business costs, which recalculates every deal in one transaction:
# about a minute at a million deals (docs/BENCHMARKS.md), longer on an untuned PostgreSQL.
timeout = 180
# Workers exit after this many requests (with jitter, so not all at once): bounds any slow
# growth in memory without a restart.
max_requests = 5000
max_requests_jitter = 500
accesslog = "-"
