"""What settings take from ``make run``'s state file, and when they take nothing."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from dealsite import stack

DEMO = {
    "REDIS_URL": "redis://127.0.0.1:6390/0",
    "DATABASE_URL": "sqlite:////tmp/demo.sqlite3",
    "KEEPA_API_KEY": "demo-1a2b3c4d",
    "KEEPA_BASE_URL": "http://127.0.0.1:5555",
    "TOKENS_CLOCK_SCALE": "60.0",
    "TOKENS_CLOCK_EPOCH": "1700000000.0",
}


@pytest.fixture
def live(tmp_path):
    path = tmp_path / "runstack.json"
    stack.write(path, pid=os.getpid(), settings=DEMO, namespace="demo-1a2b3c4d")
    return stack.read(path)


def test_a_live_stack_supplies_what_the_environment_does_not_name(live):
    assert live.alive and live.namespace == "demo-1a2b3c4d"
    assert stack.environment(live, {}) == DEMO
    assert stack.environment(live, {"REDIS_URL": "redis://elsewhere:6379/1"}).keys() == DEMO.keys() - {
        "REDIS_URL"
    }


def test_a_real_key_in_the_environment_never_meets_the_demos_url_or_clock(live):
    added = stack.environment(live, {"KEEPA_API_KEY": "real-key"})
    assert added == {"REDIS_URL": DEMO["REDIS_URL"], "DATABASE_URL": DEMO["DATABASE_URL"]}


def test_a_dead_stack_supplies_nothing_and_says_it_stopped(tmp_path):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    path = tmp_path / "runstack.json"
    stack.write(path, pid=gone.pid, settings=DEMO, namespace="demo-1a2b3c4d")
    dead = stack.read(path)
    assert not dead.alive and stack.environment(dead, {}) == {}
    assert f"(the last one, pid {gone.pid}, has stopped)" in stack.no_stack_message(dead)
    assert stack.no_stack_message(None).startswith("No stack is running from this checkout:")


def test_a_stack_on_the_real_api_says_its_key_is_the_terminals_to_give(tmp_path):
    path = tmp_path / "runstack.json"
    stack.write(path, pid=os.getpid(), settings={"REDIS_URL": DEMO["REDIS_URL"]}, namespace="")
    assert "set KEEPA_API_KEY in this terminal too" in stack.no_stack_message(stack.read(path))


def test_the_file_is_its_owners_and_holds_only_stack_settings(tmp_path):
    path = tmp_path / "var" / "runstack.json"
    stack.write(path, pid=os.getpid(), settings=DEMO, namespace="demo-1a2b3c4d")
    assert path.stat().st_mode & 0o777 == 0o600
    with pytest.raises(ValueError, match="SECRET_KEY"):
        stack.write(path, pid=os.getpid(), settings={"SECRET_KEY": "x"}, namespace="")


def test_only_the_stack_that_wrote_the_file_removes_it(live):
    stack.remove(live.path, pid=live.pid + 1)
    assert live.path.exists()
    stack.remove(live.path, pid=live.pid)
    assert not live.path.exists()
    assert stack.read(live.path) is None
