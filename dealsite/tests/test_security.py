"""Issue 14, "Security and 500s", drilled on real server processes: each test fails without
its fix (the NUL middleware, the JSON parser, the masking reporter filter, the placeholder
key refusal, the django-rq permission)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
import requests
from django.contrib.auth.models import Permission
from django.test import Client
from rest_framework.authtoken.models import Token
from rq import Queue

from dealsite.tests.support import make_seller
from dealsite.tests.web_server import GUNICORN, ROOT, free_port, production_env, serve
from keepasim.harness import database_url

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ENV_EXAMPLE = ROOT / "deploy" / "dealsite.env.example"


def _env_file(path) -> dict[str, str]:
    lines = [line for line in path.read_text().splitlines() if line and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def _user(django_user_model, name: str, *permissions: str, **flags):
    user = django_user_model.objects.create_user(name, password="not-used-here", **flags)
    for permission in permissions:
        app_label, codename = permission.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return user


@pytest.fixture
def production(require_postgres, redis_url):
    """gunicorn with DEBUG off on the test database (PostgreSQL: it is the one refusing NUL)."""
    with serve("gunicorn", production_env(DATABASE_URL=database_url(), REDIS_URL=redis_url)) as server:
        yield server


# --- real 500s with DEBUG off -----------------------------------------------------------


def test_a_nul_anywhere_in_the_url_is_a_400_naming_where(production, django_user_model):
    token = Token.objects.create(user=make_seller(django_user_model, "reader")).key
    api = requests.Session()
    api.headers["Authorization"] = f"Token {token}"
    for url, where in (
        ("/api/deals/%00/", "detail"),
        ("/api/deals/B0%0012345/", "detail"),
        ("/api/deals/?page=%00", "page"),
        ("/admin/deals/deal/%00/change/", "detail"),
        ("/admin/deals/deal/?q=%00", "q"),
    ):
        response = api.get(production.base + url, timeout=30)
        assert response.status_code == 400, f"{url}: {response.status_code}\n{production.output[-2000:]}"
        assert list(response.json()) == [where], url
    assert api.get(f"{production.base}/api/deals/", timeout=30).status_code == 200, "the rest still works"
    assert "Traceback" not in production.output


def test_json_nested_100000_deep_is_a_400_on_the_recharge_endpoint(production, django_user_model):
    user = _user(django_user_model, "operator", "tokens.toggle_recharge")
    headers = {"Authorization": f"Token {Token.objects.create(user=user).key}"}
    deep = "[" * 100_000 + "]" * 100_000
    response = requests.post(
        f"{production.base}/api/tokens/recharge/",
        data=deep,
        headers={**headers, "Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 400, f"{response.status_code}\n{production.output[-2000:]}"
    assert "nested too deeply" in response.json()["detail"]
    assert "Traceback" not in production.output


# --- the DEBUG page ---------------------------------------------------------------------


def test_the_debug_page_masks_the_database_and_redis_passwords(require_postgres, django_user_model):
    """``make run``'s server (runserver, DEBUG on) with passwords in both URLs, and Redis not
    answering: the queue page fails, and the yellow page shows settings, the request's
    environment and the traceback's variables, none with a password."""
    database = database_url().replace("://postgres@", "://postgres:pg-pass-0dd1ty@")
    assert "pg-pass-0dd1ty" in database, "the local server trusts 127.0.0.1, so any password works"
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "dealsite.settings",
        "DEBUG": "1",
        "DATABASE_URL": database,
        "REDIS_URL": f"redis://:redis-pass-0dd1ty@127.0.0.1:{free_port()}/0",
    }
    root = _user(django_user_model, "root", is_staff=True, is_superuser=True)
    with serve("runserver", env) as server:
        page = _signed_in(server, root).get(f"{server.base}/admin/django-rq/", timeout=60)
    assert page.status_code == 500
    assert "ConnectionError" in page.text and "Local vars" in page.text, "the DEBUG page itself"
    assert "pg-pass-0dd1ty" not in page.text
    assert "redis-pass-0dd1ty" not in page.text
    assert re.search(r"REDIS_URL.*redis://:\*+@127\.0\.0\.1", page.text, re.S), "the settings are shown"
    assert "DATABASE_URL" in page.text, "runserver puts the environment in request.META"


