"""``manage.py keepa_simulator``: argument checks, and serving until Ctrl-C without logging keys."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from django.core.management import CommandError, call_command


def test_command_rejects_bad_rates():
    with pytest.raises(CommandError):
        call_command("keepa_simulator", "--error-rate", "2")


@pytest.mark.slow
def test_command_serves_until_interrupted():
    root = Path(__file__).resolve().parents[2]
    process = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "keepa_simulator",
            "--port",
            "0",
            "--key",
            "a",
            "--key",
            "b",
            "--products",
            "20",
        ],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        banner = process.stdout.readline()
        base = re.search(r"on (http://[0-9.]+:[0-9]+)", banner).group(1)
        assert requests.get(f"{base}/token", params={"key": "b"}, timeout=5).status_code == 200
        assert requests.get(f"{base}/token", params={"key": "c"}, timeout=5).status_code == 402
    finally:
        process.send_signal(signal.SIGINT)
        _, errors = process.communicate(timeout=10)
    assert process.returncode == 0
    assert "GET /token -> 402" in errors and "key=" not in errors
