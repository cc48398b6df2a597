"""The real pipeline in a box, for end-to-end tests and benchmarks.

An in-process Keepa simulator and real RQ worker processes (``manage.py rqworker``) share
one scaled clock through ``TOKENS_CLOCK_EPOCH``, so hours of Keepa time pass in minutes
while every part (HTTP, Redis, the database, the bucket, rq's scheduler) is the real one.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection

from deals.keepa.facts import unix_to_keepa_minutes
from keepasim.catalogue import build_catalogue
from keepasim.catalogue.generation import VERIFIABLE_SHARE
from keepasim.simulator import KeepaSimulator, SimulatorConfig
from tokens.clock import ScaledClock

API_KEY = "harness-key-0123456789abcdef"


def database_url() -> str:
    """The URL of the database this process uses (the test database under pytest)."""
    params = connection.settings_dict
    if params["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{params['NAME']}"
    credentials = quote(params["USER"], safe="") + (
        f":{quote(params['PASSWORD'], safe='')}" if params.get("PASSWORD") else ""
    )
    return (
        f"postgres://{credentials}@{params['HOST'] or '127.0.0.1'}:{params['PORT'] or 5432}/{params['NAME']}"
    )


@dataclass
class PipelineStack:
    redis_url: str
    refill_rate: int = 20
    time_scale: float = 60.0
    products: int = 300
    start_balance: int | None = None
    seed: int = 1
    # The workers' verification policy (DEALSITE_VERIFY_POLICY): the drills count statistics
    # tokens, so "off" unless a test or bench asks for offers.
    verify_policy: str = "off"
    extra_env: dict[str, str] = field(default_factory=dict)
    simulator_options: dict = field(default_factory=dict)  # more SimulatorConfig fields
    simulator: KeepaSimulator | None = None
    clock: ScaledClock | None = None
    workers: list[subprocess.Popen] = field(default_factory=list)
    log_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="dealsite-harness-")))

    def start(self) -> PipelineStack:
        self._build_catalogue()
        self.clock = ScaledClock(self.time_scale)
        self.simulator = KeepaSimulator(
            SimulatorConfig(
                keys={API_KEY: self.refill_rate},
                start_balance=self.start_balance,
                products=self.products,
                seed=self.seed,
                time_scale=self.time_scale,
                clock=self.clock,
                **self.simulator_options,
            )
        )
        self.simulator.start()
        return self

    def _build_catalogue(self) -> None:
        """Build (and cache) the catalogue before the scaled clock starts: a big one takes
        seconds, which the clock would turn into simulated minutes of refill before any worker
        runs. The simulator then finds it cached for the same hour."""
        anchor = unix_to_keepa_minutes(time.time()) // 60 * 60
        share = self.simulator_options.get("verifiable_share", VERIFIABLE_SHARE)
        build_catalogue(self.seed, self.products, anchor, share)

    @property
    def env(self) -> dict[str, str]:
        env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "REDIS_URL": self.redis_url,
            "KEEPA_API_KEY": API_KEY,
            "KEEPA_BASE_URL": self.simulator.base_url,
            "TOKENS_CLOCK_SCALE": str(self.time_scale),
            "TOKENS_CLOCK_EPOCH": repr(self.clock.epoch),
            "DJANGO_SETTINGS_MODULE": "dealsite.settings",
            "DEALSITE_VERIFY_POLICY": self.verify_policy,
            **self.extra_env,
        }
        env.pop("DATABASE_TEST_NAME", None)
        return env

    def manage(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=check,
        )

    def start_worker(self, *queues: str, env: dict[str, str] | None = None) -> subprocess.Popen:
        """A real ``manage.py rqworker``; its output goes to ``log_dir/worker-N.log``. ``env``
        overrides the stack's environment for this worker only (a misconfigured host)."""
        name = f"harness-{os.getpid()}-{len(self.workers)}"
        return self._start("rqworker", *(queues or ("keepa",)), "--with-scheduler", "--name", name, env=env)

    def start_watchdog(self) -> subprocess.Popen:
        """The cron watchdog (``manage.py watchdog``), logging beside the workers."""
        return self._start("watchdog")

    def _start(self, *command: str, env: dict[str, str] | None = None) -> subprocess.Popen:
        log = open(self.log_dir / f"worker-{len(self.workers)}.log", "w")  # noqa: SIM115 (the child owns it)
        process = subprocess.Popen(
            [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), *command],
            env={**self.env, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.workers.append(process)
        return process

    def worker_logs(self) -> str:
        return "".join(path.read_text(errors="replace") for path in sorted(self.log_dir.glob("worker-*.log")))

    def kill(self, worker: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
        if worker.poll() is None:
            os.killpg(worker.pid, sig)
            worker.wait(timeout=30)

    def stop(self) -> None:
        for worker in self.workers:
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for worker in self.workers:
            try:
                worker.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()
        for worker in self.workers:
            # What a drill's kill -9 of a worker's main process left behind in its group.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(worker.pid, signal.SIGKILL)
        if self.simulator:
            self.simulator.stop()

    def __enter__(self) -> PipelineStack:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