# --- the placeholder secret key ---------------------------------------------------------


def test_the_example_environment_with_its_placeholder_key_refuses_to_start():
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "dealsite.settings",
        **_env_file(ENV_EXAMPLE),
    }
    assert env["SECRET_KEY"] == "change-me"
    check = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert check.returncode != 0
    assert "SECRET_KEY is the placeholder 'change-me'" in check.stderr
    web = subprocess.run(
        [str(GUNICORN), "dealsite.wsgi:application", "--bind", f"127.0.0.1:{free_port()}", "--workers", "1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert web.returncode != 0, "gunicorn does not serve with a placeholder key"
    assert "SECRET_KEY is the placeholder 'change-me'" in web.stderr


@pytest.mark.parametrize("key", ["django-insecure-0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdef"])
def test_django_s_insecure_default_key_is_refused_too(key):
    env = {**production_env(SECRET_KEY=key), "DATABASE_URL": "sqlite:///unused.sqlite3"}
    check = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert check.returncode != 0
    assert "SECRET_KEY is the placeholder" in check.stderr


# --- the job queues in the admin --------------------------------------------------------


def _signed_in(server, user) -> requests.Session:
    client = Client()
    client.force_login(user)
    session = requests.Session()
    session.cookies.set("sessionid", client.cookies["sessionid"].value)
    return session


def _post_form(session: requests.Session, url: str) -> requests.Response:
    session.get(url, timeout=30)  # the form sets the CSRF cookie
    token = session.cookies.get("csrftoken", "")
    return session.post(url, data={"csrfmiddlewaretoken": token}, headers={"X-CSRFToken": token}, timeout=30)


@pytest.fixture
def queue_admin(redis_url, real_redis):
    """DEBUG on, so the admin's pages have their static files without collectstatic."""
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "dealsite.settings",
        "DEBUG": "1",
        "DATABASE_URL": database_url(),
        "REDIS_URL": redis_url,
        "DATABASE_CONN_MAX_AGE": "0",
    }
    with serve("gunicorn", env) as server:
        yield server


def test_staff_without_the_queue_permission_cannot_see_or_empty_the_queues(
    queue_admin, django_user_model, real_redis
):
    queue = Queue("default", connection=real_redis)
    queue.enqueue("os.getcwd")
    base = queue_admin.base
    nobody = _signed_in(queue_admin, _user(django_user_model, "staff", is_staff=True))

    index = nobody.get(f"{base}/admin/", timeout=30)
    assert index.status_code == 200
    assert not re.search(r'href="/admin/django[_-]rq/', index.text), "no link to pages it may not open"
    for url in ("/admin/django-rq/", "/admin/django-rq/queues/0/", "/admin/django_rq/dashboard/"):
        assert nobody.get(base + url, timeout=30).status_code == 403, url
    for url in ("/admin/django-rq/queues/0/empty/", "/admin/django_rq/dashboard/queues/0/empty/"):
        assert _post_form(nobody, base + url).status_code == 403, url
    assert queue.count == 1, "the queue is untouched"

    operator = _signed_in(queue_admin, _user(django_user_model, "ops", "django_rq.admin", is_staff=True))
    index = operator.get(f"{base}/admin/", timeout=30)
    assert re.search(r'href="/admin/django[_-]rq/', index.text), "the index links to the queues"
    assert operator.get(f"{base}/admin/django-rq/", timeout=30).status_code == 200
    assert _post_form(operator, f"{base}/admin/django-rq/queues/0/empty/").status_code == 200
    assert queue.count == 0, "the permission's holder emptied it"

    root = _signed_in(queue_admin, _user(django_user_model, "root", is_staff=True, is_superuser=True))
    assert root.get(f"{base}/admin/django_rq/dashboard/", timeout=30).status_code == 200
