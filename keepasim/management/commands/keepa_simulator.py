"""``manage.py keepa_simulator``: run the Keepa simulator in the foreground until Ctrl-C."""

from __future__ import annotations

import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from keepasim.simulator import KeepaSimulator, SimulatorConfig
from tokens.clock import ScaledClock


class Command(BaseCommand):
    help = "Serve a Keepa-compatible API (tokens, products, offers, deals, sellers) for demos and tests."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument(
            "--key", action="append", dest="keys", help="an accepted API key (repeatable; others get 402)"
        )
        parser.add_argument("--refill-rate", type=int, default=5, help="tokens per minute for every key")
        parser.add_argument("--start-balance", type=int, default=None, help="default: a full bucket")
        parser.add_argument(
            "--time-scale",
            type=float,
            default=1.0,
            help="Keepa seconds per real second (60: a minute a second)",
        )
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--products", type=int, default=500)
        parser.add_argument("--latency-ms", type=int, default=0)
        parser.add_argument("--error-rate", type=float, default=0.0, help="share of requests answered 500")
        parser.add_argument(
            "--slow-rate", type=float, default=0.0, help="share answered after --slow-seconds"
        )
        parser.add_argument("--slow-seconds", type=float, default=40.0)
        parser.add_argument("--malformed-rate", type=float, default=0.0, help="share with truncated JSON")
        parser.add_argument("--drop-rate", type=float, default=0.0, help="share closed without an answer")
        parser.add_argument(
            "--offers-failure-rate",
            type=float,
            default=0.0,
            help="share of products whose offers cannot be fetched (charged 1 token)",
        )
        parser.add_argument(
            "--verifiable-share",
            type=float,
            default=0.6,
            help="share of cheap used copies that can really be bought at a profit",
        )

    def handle(self, *args, **options):
        if options["refill_rate"] <= 0 or options["time_scale"] <= 0 or options["products"] < 0:
            raise CommandError("--refill-rate and --time-scale must be positive, --products not negative")
        for name in (
            "error_rate",
            "slow_rate",
            "malformed_rate",
            "drop_rate",
            "offers_failure_rate",
            "verifiable_share",
        ):
            if not 0 <= options[name] <= 1:
                raise CommandError(f"--{name.replace('_', '-')} must be between 0 and 1")
        keys = options["keys"] or ["demo"]
        # A shared epoch (TOKENS_CLOCK_EPOCH) lets the workers of a demo agree on scaled time.
        epoch = settings.TOKENS.get("CLOCK_EPOCH")
        clock = ScaledClock(options["time_scale"], epoch) if options["time_scale"] != 1 else None
        config = SimulatorConfig(
            keys={key: options["refill_rate"] for key in keys},
            start_balance=options["start_balance"],
            time_scale=options["time_scale"],
            seed=options["seed"],
            products=options["products"],
            latency_ms=options["latency_ms"],
            error_rate=options["error_rate"],
            slow_rate=options["slow_rate"],
            slow_seconds=options["slow_seconds"],
            malformed_rate=options["malformed_rate"],
            drop_rate=options["drop_rate"],
            offers_failure_rate=options["offers_failure_rate"],
            verifiable_share=options["verifiable_share"],
            host=options["host"],
            port=options["port"],
            clock=clock,
        )
        simulator = KeepaSimulator(config)
        try:
            url = simulator.start()
        except OSError as exc:
            raise CommandError(f"cannot listen on {options['host']}:{options['port']}: {exc}") from None
        self.stdout.write(
            f"Keepa simulator on {url}: {len(keys)} key(s), {options['refill_rate']} tokens/min, "
            f"time x{options['time_scale']:g}, {options['products']} products (seed {options['seed']}). "
            "Ctrl-C to stop."
        )
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            self.stdout.write("stopping")
        finally:
            simulator.stop()
