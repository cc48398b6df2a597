"""The operator's terminal, as a shell runs it (issue 13).

A second terminal acts on the stack ``make run`` started, with no environment of its own, and
says plainly when none runs; every failure an operator can fix prints one sentence and exit
code 2, never a traceback; a command that does nothing says why. Commands run as
subprocesses of ``manage.py`` with an environment stripped of everything a demo would set.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from django.conf import settings

from deals.tests.test_runstack import LOGIN, Output, free_port, logged_in_session
from dealsite.tests.support import wait_for
from keepasim.simulator import KeepaSimulator, SimulatorConfig
from tokens.bucket import bucket_id_for

MANAGE = str(Path(settings.BASE_DIR) / "manage.py")
#: What runstack gives its children and an operator's shell does not have.
DEMO_SETTINGS = (
    "KEEPA_API_KEY",
    "KEEPA_BASE_URL",
    "TOKENS_CLOCK_SCALE",
    "TOKENS_CLOCK_EPOCH",
    "REDIS_URL",
    "DATABASE_URL",
    "DATABASE_TEST_NAME",
    "DEALSITE_STACK_FILE",
)
NO_STACK = "No stack is running from this checkout"


def terminal(**variables: str) -> dict[str, str]:
    """A fresh shell's environment in this checkout (DEBUG=1, as the README says), plus ``variables``."""
    env = {name: value for name, value in os.environ.items() if name not in DEMO_SETTINGS}
    env.update({"DEBUG": "1", "DJANGO_SETTINGS_MODULE": "dealsite.settings", "PYTHONUNBUFFERED": "1"})
    env.update(variables)
    return env


