"""``/api/deals/`` under concurrent clients, served as production serves it: gunicorn with
the unit's settings (``deploy/gunicorn.conf.py``), DEBUG off, PostgreSQL.

For each gunicorn configuration: one client, then N concurrent clients (closed loop, no
think time), each for ``--seconds``. Clients cycle through the dashboard's typical requests
(the default page, filters, deeper pages; token authentication, keep-alive where the
server allows it). Prints requests/s, p50 and p95, the ratio of the N-client p95 to the
single-client p95 (goal: <= 5) and where the time went: CPU milliseconds per request of the web
workers, of PostgreSQL and of the clients, against the machine's cores, and the floor that
CPU sets: N clients each waiting for N requests' CPU shared by the cores.

    .venv/bin/python bench/api_load.py                      # the unit's settings
    .venv/bin/python bench/api_load.py --config 3x1 --config 2x4 --config 3x8 --pipeline

``--config WxT`` is W workers with T threads each (T > 1 is gthread); without it, the unit's
own. ``--pipeline`` runs two RQ workers and the job chains against the Keepa simulator
meanwhile, as a production host does. ``DATABASE_URL`` defaults to
postgres://postgres@127.0.0.1:5432/dealsite_load (created, migrated and loaded with
``--rows`` deals when missing). Every process started is stopped on exit, Ctrl-C included.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import http.client
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dealsite.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/dealsite_load")
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECRET_KEY", "bench-only-not-a-secret-" + "x" * 40)
os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,testserver")

import django  # noqa: E402

django.setup()

import psutil  # noqa: E402
import redis  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import override_settings  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402

from bench import api_latency  # noqa: E402  (its seeding helpers and requests)
from deals import jobs  # noqa: E402
from dealsite.access import SELLERS_GROUP  # noqa: E402
from keepasim.harness import PipelineStack  # noqa: E402

GOAL_RATIO = 5.0
CONFIG = ROOT / "deploy" / "gunicorn.conf.py"
GUNICORN = Path(sys.executable).parent / "gunicorn"
PAGE_SIZE = 25
#: What the dashboard asks for: mostly the first pages, some filtered, some deeper (verified
#: deals, the list's default).
PATHS = [
    "/api/deals/?" + urlencode({"page_size": PAGE_SIZE, **query, "page": page})
    for query, page in [(query, page) for _, query, _, _, _, page in api_latency.REQUESTS]
    + [({}, page) for page in (2, 3, 4)]
]

STARTED: list[subprocess.Popen] = []


def stop_all() -> None:
    """Stops every process this bench started and their descendants (atexit and signal
    handlers). Descendants are listed first: rq's work horse and scheduler leave the worker's
    process group, so a signal to the group misses them, and once their parent is gone they
    can no longer be found."""
    descendants = []
    for process in STARTED:
        with contextlib.suppress(psutil.Error):
            descendants += psutil.Process(process.pid).children(recursive=True)
    for process in STARTED:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + 15  # for all of them together
    for process in STARTED:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    _, alive = psutil.wait_procs(descendants, timeout=5)
    for process in alive:
        with contextlib.suppress(psutil.Error):
            process.kill()


def _on_signal(signum, _frame) -> None:
    stop_all()
    sys.exit(128 + signum)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class Config:
    workers: int | None  # None: the unit's own (deploy/gunicorn.conf.py)
    threads: int | None

    @classmethod
    def parse(cls, text: str) -> Config:
        workers, _, threads = text.partition("x")
        return cls(int(workers), int(threads or 1))

    def label(self, unit: tuple[int, int]) -> str:
        workers, threads = (self.workers, self.threads) if self.workers else unit
        kind = "gthread" if threads > 1 else "sync"
        return f"{workers}x{threads} {kind}" + (" (unit)" if (workers, threads) == unit else "")


def unit_settings() -> tuple[int, int]:
    namespace: dict = {}
    exec(compile(CONFIG.read_text(), str(CONFIG), "exec"), namespace)  # what gunicorn does with -c
    return namespace["workers"], namespace["threads"]


@contextlib.contextmanager
def gunicorn(config: Config, env: dict[str, str]):
    port = free_port()
    command = [str(GUNICORN), "dealsite.wsgi:application", "-c", str(CONFIG), "--bind", f"127.0.0.1:{port}"]
    if config.workers:  # through the environment, so the config derives the rest as for the unit
        env = {**env, "GUNICORN_WORKERS": str(config.workers), "GUNICORN_THREADS": str(config.threads)}
    log = tempfile.NamedTemporaryFile(prefix="dealsite-load-", suffix=".log", delete=False)  # noqa: SIM115
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    STARTED.append(process)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    sys.exit(f"gunicorn did not start:\n{Path(log.name).read_text()[-3000:]}")
                time.sleep(0.2)
        yield port, process
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        Path(log.name).unlink(missing_ok=True)


class Client(threading.Thread):
    """One closed-loop client: a request, its whole body, the next request."""

    def __init__(self, port: int, token: str, offset: int, until: float, start: threading.Event):
        super().__init__(daemon=True)
        self.port, self.offset, self.until, self.start_event = port, offset, until, start
        self.headers = {"Authorization": f"Token {token}", "Host": "127.0.0.1"}
        self.latencies: list[float] = []
        self.errors = 0

    def run(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        self.start_event.wait()
        index = self.offset
        while time.monotonic() < self.until:
            path = PATHS[index % len(PATHS)]
            index += 1
            started = time.monotonic()
            try:
                connection.request("GET", path, headers=self.headers)
                response = connection.getresponse()
                response.read()
                ok = response.status == 200
            except (OSError, http.client.HTTPException):
                connection.close()
                ok = False
            if ok:
                self.latencies.append(time.monotonic() - started)
            else:
                self.errors += 1


def cpu_seconds(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        with contextlib.suppress(psutil.Error):
            times = process.cpu_times()
            total += times.user + times.system
    return total


def tree(process: subprocess.Popen) -> list[psutil.Process]:
    root = psutil.Process(process.pid)
    return [root, *root.children(recursive=True)]


def backends() -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend serving the bench database (the web's
    connections; other databases on the server are someone else's work)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        pids = [pid for (pid,) in cursor.fetchall()]
    seconds = {}
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            seconds[pid] = cpu_seconds([psutil.Process(pid)])
    return seconds


@dataclass
class Run:
    clients: int
    requests: int
    errors: int
    seconds: float
    p50: float
    p95: float
    web_cpu: float
    db_cpu: float
    client_cpu: float
    busy: float  # percent of all cores busy during the run, whoever used them

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def measure(port: int, server: subprocess.Popen, token: str, clients: int, seconds: float) -> Run:
    start = threading.Event()
    until = time.monotonic() + seconds + 0.2
    threads = [Client(port, token, offset=i, until=until, start=start) for i in range(clients)]
    for thread in threads:
        thread.start()
    web, me = tree(server), [psutil.Process()]
    before = cpu_seconds(web), backends(), cpu_seconds(me)
    psutil.cpu_percent()
    began = time.monotonic()
    start.set()
    for thread in threads:
        while thread.is_alive():  # short waits, so Ctrl-C is handled at once
            thread.join(0.5)
    elapsed = time.monotonic() - began
    after = cpu_seconds(web), backends(), cpu_seconds(me)
    busy = psutil.cpu_percent()
    latencies = [latency for thread in threads for latency in thread.latencies]
    count = len(latencies)
    return Run(
        clients=clients,
        requests=count,
        errors=sum(thread.errors for thread in threads),
        seconds=elapsed,
        p50=api_latency.percentile(latencies, 0.5) * 1000,
        p95=api_latency.percentile(latencies, 0.95) * 1000,
        web_cpu=(after[0] - before[0]) / count * 1000,
        # A backend opened during the run counts from zero; one closed during it is lost.
        db_cpu=sum(cpu - before[1].get(pid, 0.0) for pid, cpu in after[1].items()) / count * 1000,
        client_cpu=(after[2] - before[2]) / count * 1000,
        busy=busy,
    )


def load(rows: int) -> None:
    """``rows`` deals from bench/api_latency.py's generator by COPY, unless already there."""
    table = api_latency.Deal._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table}")
        if cursor.fetchone()[0] >= rows:
            return
        cursor.execute(f"TRUNCATE {table}, {api_latency.Deal.history.model._meta.db_table} RESTART IDENTITY")
        with cursor.cursor.copy(f"COPY {table} ({', '.join(api_latency.COLUMNS)}) FROM STDIN") as copy:
            for row in api_latency.deal_rows(rows):
                copy.write_row(row)
        cursor.execute(f"VACUUM ANALYZE {table}")
    print(f"{table}: loaded {rows:,} deals")


