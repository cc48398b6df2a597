"""Settings for dealsite: one module, driven by the environment, with embedded defaults.

``DEBUG`` is off unless the environment turns it on, so a production host missing its
environment fails loudly instead of running with development defaults. Development needs only
``DEBUG=1`` (``make run``, ``make test`` and the pytest configuration set it): SQLite in the
project, Redis at ``REDIS_URL`` (``make run`` starts an embedded one when none answers) and the
built-in Keepa simulator when ``KEEPA_API_KEY`` is unset. Production sets ``SECRET_KEY``,
``ALLOWED_HOSTS`` and ``DATABASE_URL``; ``manage.py check --deploy`` is then clean.

In development a second terminal needs no environment either: while ``make run`` runs, the
settings it gave its children come from its state file (``dealsite/stack.py``) for whatever
the environment does not name.
"""

import os
import tempfile
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from dealsite import stack

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), got {value!r}")


def parse_database_url(url: str, **options) -> dict:
    """dj-database-url's parse, failing as a sentence (its own errors are bare ValueErrors)."""
    try:
        return dj_database_url.parse(url, **options)
    except ValueError as exc:
        raise ImproperlyConfigured(
            "DATABASE_URL is not a database URL (postgres://user:password@host:5432/name or "
            f"sqlite:///path): {exc}"
        ) from None


def redis_url(value: str) -> str:
    """``value`` if its scheme is one redis-py takes, else a sentence now (redis-py itself
    would fail only at first use, as a traceback)."""
    if urlsplit(value).scheme not in {"redis", "rediss", "unix"}:
        raise ImproperlyConfigured("REDIS_URL must be a redis://host:port/db (or rediss://, unix://) URL")
    return value


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)

# --- make run's state file: a second terminal sees the running demo (dealsite/stack.py) ---
# Empty disables it (the test suite does, so a running demo never leaks into tests).
DEALSITE_STACK_FILE = os.environ.get("DEALSITE_STACK_FILE", str(BASE_DIR / "var" / "runstack.json"))
# Only development reads it: a production host never acts on a demo's settings.
DEALSITE_STACK = stack.read(DEALSITE_STACK_FILE) if DEBUG and DEALSITE_STACK_FILE else None
_env = {**os.environ, **stack.environment(DEALSITE_STACK, os.environ)}
# What operator commands say instead of acting on an empty key: no stack, no key.
DEALSITE_NO_STACK = (
    stack.no_stack_message(DEALSITE_STACK)
    if DEBUG and DEALSITE_STACK_FILE and not _env.get("KEEPA_API_KEY")
    else ""
)

DEV_SECRET_KEY = "dev-only-insecure-key-never-used-with-debug-off"
#: Keys published somewhere (our env example, the dev default): a site signing with one
#: lets anyone forge its sessions and password-reset links.
PLACEHOLDER_SECRET_KEYS = {"change-me", "changeme", DEV_SECRET_KEY}
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off (DEBUG=1 for development)")
    SECRET_KEY = DEV_SECRET_KEY
elif not DEBUG and (SECRET_KEY in PLACEHOLDER_SECRET_KEYS or SECRET_KEY.startswith("django-insecure-")):
    raise ImproperlyConfigured(
        f"SECRET_KEY is the placeholder {SECRET_KEY!r}, known to anyone: set 50+ random characters, "
        "e.g. python -c 'import secrets; print(secrets.token_urlsafe(50))'"
    )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "simple_history",
    "django_rq",
    "tokens",
    "deals",
    "diagnostics",
    "keepasim",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "dealsite.hardening.RejectNulCharactersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
]

ROOT_URLCONF = "dealsite.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "dealsite.wsgi.application"

