"""Request hardening the whole site shares: input no view should ever see, and error pages
that never print a credential.

Each piece answers a real 500 or leak found in issue 14; docs/OPERATIONS.md ("Security and
500s") says what an operator sees of each.
"""

from __future__ import annotations

import re

from django.http import JsonResponse
from django.views import debug
from rest_framework import parsers
from rest_framework.exceptions import ParseError

NUL = "\x00"

#: ``scheme://user:password@host``: the password of a database or Redis URL.
URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*:)(?P<password>[^@/\s]+)(?=@)", re.I)
#: ``password=...`` in a libpq connection string (psycopg's conninfo).
CONNINFO_PASSWORD = re.compile(r"(?P<head>\bpassword\s*=\s*)(?P<password>'(?:[^'\\]|\\.)*'|\S+)", re.I)


NUL_MESSAGE = "Null characters are not allowed."


def nul_errors(request) -> dict | None:
    """A 400 body naming where the request carries a NUL character, or None: ``detail`` for
    the path, the parameter's or cookie's name (as the API's field errors are keyed) for the
    rest. PostgreSQL refuses NUL in text, so a lookup reaching it with one failed as a 500."""
    if NUL in request.path:
        return {"detail": "The URL path contains a NUL character (%00), which dealsite never accepts."}
    for name, values in request.GET.lists():
        if NUL in name or any(NUL in value for value in values):
            return {name: [NUL_MESSAGE]}
    for name, value in request.COOKIES.items():
        if NUL in name or NUL in value:
            return {f"cookie {name}": [NUL_MESSAGE]}
    return None


class RejectNulCharactersMiddleware:
    """A 400 before any view or session lookup runs: every URL is covered, not only those
    whose views happen to validate their input (Django's form fields already refuse NUL)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        errors = nul_errors(request)
        if errors:
            return JsonResponse(errors, status=400)
        return self.get_response(request)


class JSONParser(parsers.JSONParser):
    """DRF's parser, but JSON nested deeper than Python's recursion limit is a 400 like any
    other malformed body; DRF catches only ValueError, so it was a 500."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError("JSON parse error - nested too deeply") from exc


def mask_credentials(text: str) -> str:
    """``text`` with the passwords of URLs and connection strings replaced by stars."""
    stars = debug.SafeExceptionReporterFilter.cleansed_substitute
    text = URL_PASSWORD.sub(lambda match: match["head"] + stars, text)
    return CONNINFO_PASSWORD.sub(lambda match: match["head"] + stars, text)


class CredentialsMaskingFilter(debug.SafeExceptionReporterFilter):
    """Django masks settings by name (KEY, PASS, ...), but a password inside a value such as
    ``REDIS_URL``, ``RQ_QUEUES[...]["URL"]`` or, under runserver, the ``DATABASE_URL`` in
    request.META is printed as is on the DEBUG page and in error mails. This masks the
    password inside any such string too, and in the traceback's local variables."""

    def cleanse_setting(self, key, value):
        cleansed = super().cleanse_setting(key, value)
        return mask_credentials(cleansed) if isinstance(cleansed, str) else cleansed

    def get_traceback_frame_variables(self, request, tb_frame):
        return [
            (name, self.cleanse_setting("", value) if isinstance(value, str | dict | list | tuple) else value)
            for name, value in super().get_traceback_frame_variables(request, tb_frame)
        ]
