"""``make run``: the whole system on embedded defaults, from one command.

Migrates, creates a staff user and prints its login, uses Redis at ``REDIS_URL`` or starts
a private one, starts the Keepa simulator when no ``KEEPA_API_KEY`` is set (on a scaled
clock, so a recharge and its burst are visible within a minute), then runs the web server,
RQ workers (with the scheduler) and the cron watchdog side by side with prefixed logs.
Ctrl-C stops everything it started.

Each demo run gets its own simulator key, so its token bucket is a namespace of its own on a
shared Redis: it starts clean, never reads another run's bucket and never touches a real
key's. What a second terminal needs to act on the run goes into the checkout's state file
(``dealsite/stack.py``), removed again when the run ends.
"""

from __future__ import annotations

import logging
import os
import secrets
import shlex
import subprocess
import sys
import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from honcho.manager import Manager

from dealsite import stack
from dealsite.embedded_redis import ensure_redis
from tokens.bucket import bucket_id_for
from tokens.clock import ScaledClock

#: Every demo key starts so; the rest is fresh each run (the run's namespace).
DEMO_KEY_PREFIX = "demo-"


class Command(BaseCommand):
    help = "Run web, workers, scheduler and (without KEEPA_API_KEY) the Keepa simulator together."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000, help="web server port (default 8000)")
        parser.add_argument("--workers", type=int, default=2, help="RQ worker processes (default 2)")
        parser.add_argument(
            "--time-scale", type=float, default=60.0, help="demo clock speed (simulator only)"
        )
        parser.add_argument("--refill-rate", type=int, default=20, help="simulated plan, tokens per minute")
        parser.add_argument("--products", type=int, default=600, help="simulated catalogue size")

    def handle(self, *args, **options):
        if options["workers"] < 1 or options["time_scale"] <= 0 or options["refill_rate"] <= 0:
            raise CommandError("--workers, --time-scale and --refill-rate must be positive")
        running = settings.DEALSITE_STACK
        if running is not None and running.alive:
            raise CommandError(
                f"A stack is already running from this checkout: {running.describe()}. "
                "Stop it first (Ctrl-C in its terminal)."
            )
        python = sys.executable
        manage = [python, str(settings.BASE_DIR / "manage.py")]
        env = dict(os.environ)

        redis_url, embedded = ensure_redis(settings.REDIS_URL)
        env["REDIS_URL"] = redis_url
        if embedded:
            self.stdout.write(
                f"Started an embedded Redis at {redis_url} (none answered at {settings.REDIS_URL})."
            )

        simulator = None
        shared = {"REDIS_URL": redis_url}
        if os.environ.get("DATABASE_URL"):
            shared["DATABASE_URL"] = os.environ["DATABASE_URL"]
        if not settings.KEEPA_API_KEY:
            simulator, simulator_env = self._start_simulator(options)
            env.update(simulator_env)
            shared.update(simulator_env)
            self.stdout.write(
                f"Demo namespace {simulator_env['KEEPA_API_KEY']}: a fresh token bucket "
                f"({bucket_id_for(simulator_env['KEEPA_API_KEY'])}) on {redis_url}; "
                "no other run's bucket is read or written."
            )
        # Children get every setting explicitly; only a second terminal reads the state file.
        env["DEALSITE_STACK_FILE"] = ""
        self._prepare(manage, env)
        password = self._staff_password()

        manager = Manager()
        web = f"{shlex.join(manage)} runserver 127.0.0.1:{options['port']} --noreload"
        manager.add_process("web", web, env=env)
        for number in range(1, options["workers"] + 1):
            name = f"dealsite-{number}-{os.getpid()}"
            worker = f"{shlex.join(manage)} rqworker keepa default --with-scheduler -v 0 --name {name}"
            manager.add_process(f"worker{number}", worker, env=env)
        manager.add_process("cron", f"{shlex.join(manage)} watchdog", env=env)

        url = f"http://127.0.0.1:{options['port']}"
        state_file = settings.DEALSITE_STACK_FILE
        if state_file:
            namespace = shared.get("KEEPA_API_KEY", "")
            stack.write(state_file, pid=os.getpid(), settings=shared, namespace=namespace)
        self.stdout.write(
            self.style.SUCCESS(
                f"\nDashboard: {url}/   Admin: {url}/admin/   API: {url}/api/deals/   Docs: {url}/api/docs/\n"
                f"Staff login: staff / {password}\n"
                + (
                    f"Keepa simulator: {simulator.base_url} (key '{shared['KEEPA_API_KEY']}', "
                    f"x{options['time_scale']:g} clock)\n"
                    if simulator
                    else "Keepa: the real API (KEEPA_API_KEY is set)\n"
                )
                + (
                    f"Operator commands in another terminal of this checkout act on this stack "
                    f"(state file {state_file}).\n"
                    if state_file
                    else ""
                )
                + "Ctrl-C stops everything.\n"
            )
        )
        try:
            manager.loop()
        finally:
            if state_file:
                stack.remove(state_file, pid=os.getpid())
            if simulator:
                simulator.stop()
            if embedded:
                embedded.stop()
        sys.exit(manager.returncode or 0)

    def _start_simulator(self, options):
        """The simulator runs in this process; children share its scaled clock via the epoch."""
        # Demo mode only: production code never imports the fake Keepa.
        from keepasim.simulator import KeepaSimulator, SimulatorConfig

        epoch = time.time()
        scale = options["time_scale"]
        key = f"{DEMO_KEY_PREFIX}{secrets.token_hex(4)}"
        simulator = KeepaSimulator(
            SimulatorConfig(
                keys={key: options["refill_rate"]},
                start_balance=0,
                products=options["products"],
                time_scale=scale,
                clock=ScaledClock(scale, epoch),
            )
        )
        simulator.start()
        logging.getLogger("keepasim.simulator").setLevel(logging.WARNING)
        return simulator, {
            "KEEPA_API_KEY": key,
            "KEEPA_BASE_URL": simulator.base_url,
            "TOKENS_CLOCK_SCALE": str(scale),
            "TOKENS_CLOCK_EPOCH": repr(epoch),
        }

    def _prepare(self, manage, env):
        """Migrate, force a recharge (as deploys do) and start the job chains, in the
        children's environment so they see the same Redis, key and clock."""
        for step in (["migrate", "--noinput"], ["force_pause", "--reason", "startup"], ["schedule_jobs"]):
            result = subprocess.run([*manage, *step], env=env, check=False)
            if result.returncode != 0:
                raise CommandError(f"'manage.py {' '.join(step)}' failed (exit {result.returncode})")

    def _staff_password(self) -> str:
        """A fresh password each run: the demo's login is printed, never stored."""
        password = secrets.token_urlsafe(12)
        user, _ = get_user_model().objects.get_or_create(
            username="staff", defaults={"email": "staff@localhost"}
        )
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        return password