DATABASES = {
    "default": parse_database_url(
        _env.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if os.environ.get("DATABASE_TEST_NAME"):
    # Lets several test runs share one PostgreSQL server without clobbering each other.
    DATABASES["default"]["TEST"] = {"NAME": os.environ["DATABASE_TEST_NAME"]}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not Django's in-memory default, so worker processes in end-to-end tests can
    # share the test database; one per test process so parallel runs never collide.
    DATABASES["default"].setdefault(
        "TEST", {"NAME": str(Path(tempfile.gettempdir()) / f"dealsite-test-{os.getpid()}.sqlite3")}
    )
    # Workers and the web server write concurrently; wait for the lock instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Django's, except that the signed-in user is loaded knowing whether they are a seller
# (dealsite.access): the API and the pages need no query of their own to ask. Django's own
# stays listed so sessions it signed in before keep working (they ask that query).
AUTHENTICATION_BACKENDS = ["dealsite.access.SellerAwareBackend", "django.contrib.auth.backends.ModelBackend"]

# The site's own login page, for sellers and staff alike (the admin's is for staff only).
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

# Masks passwords inside URL values (REDIS_URL, RQ_QUEUES, DATABASE_URL in runserver's META)
# on the DEBUG page and in error reports, which mask only by setting name.
DEFAULT_EXCEPTION_REPORTER_FILTER = "dealsite.hardening.CredentialsMaskingFilter"

# --- Production hardening (check --deploy stays clean with DEBUG=0) ---------------------
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", str(60 * 60 * 24 * 365)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    if env_bool("BEHIND_TLS_PROXY", False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- Redis and RQ -----------------------------------------------------------------------
REDIS_URL = redis_url(_env.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
RQ_QUEUES = {name: {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 600} for name in ("default", "keepa")}
RQ_SHOW_ADMIN_LINK = True
# Every `manage.py rqworker` runs our hardened worker (deals/worker.py, docs/OPERATIONS.md).
RQ = {"WORKER_CLASS": "deals.worker.DealsiteWorker"}
DEALSITE_WORKERS = {
    # An idle worker wakes this often: database check, heartbeat, maintenance.
    "POLL_SECONDS": int(os.environ.get("DEALSITE_WORKER_POLL_SECONDS", "10")),
    # Retry of a scheduler lock a dead scheduler elsewhere held (it expires after 61 s), and
    # rq's registry clean-up (rq: every 10 minutes).
    "MAINTENANCE_SECONDS": int(os.environ.get("DEALSITE_WORKER_MAINTENANCE_SECONDS", "15")),
    # A running job's heartbeat (rq: 30 s); a job silent for JOB_STALE_SECONDS lost its worker.
    "JOB_HEARTBEAT_SECONDS": int(os.environ.get("DEALSITE_JOB_HEARTBEAT_SECONDS", "10")),
    "JOB_STALE_SECONDS": int(os.environ.get("DEALSITE_JOB_STALE_SECONDS", "60")),
    # How often the cron watchdog re-creates lost chains (deals/cron.py).
    "WATCHDOG_SECONDS": int(os.environ.get("DEALSITE_WATCHDOG_SECONDS", "60")),
}

# --- DRF --------------------------------------------------------------------------------
REST_FRAMEWORK = {
    # Token first: its scheme is what a 401's WWW-Authenticate names (the session class has
    # none, so with it first a request without credentials would get 403).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "dealsite.access.SellerAwareTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Sellers and staff read; a signed-in user in neither group gets 403.
    "DEFAULT_PERMISSION_CLASSES": ["dealsite.access.ReadsDeals"],
    # JSON nested past Python's recursion limit is a 400, not a 500.
    "DEFAULT_PARSER_CLASSES": [
        "dealsite.hardening.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "dealsite API",
    "DESCRIPTION": "Profitable Amazon resale deals computed from Keepa data.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI assets are served locally: the site must work without a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Keepa ------------------------------------------------------------------------------
KEEPA_API_KEY = _env.get("KEEPA_API_KEY", "")
KEEPA_BASE_URL = _env.get("KEEPA_BASE_URL", "https://api.keepa.com")
KEEPA_DOMAIN_ID = int(os.environ.get("KEEPA_DOMAIN_ID", "1"))
KEEPA_CONNECT_TIMEOUT_SECONDS = float(os.environ.get("KEEPA_CONNECT_TIMEOUT_SECONDS", "10"))
KEEPA_READ_TIMEOUT_SECONDS = float(os.environ.get("KEEPA_READ_TIMEOUT_SECONDS", "30"))

# --- Business rules (money in integer cents, rates as Decimal percent) -------------------
# These and the verification thresholds and conditions below are only the first defaults of
# the business costs row (deals.models.BusinessCosts): after its first read, staff set them
# in the admin and the row is the truth.
DEALSITE_BUSINESS = {
    "PREP_FEE_CENTS": int(os.environ.get("DEALSITE_PREP_FEE_CENTS", "275")),
    "INBOUND_SHIPPING_CENTS": int(os.environ.get("DEALSITE_INBOUND_SHIPPING_CENTS", "399")),
    "TAX_PERCENT": Decimal(os.environ.get("DEALSITE_TAX_PERCENT", "5")),
    "TAX_EXEMPT": env_bool("DEALSITE_TAX_EXEMPT", False),
    "DEFAULT_FBA_FEE_CENTS": int(os.environ.get("DEALSITE_DEFAULT_FBA_FEE_CENTS", "550")),
    "DEFAULT_REFERRAL_PERCENT": Decimal(os.environ.get("DEALSITE_DEFAULT_REFERRAL_PERCENT", "15")),
    # The profit on the all-in cost a listing must make: sets each deal's repricer floor.
    "MARKUP_PERCENT": Decimal(os.environ.get("DEALSITE_MARKUP_PERCENT", "10")),
}

# --- Pipeline: the candidate backlog, retries, freshness (seconds on the token clock) ----
DEALSITE_PIPELINE = {
    # A claimed candidate whose worker died returns to the backlog after this.
    "CLAIM_LEASE_SECONDS": int(os.environ.get("DEALSITE_CLAIM_LEASE_SECONDS", "600")),
    # Plans refilling fewer tokens/min fetch one ASIN a call, so a burst never overdraws much.
    "SMALL_PLAN_RATE": 20,
    # Keepa's limit of ASINs per /product call.
    "MAX_BATCH": 100,
    "MAX_ATTEMPTS": int(os.environ.get("DEALSITE_MAX_ATTEMPTS", "5")),
    # Doubles with each failed attempt.
    "RETRY_BACKOFF_SECONDS": int(os.environ.get("DEALSITE_RETRY_BACKOFF_SECONDS", "300")),
    "REFRESH_AFTER_SECONDS": int(os.environ.get("DEALSITE_REFRESH_AFTER_SECONDS", str(24 * 3600))),
    "STALE_AFTER_SECONDS": int(os.environ.get("DEALSITE_STALE_AFTER_SECONDS", str(14 * 24 * 3600))),
    "REPAIR_MAX_ATTEMPTS": int(os.environ.get("DEALSITE_REPAIR_MAX_ATTEMPTS", "3")),
    # After a Keepa fault (5xx, timeout, cut-off answer) a candidate waits this long, doubling
    # with each fault in a row up to the maximum; faults never spend its attempts.
    "TRANSIENT_BACKOFF_SECONDS": int(os.environ.get("DEALSITE_TRANSIENT_BACKOFF_SECONDS", "60")),
    "TRANSIENT_BACKOFF_MAX_SECONDS": int(os.environ.get("DEALSITE_TRANSIENT_BACKOFF_MAX_SECONDS", "900")),
    # Discovered candidates are fetched in the order the deal feed's own prices promise a
    # profit (deals/backlog.py); off, in the order they were found (the benches' baselines).
    "RANK_BY_FEED": env_bool("DEALSITE_RANK_BY_FEED", True),
}
# Pause between two runs of each periodic job chain.
DEALSITE_JOB_INTERVALS = {
    "discover": int(os.environ.get("DEALSITE_DISCOVER_INTERVAL_SECONDS", "600")),
    "backfill": int(os.environ.get("DEALSITE_BACKFILL_INTERVAL_SECONDS", "60")),
    "repair": int(os.environ.get("DEALSITE_REPAIR_INTERVAL_SECONDS", "900")),
}

# --- Verification: live offers back a deal (deals/verification.py) -----------------------
VERIFY_POLICIES = ("value", "off", "every_candidate")
DEALSITE_VERIFICATION = {
    # "value": offer tokens go to the estimates worth most per token; "off": estimates only;
    # "every_candidate": offers with every product fetch (the predecessor's way, for benches).
    "POLICY": os.environ.get("DEALSITE_VERIFY_POLICY", "value"),
    # Keepa's offer conditions a seller accepts: 2-5 are used Like New to Acceptable.
    "CONDITIONS": tuple(env_list("DEALSITE_VERIFY_CONDITIONS", "2,3,4,5")),
    # An estimate below this profit never costs offer tokens.
    "MIN_PROFIT_CENTS": int(os.environ.get("DEALSITE_VERIFY_MIN_PROFIT_CENTS", "100")),
    # ... nor one below this ROI (percent).
    "MIN_ROI_PERCENT": Decimal(os.environ.get("DEALSITE_VERIFY_MIN_ROI_PERCENT", "0")),
    # A verification older than this (or whose used price moved) is checked again.
    "STALE_AFTER_SECONDS": int(os.environ.get("DEALSITE_VERIFY_STALE_AFTER_SECONDS", str(6 * 3600))),
    # How long a seller's name and rating are trusted before /seller is asked again.
    "SELLER_CACHE_SECONDS": int(os.environ.get("DEALSITE_SELLER_CACHE_SECONDS", str(7 * 24 * 3600))),
    # The window of checks the verify chance is learned from.
    "LEARN_FROM_SECONDS": int(os.environ.get("DEALSITE_VERIFY_LEARN_FROM_SECONDS", str(24 * 3600))),
    # While both have work, neither statistics nor offers gets less than this share of a
    # pass's tokens, whatever the values say.
    "MIN_SHARE": Decimal(os.environ.get("DEALSITE_VERIFY_MIN_SHARE", "0.25")),
}
if DEALSITE_VERIFICATION["POLICY"] not in VERIFY_POLICIES:
    raise ImproperlyConfigured(f"DEALSITE_VERIFY_POLICY must be one of {', '.join(VERIFY_POLICIES)}")
if not set(DEALSITE_VERIFICATION["CONDITIONS"]) <= {str(code) for code in range(1, 11)}:
    raise ImproperlyConfigured("DEALSITE_VERIFY_CONDITIONS holds Keepa condition codes 1-10, e.g. 2,3,4,5")
DEALSITE_VERIFICATION["CONDITIONS"] = tuple(int(code) for code in DEALSITE_VERIFICATION["CONDITIONS"])

# --- Token bucket -----------------------------------------------------------------------
TOKENS = {
    "RECHARGE_THRESHOLD": int(os.environ.get("TOKENS_RECHARGE_THRESHOLD", "280")),
    "RECHARGE_TIMEOUT_SECONDS": int(os.environ.get("TOKENS_RECHARGE_TIMEOUT_SECONDS", "3600")),
    "FLOOR": int(os.environ.get("TOKENS_FLOOR", "0")),
    "AUTO_RECHARGE": env_bool("TOKENS_AUTO_RECHARGE", True),
    "AUTO_RECHARGE_BELOW_RATE": int(os.environ.get("TOKENS_AUTO_RECHARGE_BELOW_RATE", "10")),
    "AUTO_RECHARGE_BELOW_BALANCE": int(os.environ.get("TOKENS_AUTO_RECHARGE_BELOW_BALANCE", "20")),
    "RESERVATION_TTL_SECONDS": int(os.environ.get("TOKENS_RESERVATION_TTL_SECONDS", "120")),
    # Clocks (a host's, a reading's Keepa timestamp) further apart than this are not trusted:
    # longer than any Keepa request lasts, far shorter than the hour a skewed clock can be off.
    "MAX_CLOCK_SKEW_SECONDS": int(os.environ.get("TOKENS_MAX_CLOCK_SKEW_SECONDS", "300")),
    # Keepa minutes per real second for demos; 1 is real time.
    "CLOCK_SCALE": Decimal(_env.get("TOKENS_CLOCK_SCALE", "1")),
    # Shared anchor (unix seconds) so every process of a demo agrees on scaled time.
    "CLOCK_EPOCH": float(_env["TOKENS_CLOCK_EPOCH"]) if _env.get("TOKENS_CLOCK_EPOCH") else None,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_keepa_key": {"()": "deals.keepa.redaction.RedactKeepaKeyFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact_keepa_key"],
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
