"""Turn the token bucket's recharge mode on (deploys do this) or off with ``--release``;
``--clear-fatal`` lifts a pause a 402 caused. Every change is audited; prints the state."""

from __future__ import annotations

from django.core.management.base import CommandError
from redis.exceptions import RedisError

from dealsite.operator_command import OperatorCommand
from tokens import services
from tokens.bucket import REASON_MAX_LENGTH
from tokens.reporting import render


class Command(OperatorCommand):
    help = "Force the Keepa token bucket into recharge mode (or release it)."

    def add_arguments(self, parser):
        action = parser.add_mutually_exclusive_group()
        action.add_argument("--release", action="store_true", help="end recharge mode now")
        action.add_argument(
            "--clear-fatal", action="store_true", help="lift the pause a fatal Keepa error (402) caused"
        )
        parser.add_argument("--reason", default="", help="why (recorded in the audit log)")
        parser.add_argument(
            "--actor", choices=["command", "deploy"], default="command", help="who asks (deploys say so)"
        )

    def handle(self, *args, **options):
        reason = options["reason"].strip()
        if len(reason) > REASON_MAX_LENGTH:
            raise CommandError(f"--reason is longer than {REASON_MAX_LENGTH} characters")
        actor = options["actor"]
        bucket = services.get_bucket()
        note = None
        try:
            if options["clear_fatal"]:
                status = services.release_fatal(bucket, reason=reason or "cleared by operator", actor=actor)
            else:
                active = not options["release"]
                default = "forced by operator" if active else "released by operator"
                status, note = services.toggle_recharge(
                    bucket, active=active, reason=reason or default, actor=actor
                )
        except RedisError as exc:
            raise CommandError(f"Redis is unreachable: {type(exc).__name__}", returncode=2) from None
        if note:
            self.stdout.write(note)
        self.stdout.write(f"state: {status.state}")
        self.stdout.write(render(status))
