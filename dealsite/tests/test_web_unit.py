"""The web unit runs gunicorn with ``deploy/gunicorn.conf.py``, the file bench/api_load.py
measures, and gunicorn accepts it with the production environment."""

import re
import subprocess

from dealsite.tests.web_server import GUNICORN, ROOT, production_env

UNIT = ROOT / "deploy" / "dealsite-web.service"


def test_the_web_unit_takes_its_sizing_from_the_benchmarked_config():
    exec_start = re.search(r"^ExecStart=(.*)$", UNIT.read_text(), re.M).group(1)
    assert "-c /srv/dealsite/deploy/gunicorn.conf.py" in exec_start
    assert "--workers" not in exec_start and "--threads" not in exec_start, "one place for the sizing"
    check = subprocess.run(
        [str(GUNICORN), "--check-config", "-c", "deploy/gunicorn.conf.py", "dealsite.wsgi:application"],
        cwd=ROOT,
        env=production_env(DATABASE_URL="sqlite:///unused.sqlite3"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert check.returncode == 0, check.stdout + check.stderr