def manage(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, MANAGE, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def said(result: subprocess.CompletedProcess) -> str:
    return result.stdout + result.stderr


def closed_port_url(scheme: str) -> str:
    return f"{scheme}://127.0.0.1:{free_port()}"


@pytest.fixture(scope="module")
def migrated_template(tmp_path_factory) -> Path:
    """One migrated SQLite file; each test works on its own copy."""
    path = tmp_path_factory.mktemp("operator") / "template.sqlite3"
    result = manage("migrate", "--noinput", "-v", "0", env=terminal(DATABASE_URL=f"sqlite:///{path}"))
    assert result.returncode == 0, said(result)
    return path


@pytest.fixture
def database(migrated_template, tmp_path) -> Path:
    path = tmp_path / "db.sqlite3"
    shutil.copy(migrated_template, path)
    return path


@pytest.fixture
def shell(database, redis_url, real_redis):
    """A terminal that names a database, a Redis and a Keepa key (as a deployment would)."""
    return terminal(DATABASE_URL=f"sqlite:///{database}", REDIS_URL=redis_url, KEEPA_API_KEY="terminal-key")


def audit_rows(database: Path) -> int:
    with sqlite3.connect(database) as connection:
        return connection.execute("SELECT COUNT(*) FROM tokens_rechargeevent").fetchone()[0]


# --- a second terminal sees the stack make run started ------------------------------------


@pytest.mark.slow
def test_a_second_terminal_acts_on_the_running_stack_and_says_when_it_has_stopped(
    tmp_path, redis_url, real_redis
):
    state_file = tmp_path / "var" / "runstack.json"
    port = free_port()
    process = subprocess.Popen(
        # A real-time clock keeps the start-up recharge (from an empty simulated balance)
        # going for minutes, so each pause and release below is the terminal's doing; nothing
        # here reads the deals, so a small catalogue (600 products take seconds to build).
        [sys.executable, MANAGE, "runstack", "--port", str(port), "--time-scale", "1", "--products", "50"],
        env=terminal(
            DATABASE_URL=f"sqlite:///{tmp_path / 'run.sqlite3'}",
            REDIS_URL=redis_url,
            DEALSITE_STACK_FILE=str(state_file),
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output = Output(process.stdout)
    # The second terminal: this checkout's state file, and nothing else of the demo.
    second = terminal(DEALSITE_STACK_FILE=str(state_file))
    try:
        password = output.wait_for(LOGIN, timeout=120).group(1)
        namespace = output.wait_for(re.compile(r"Demo namespace (demo-[0-9a-f]+): a fresh token bucket"), 5)
        output.wait_for(re.compile(r"web\s+\| .*(Starting development server|Quit the server)"), timeout=30)
        base = f"http://127.0.0.1:{port}"
        session = logged_in_session(base, password)
        state = json.loads(state_file.read_text())
        assert state["pid"] == process.pid and state["namespace"] == namespace.group(1)
        assert oct(state_file.stat().st_mode & 0o777) == "0o600", "the state file is its owner's only"

        # The plan is known from the first Keepa reading on; compare the two views after it.
        api = wait_for(
            lambda: (
                (reply := session.get(f"{base}/api/tokens/status/", timeout=10).json())["known"] and reply
            ),
            timeout=90,
            message="the demo's first Keepa reading",
        )
        status = manage("bucket_status", "--json", env=second)
        assert status.returncode in (0, 1), said(status)
        bucket = json.loads(status.stdout)
        assert bucket["bucket_id"] == bucket_id_for(namespace.group(1)), "the demo's own bucket"
        assert bucket["known"] and bucket["capacity"] == api["capacity"] == 1200

        assert api["recharge_active"] is True and api["recharge_reason"] == "startup"
        released = manage("force_pause", "--release", "--reason", "terminal two", env=second)
        assert released.returncode == 0, said(released)
        assert session.get(f"{base}/api/tokens/status/", timeout=10).json()["recharge_active"] is False
        again = manage("force_pause", "--release", env=second)
        assert again.stdout.startswith("not recharging, nothing to release"), said(again)
        paused = manage("force_pause", "--reason", "from the second terminal", env=second)
        assert paused.returncode == 0, said(paused)
        api = session.get(f"{base}/api/tokens/status/", timeout=10).json()
        assert api["recharge_active"] is True and api["recharge_reason"] == "from the second terminal"

        diagnosis = manage("diagnose", "--json", env=second)
        checks = {check["name"]: check for check in json.loads(diagnosis.stdout)}
        assert checks["keepa"]["status"] == "OK", checks["keepa"]

        for command in (
            ["discover", "--limit", "1"],
            ["backfill", "--limit", "3"],
            ["repair", "--limit", "3"],
        ):
            ran = manage(*command, env=second)
            assert ran.returncode == 0, said(ran)
            assert "processed=" in ran.stdout and "Traceback" not in ran.stderr
        scheduled = manage("schedule_jobs", env=second)
        assert scheduled.returncode == 0 and "discover: dealsite-discover-" in scheduled.stdout, said(
            scheduled
        )

        twice = manage("runstack", "--port", str(free_port()), env=second)
        assert twice.returncode == 1 and "A stack is already running from this checkout" in twice.stderr
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        raise AssertionError(f"Ctrl-C did not stop runstack; output:\n{output.text[-4000:]}") from None
    assert not state_file.exists(), "a stopped stack leaves no state behind"
    for command in (["bucket_status"], ["backfill"], ["diagnose"]):
        after = manage(*command, env=second)
        assert after.returncode == 2 and NO_STACK in after.stderr, said(after)
        assert "Traceback" not in said(after)
    assert "Traceback" not in output.text, output.text[-4000:]


def test_a_state_file_left_by_a_killed_stack_is_not_used(tmp_path):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    state_file = tmp_path / "runstack.json"
    state_file.write_text(
        json.dumps(
            {
                "pid": gone.pid,
                "namespace": "demo-0000",
                "settings": {"KEEPA_API_KEY": "demo-0000", "REDIS_URL": "redis://127.0.0.1:1/0"},
            }
        )
    )
    assert not psutil.pid_exists(gone.pid)
    result = manage("bucket_status", env=terminal(DEALSITE_STACK_FILE=str(state_file)))
    assert result.returncode == 2
    assert f"{NO_STACK} (the last one, pid {gone.pid}, has stopped)" in result.stderr


def test_what_the_environment_names_wins_over_no_stack(shell, tmp_path):
    result = manage("bucket_status", env={**shell, "DEALSITE_STACK_FILE": str(tmp_path / "none.json")})
    assert result.returncode == 1 and "no Keepa reading yet" in result.stdout, said(result)


# --- failures read as sentences -----------------------------------------------------------


@pytest.mark.parametrize("command", ["bucket_status", "discover", "migrate"])
def test_a_redis_url_that_is_no_url_is_a_sentence_for_any_command(command):
    result = manage(command, env=terminal(REDIS_URL="notaurl", KEEPA_API_KEY="k"))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "Configuration error: REDIS_URL must be a redis://host:port/db (or rediss://, unix://) URL"
    )


def test_a_database_url_that_is_no_url_is_a_sentence():
    result = manage("backfill", env=terminal(DATABASE_URL="notaurl", KEEPA_API_KEY="k"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("Configuration error: DATABASE_URL is not a database URL")


def test_a_database_that_does_not_answer_is_a_sentence(redis_url):
    url = closed_port_url("postgres").replace("://", "://postgres@") + "/dealsite"
    result = manage(
        "backfill", "--limit", "3", env=terminal(DATABASE_URL=url, REDIS_URL=redis_url, KEEPA_API_KEY="k")
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("The database is unreachable (postgresql 127.0.0.1:")


def test_a_database_that_answers_but_was_never_migrated_is_a_sentence(redis_url, tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    result = manage("backfill", env=terminal(DATABASE_URL=url, REDIS_URL=redis_url, KEEPA_API_KEY="k"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("The database refused the command (sqlite3 ")
    assert "(has `manage.py migrate` run on it?)" in result.stderr


def test_discover_with_redis_down_is_a_sentence(shell):
    result = manage("discover", env={**shell, "REDIS_URL": closed_port_url("redis") + "/0"})
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("Redis is unreachable: ConnectionError at redis://127.0.0.1:")


def test_keepa_out_of_reach_is_a_sentence(shell):
    keepa = closed_port_url("http")
    # A x60 clock: the client's backoff between its four attempts takes a tenth of a second.
    env = {**shell, "KEEPA_BASE_URL": keepa, "TOKENS_CLOCK_SCALE": "60"}
    result = manage("discover", "--limit", "1", env=env)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"Keepa is unreachable at {keepa} (/deal connection failed, after retries)" in result.stderr


# --- commands that do nothing say so ------------------------------------------------------


def test_releasing_when_nothing_recharges_says_so_and_writes_no_audit_row(shell, database):
    result = manage("force_pause", "--release", env=shell)
    assert result.returncode == 0, said(result)
    assert result.stdout.splitlines()[0] == "not recharging, nothing to release"
    assert audit_rows(database) == 0
    manage("force_pause", "--reason", "deploy", env=shell)
    assert "nothing to release" not in manage("force_pause", "--release", env=shell).stdout
    assert audit_rows(database) == 2, "the real start and release are audited"


def test_an_idle_backfill_says_the_backlog_is_empty(shell):
    result = manage("backfill", "--limit", "3", env=shell)
    assert result.returncode == 0, said(result)
    assert "nothing to do: the backlog is empty" in result.stdout
    assert "[" not in result.stderr, "no bar without work"


def test_the_progress_bar_appears_whenever_a_pass_has_work(shell):
    with KeepaSimulator(SimulatorConfig(keys={"terminal-key": 300}, products=50)) as keepa:
        env = {**shell, "KEEPA_BASE_URL": keepa.base_url}
        discovered = manage("discover", "--limit", "1", env=env)
        assert discovered.returncode == 0, said(discovered)
        assert re.search(r"\[[#.]{40}\] processed=", discovered.stderr), discovered.stderr
        backfilled = manage("backfill", "--limit", "3", env=env)
    assert backfilled.returncode == 0, said(backfilled)
    assert re.search(r"\[#+\.*\] processed=3 ", backfilled.stderr), backfilled.stderr
    assert "nothing to do" not in backfilled.stdout