@contextlib.contextmanager
def pipeline(enabled: bool, redis_url: str):
    """Two RQ workers and the job chains on the Keepa simulator (20 tokens/min, 60x time)."""
    if not enabled:
        yield
        return
    logging.getLogger("keepasim.simulator").setLevel(logging.WARNING)  # one line per call
    redis.Redis.from_url(redis_url).flushdb()
    queues = {name: {"URL": redis_url, "DEFAULT_TIMEOUT": 600} for name in ("default", "keepa")}
    stack = PipelineStack(redis_url=redis_url, refill_rate=20, time_scale=60, products=300)
    with override_settings(RQ_QUEUES=queues, REDIS_URL=redis_url), stack:
        STARTED.extend([stack.start_worker(), stack.start_worker()])
        jobs.ensure_all_scheduled()
        try:
            yield
        finally:
            stop_all()  # before the stack's own stop, which would orphan rq's horse and scheduler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", action="append", type=Config.parse, help="WxT: workers x threads")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--pipeline", action="store_true", help="RQ workers and job chains run meanwhile")
    parser.add_argument("--redis-db", type=int, default=13, help="flushed for --pipeline")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("this benchmark needs PostgreSQL: set DATABASE_URL=postgres://...")
    atexit.register(stop_all)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)

    api_latency.create_database()
    load(args.rows)
    user, _ = get_user_model().objects.get_or_create(username="bench-api-load")
    user.groups.add(Group.objects.get_or_create(name=SELLERS_GROUP)[0])  # the API serves sellers
    token = Token.objects.get_or_create(user=user)[0].key
    redis_url = (
        os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0").rsplit("/", 1)[0] + f"/{args.redis_db}"
    )
    env = {
        **os.environ,
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "REDIS_URL": redis_url,
    }
    unit = unit_settings()
    configs = args.config or [Config(None, None)]
    print(
        f"{args.rows:,} deals; {psutil.cpu_count()} cores; {len(PATHS)} request kinds; "
        f"{args.seconds:.0f} s per run; pipeline {'running' if args.pipeline else 'off'}; "
        f"load average before {os.getloadavg()[0]:.1f}\n"
    )
    header = (
        f"{'gunicorn':20} | {'clients':>7} | {'req/s':>6} | {'p50 ms':>7} {'p95 ms':>7} | {'p95 ratio':>9} | "
        f"{'CPU ms/req: web':>15} {'db':>5} {'client':>6} | {'machine %':>9} | errors"
    )
    print(header + "\n" + "-" * len(header), flush=True)
    with pipeline(args.pipeline, redis_url):
        for config in configs:
            with gunicorn(config, env) as (port, server):
                measure(port, server, token, clients=2, seconds=3)  # warm: imports, connections
                single = measure(port, server, token, clients=1, seconds=args.seconds)
                loaded = measure(port, server, token, clients=args.clients, seconds=args.seconds)
            for run in (single, loaded):
                ratio = f"{run.p95 / single.p95:9.1f}" if run is loaded else f"{'':9}"
                print(
                    f"{config.label(unit):20} | {run.clients:7} | {run.rate:6.1f} | "
                    f"{run.p50:7.0f} {run.p95:7.0f} | {ratio} | {run.web_cpu:15.1f} {run.db_cpu:5.1f} "
                    f"{run.client_cpu:6.1f} | {run.busy:9.0f} | {run.errors}",
                    flush=True,
                )
            floor = loaded.clients * (loaded.web_cpu + loaded.db_cpu) / psutil.cpu_count()
            print(
                f"{'':20} | CPU-bound floor at {loaded.clients} clients: {floor:.0f} ms per request "
                f"({floor / single.p95:.1f}x the single-client p95), which no worker or thread count lowers",
                flush=True,
            )
    print(
        f"\nGoal: p95 at {args.clients} clients <= {GOAL_RATIO:.0f}x the single-client p95.\n"
        "CPU ms/req: CPU seconds the gunicorn processes, the PostgreSQL backends serving them and\n"
        f"this bench's clients used per completed request; {psutil.cpu_count()} cores give "
        f"{psutil.cpu_count() * 1000} CPU ms per second in all.\n"
        "machine %: all cores' busy share during the run, whoever used them. errors: non-200 answers\n"
        "and broken connections."
    )


if __name__ == "__main__":
    main()
