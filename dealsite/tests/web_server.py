"""A real web server process for drills: gunicorn (as deployed) or runserver (as ``make run``),
on a free port, in its own process group, stopped however the test ends."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import requests

from dealsite.tests.support import wait_for

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).parent / "gunicorn"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def production_env(**overrides: str) -> dict[str, str]:
    """DEBUG off with a real secret, over plain HTTP on 127.0.0.1 (no TLS in a drill)."""
    return {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "dealsite.settings",
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "DATABASE_CONN_MAX_AGE": "0",
        **overrides,
    }


@dataclass
class Server:
    base: str
    process: subprocess.Popen
    log: Path

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace")


def _start(command: list[str], env: dict[str, str]) -> tuple[subprocess.Popen, Path]:
    log = Path(tempfile.mkstemp(prefix="dealsite-server-", suffix=".log")[1])
    with log.open("w") as out:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    return process, log


@contextlib.contextmanager
def serve(kind: str, env: dict[str, str]) -> Iterator[Server]:
    """``kind`` is "gunicorn" (one sync worker) or "runserver"; yields once it answers."""
    port = free_port()
    if kind == "gunicorn":
        command = [
            str(GUNICORN),
            "dealsite.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
        ]
    else:
        command = [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"]
    process, log = _start(command, env)
    server = Server(f"http://127.0.0.1:{port}", process, log)
    try:

        def answers() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"{kind} exited with {process.returncode}:\n{server.output[-3000:]}")
            with contextlib.suppress(requests.RequestException):
                return requests.get(f"{server.base}/healthz", timeout=10) is not None
            return False

        wait_for(answers, timeout=180, message=f"{kind} on port {port}")
        yield server
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.unlink(missing_ok=True)
