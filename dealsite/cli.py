"""``manage.py``'s one place for failures an operator can fix: a sentence and an exit code
instead of a traceback.

A command that knows better says so itself (``CommandError``); what reaches here is what any
command can meet: settings that do not parse, Redis or the database not answering, Keepa out
of reach. Exit code 2 means "the environment is wrong or a service is down", as the bucket
commands have always used it; ``--traceback`` still shows the Python detail.
"""

from __future__ import annotations

import sys
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management import execute_from_command_line
from django.db import DatabaseError, InterfaceError, OperationalError, ProgrammingError, connections
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

UNAVAILABLE = 2


def without_password(url: str) -> str:
    """``url`` fit to print: any password replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def database_name() -> str:
    database = settings.DATABASES["default"]
    where = f"{database.get('HOST') or 'localhost'}:{database.get('PORT') or 'default port'}/"
    engine = database["ENGINE"].rsplit(".", 1)[-1]
    return f"{engine} {where if engine != 'sqlite3' else ''}{database.get('NAME')}"


def explain(exc: BaseException) -> str | None:
    """The sentence for a failure any command can meet, or None for a bug (which keeps its
    traceback)."""
    if isinstance(exc, ImproperlyConfigured):
        return f"Configuration error: {exc}"
    if isinstance(exc, RedisConnectionError | RedisTimeoutError):
        return (
            f"Redis is unreachable: {type(exc).__name__} at {without_password(settings.REDIS_URL)} "
            "(start Redis or set REDIS_URL)"
        )
    if isinstance(exc, OperationalError | InterfaceError | ProgrammingError) or type(exc) is DatabaseError:
        return database_problem(exc)
    return None


def database_problem(exc: DatabaseError) -> str:
    """Unreachable, or reachable but refusing (most often: not migrated). The same exception
    classes carry both, so ask the database whether it answers at all."""
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    try:
        connections["default"].ensure_connection()
    except DatabaseError:
        return (
            f"The database is unreachable ({database_name()}): {first_line} (start it, or fix DATABASE_URL)"
        )
    return (
        f"The database refused the command ({database_name()}): {first_line} "
        "(has `manage.py migrate` run on it?)"
    )


def main(argv: list[str]) -> None:
    traceback = "--traceback" in argv
    try:
        settings.INSTALLED_APPS  # noqa: B018 - load settings here, where their errors read as sentences
        execute_from_command_line(argv)
    except Exception as exc:
        sentence = explain(exc)
        if sentence is None or traceback:
            raise
        sys.stderr.write(f"{sentence}\n")
        sys.exit(UNAVAILABLE)
