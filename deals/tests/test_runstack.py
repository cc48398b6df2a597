"""``make run`` end to end: the command the README promises a new user.

``manage.py runstack`` is started as the user would start it (no Keepa key, a fresh SQLite
file), its printed staff login is used to read the API over HTTP, deals must appear within a
minute, and Ctrl-C must stop every process it started.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
import requests
from django.conf import settings

pytestmark = pytest.mark.slow

LOGIN = re.compile(r"Staff login: staff / (\S+)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Output:
    """Collects a process's output on a thread, so a full pipe never blocks it."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for line in stream:
            self.lines.append(line)

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def wait_for(self, pattern: re.Pattern, timeout: float) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = pattern.search(self.text)
            if match:
                return match
            time.sleep(0.2)
        raise AssertionError(f"no {pattern.pattern!r} within {timeout}s; output:\n{self.text[-4000:]}")


def logged_in_session(base: str, password: str) -> requests.Session:
    session = requests.Session()
    session.get(f"{base}/admin/login/", timeout=10)
    response = session.post(
        f"{base}/admin/login/",
        data={
            "username": "staff",
            "password": password,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
            "next": "/admin/",
        },
        headers={"Referer": f"{base}/admin/login/"},
        timeout=10,
    )
    assert response.ok and "sessionid" in session.cookies, "the printed staff login works"
    return session


def test_make_run_shows_deals_within_a_minute_and_ctrl_c_stops_everything(tmp_path, redis_url, real_redis):
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'run.sqlite3'}",
        "REDIS_URL": redis_url,
        "DJANGO_SETTINGS_MODULE": "dealsite.settings",
        "PYTHONUNBUFFERED": "1",
    }
    for name in ("KEEPA_API_KEY", "KEEPA_BASE_URL", "DATABASE_TEST_NAME", "TOKENS_CLOCK_SCALE"):
        env.pop(name, None)
    process = subprocess.Popen(
        [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "runstack", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output = Output(process.stdout)
    try:
        password = output.wait_for(LOGIN, timeout=120).group(1)
        base = f"http://127.0.0.1:{port}"
        output.wait_for(re.compile(r"web\s+\| .*(Starting development server|Quit the server)"), timeout=30)
        session = logged_in_session(base, password)

        started = time.monotonic()
        count = 0
        while time.monotonic() - started < 60 and count == 0:
            response = session.get(f"{base}/api/deals/", timeout=10)
            assert response.status_code == 200, response.text[:500]
            count = response.json()["count"]
            time.sleep(1)
        assert count > 0, f"no deals on the dashboard's API within a minute; output:\n{output.text[-4000:]}"
        assert session.get(f"{base}/", timeout=10).status_code == 200, "the dashboard page answers"
        assert session.get(f"{base}/api/tokens/status/", timeout=10).json()["known"] is True

        children = psutil.Process(process.pid).children(recursive=True)
        assert len(children) >= 4, "web, two workers and the cron scheduler"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C sends to the terminal's group
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        raise AssertionError(f"Ctrl-C did not stop runstack; output:\n{output.text[-4000:]}") from None
    _, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, f"left running after Ctrl-C: {[p.pid for p in alive]}"
    assert "Traceback" not in output.text, output.text[-4000:]
