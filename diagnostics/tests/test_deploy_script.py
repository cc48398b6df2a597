"""deploy_update.sh against a scratch clone, with stand-ins for systemctl and the venv python
that record their arguments, so the whole script runs in well under a second."""

import os
import stat
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "deploy_update.sh"
EXPECTED_STEPS = [
    "pull",
    "install",
    "migrate",
    "collectstatic",
    "force_pause",
    "schedule_jobs",
    "restart",
    "diagnose",
]


def _git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t"}
    env["GIT_COMMITTER_EMAIL"] = "t@t"
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


def _stand_in(path: Path, log: Path, fail_on: str = "") -> Path:
    path.write_text(
        "#!/bin/sh\n"
        f'echo "$(basename "$0") $*" >> {log}\n'
        + (f'case "$*" in *{fail_on}*) echo "boom" >&2; exit 3;; esac\n' if fail_on else "")
    )
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


@pytest.fixture
def site(tmp_path):
    """A bare origin, a pushed first commit, and a deployed clone."""
    origin, seed, deployed = tmp_path / "origin.git", tmp_path / "seed", tmp_path / "deployed"
    _git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    _git(tmp_path, "clone", "-q", str(origin), str(seed))
    (seed / "requirements.txt").write_text("django\n")
    _git(seed, "add", "requirements.txt")
    _git(seed, "commit", "-q", "-m", "first")
    _git(seed, "push", "-q", "origin", "HEAD:main")
    _git(tmp_path, "clone", "-q", "-b", "main", str(origin), str(deployed))
    log = tmp_path / "calls.log"
    env = {
        **os.environ,
        "DEALSITE_DIR": str(deployed),
        "DEALSITE_PYTHON": str(_stand_in(tmp_path / "python", log)),
        "SYSTEMCTL": str(_stand_in(tmp_path / "systemctl", log)),
        "DEALSITE_WORKER_UNITS": "w1.service w2.service",
        "DEALSITE_WEB_UNIT": "web.service",
        "DEALSITE_CRON_UNIT": "cron.service",
        # A host's real environment file must not leak into the scratch deploy.
        "DEALSITE_ENV_FILE": str(tmp_path / "no-such.env"),
    }
    return {"seed": seed, "deployed": deployed, "log": log, "env": env, "tmp": tmp_path}


def _deploy(site, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(SCRIPT), *args], env={**site["env"], **env}, capture_output=True, text=True, timeout=60
    )


def _push_change(site, name: str = "new.txt") -> str:
    (site["seed"] / name).write_text("change\n")
    _git(site["seed"], "add", name)
    _git(site["seed"], "commit", "-q", "-m", f"add {name}")
    _git(site["seed"], "push", "-q", "origin", "HEAD:main")
    return _git(site["seed"], "rev-parse", "HEAD").strip()


def _steps(stdout: str) -> list[str]:
    return [line[4:].split(":")[0] for line in stdout.splitlines() if line.startswith("==> ") and ":" in line]


def test_deploy_fast_forwards_and_runs_every_step_in_order(site):
    head = _push_change(site)
    result = _deploy(site)
    assert result.returncode == 0, result.stderr
    assert _steps(result.stdout) == EXPECTED_STEPS
    assert _git(site["deployed"], "rev-parse", "HEAD").strip() == head
    assert site["log"].read_text().splitlines() == [
        "python -m pip install --quiet -r requirements.txt",
        "python manage.py migrate --noinput",
        "python manage.py collectstatic --noinput",
        "python manage.py force_pause --reason deploy --actor deploy",
        "python manage.py schedule_jobs",
        "systemctl restart w1.service w2.service web.service cron.service",
        "python manage.py diagnose --no-keepa",
    ]


def test_dry_run_prints_each_step_without_side_effects(site):
    before = _git(site["deployed"], "rev-parse", "HEAD")
    _push_change(site)
    result = _deploy(site, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert _steps(result.stdout) == EXPECTED_STEPS
    assert "systemctl restart w1.service w2.service web.service cron.service" in result.stdout
    assert not site["log"].exists()
    assert _git(site["deployed"], "rev-parse", "HEAD") == before


def test_a_failing_step_stops_the_deploy_and_is_named(site):
    _stand_in(site["tmp"] / "python", site["log"], fail_on="migrate")
    result = _deploy(site)
    assert result.returncode != 0
    assert 'FAILED at step "migrate"' in result.stderr
    calls = site["log"].read_text()
    assert "migrate" in calls and "systemctl" not in calls and "diagnose" not in calls


def test_a_failing_diagnosis_fails_the_deploy(site):
    _stand_in(site["tmp"] / "python", site["log"], fail_on="diagnose")
    result = _deploy(site)
    assert result.returncode != 0
    assert 'FAILED at step "diagnose"' in result.stderr


def test_non_fast_forward_pull_fails_cleanly(site):
    (site["deployed"] / "local.txt").write_text("hotfix on the server\n")
    _git(site["deployed"], "add", "local.txt")
    _git(site["deployed"], "commit", "-q", "-m", "local hotfix")
    _push_change(site, "diverging.txt")
    result = _deploy(site)
    assert result.returncode != 0
    assert 'FAILED at step "pull"' in result.stderr
    assert not site["log"].exists()


def test_running_twice_is_fine(site):
    _push_change(site)
    assert _deploy(site).returncode == 0
    second = _deploy(site)
    assert second.returncode == 0, second.stderr
    assert _steps(second.stdout) == EXPECTED_STEPS


def test_the_script_never_flushes_redis():
    text = SCRIPT.read_text().lower()
    assert "flushall" not in text and "flushdb" not in text


def test_unknown_argument_is_refused(site):
    result = _deploy(site, "--force")
    assert result.returncode == 2
    assert "unknown argument" in result.stderr
