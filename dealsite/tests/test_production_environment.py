"""Safe by default: DEBUG is off unless the environment turns it on, the production environment
(``deploy/dealsite.env.example`` with a real secret) passes ``check --deploy``, and
``deploy_update.sh`` runs manage.py in that environment. Each runs in a fresh process, so
neither the test session's settings nor its environment leak in."""

import os
import secrets
import stat
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ENV_EXAMPLE = ROOT / "deploy" / "dealsite.env.example"


def _env_file(path: Path) -> dict[str, str]:
    lines = [line for line in path.read_text().splitlines() if line and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def _python(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """Python in the project with only ``PATH`` and ``env``: no DEBUG unless given."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env={"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "dealsite.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_debug_is_off_when_the_environment_does_not_set_it():
    show = "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)"
    result = _python("-c", show, env={"SECRET_KEY": secrets.token_urlsafe(50)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_without_debug_django_refuses_to_start_without_a_secret_key():
    result = _python("manage.py", "check", env={})
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_the_production_environment_passes_the_deployment_checks():
    env = {**_env_file(ENV_EXAMPLE), "SECRET_KEY": secrets.token_urlsafe(50)}
    assert env["DEBUG"] == "0"
    result = _python("manage.py", "check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def _stand_in(path: Path, body: str) -> Path:
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def test_deploy_update_runs_manage_py_in_the_units_environment(tmp_path):
    """The file wins over the caller's shell, as it does for the units, and is read
    literally (no shell expansion of a secret)."""
    bin_dir, log = tmp_path / "bin", tmp_path / "calls.log"
    bin_dir.mkdir()
    _stand_in(bin_dir / "git", "exit 0")
    python = _stand_in(bin_dir / "python", f'printf "%s|%s|%s\\n" "$DEBUG" "$SECRET_KEY" "$*" >> {log}')
    env_file = tmp_path / "dealsite.env"
    env_file.write_text("# production\nDEBUG=0\nSECRET_KEY=s3cret $HOME `x` and spaces\n")
    result = subprocess.run(
        ["bash", str(ROOT / "deploy_update.sh")],
        env={
            "PATH": f"{bin_dir}:{os.environ['PATH']}",
            "DEBUG": "1",
            "DEALSITE_DIR": str(tmp_path),
            "DEALSITE_PYTHON": str(python),
            "SYSTEMCTL": str(_stand_in(bin_dir / "systemctl", "exit 0")),
            "DEALSITE_ENV_FILE": str(env_file),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert f"==> environment: {env_file}" in result.stdout
    calls = log.read_text().splitlines()
    assert "0|s3cret $HOME `x` and spaces|manage.py migrate --noinput" in calls
    assert all(call.startswith("0|s3cret $HOME `x` and spaces|") for call in calls)
