"""gunicorn settings for dealsite-web.service, in one place so bench/api_load.py measures
exactly what the unit runs (the bench overrides them only to compare candidates).

Sizing (docs/BENCHMARKS.md, "API under load"): see the figures there before changing these.
"""

import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "3"))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
worker_class = "gthread" if threads > 1 else "sync"
timeout = 60
# Workers exit after this many requests (with jitter, so not all at once): bounds any slow
# growth in memory without a restart.
max_requests = 5000
max_requests_jitter = 500
accesslog = "-"
