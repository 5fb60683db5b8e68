"""voipadmin settings, read from the environment (see README "Configuration").

With nothing set the portal runs embedded: SQLite in ``var/``, a filesystem
Celery broker, DEBUG on. Production sets DATABASE_URL (PostgreSQL, the shared
estate database), CELERY_BROKER_URL (Redis), SECRET_KEY, ALLOWED_HOSTS and
DEBUG=false; ``manage.py check --deploy`` is then clean.
"""
from __future__ import annotations

import base64
import hashlib
from datetime import timedelta
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from .env import envbool, envint, envlist, envsecret, envstr, parse_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(envstr("VOIPADMIN_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = envbool("DEBUG", True)

_DEV_SECRET = "voipadmin-development-only-secret-key-never-use-in-production-0123456789"
SECRET_KEY = envsecret("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG=false")
    SECRET_KEY = _DEV_SECRET
elif not DEBUG:
    # It signs sessions and, without VOIPADMIN_CREDENTIALS_KEY, encrypts the node secrets: Django's own
    # `check --deploy` rule (security.W009) and this repository's development key are refused at start-up.
    from django.core.checks.security.base import (SECRET_KEY_INSECURE_PREFIX, SECRET_KEY_MIN_LENGTH,
                                                  SECRET_KEY_MIN_UNIQUE_CHARACTERS)
    if (SECRET_KEY == _DEV_SECRET or len(SECRET_KEY) < SECRET_KEY_MIN_LENGTH
            or len(set(SECRET_KEY)) < SECRET_KEY_MIN_UNIQUE_CHARACTERS
            or SECRET_KEY.startswith(SECRET_KEY_INSECURE_PREFIX)):
        raise ImproperlyConfigured(
            f"SECRET_KEY is too weak for DEBUG=false: it needs at least {SECRET_KEY_MIN_LENGTH} characters, "
            f"{SECRET_KEY_MIN_UNIQUE_CHARACTERS} of them different, must not start with "
            f"{SECRET_KEY_INSECURE_PREFIX!r} and must not be the development key; make one with: "
            "python -c 'import secrets; print(secrets.token_urlsafe(50))'")

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DEBUG=false (comma-separated host names)")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", [])

# --- Node credentials (AMI secrets, ARI and JSON-RPC passwords) are encrypted at rest.
# VOIPADMIN_CREDENTIALS_KEY holds one or more comma-separated Fernet keys (newest first,
# so keys can be rotated); without it a key is derived from SECRET_KEY.
def _credential_keys() -> list[bytes]:
    raw = envsecret("VOIPADMIN_CREDENTIALS_KEY")
    if not raw:
        return [base64.urlsafe_b64encode(hashlib.sha256(("voipadmin-credentials:" + SECRET_KEY).encode()).digest())]
    keys = []
    for item in raw.split(","):
        key = item.strip().encode()
        try:
            if len(base64.urlsafe_b64decode(key)) != 32:
                raise ValueError
        except ValueError:
            raise ImproperlyConfigured(
                "VOIPADMIN_CREDENTIALS_KEY must be Fernet keys (32 url-safe base64 bytes); "
                "make one with: python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
            ) from None
        keys.append(key)
    return keys


CREDENTIALS_KEYS = _credential_keys()

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "axes",
    # Estate apps; dependencies point down this list, never up.
    "voipadmin",
    "voipadmin.kamailio",
    "sites",
    "accounts",  # portal accounts: site limits, language, time zone, two-factor login
    "push",
    "users",
    "trunks",
    "services",
    "media",  # rooms, menus, announcements, AGI applications; the ARI application service
    "cdrs",
    "live",
    "nodeconf",
    "ops",  # /healthz and /metrics: reads the apps above, nobody imports it
]

MIDDLEWARE = [
    "ops.middleware.ProxiedClientAddressMiddleware",  # behind nginx: REMOTE_ADDR is the client's
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "ops.middleware.ApiRequestCountMiddleware",  # /metrics: API answers counted, whatever answered them
    "ops.middleware.PrivateCacheMiddleware",  # dynamic answers are never stored by a cache
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",  # the browser's language; an account's own wins below
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.AccountPreferencesMiddleware",  # the account's language and time zone
    "accounts.twofactor.TwoFactorRequiredMiddleware",  # administrators enrol in two-factor login when required
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
    "voipadmin.middleware.ConflictMiddleware",  # a write another one beat: a 409 page, not a 500
]

ROOT_URLCONF = "voipadmin.urls"
WSGI_APPLICATION = "voipadmin.wsgi.application"

# Plain widgets written in Python, byte for byte what Django's widget templates write (voipadmin/formrender.py)
FORM_RENDERER = "voipadmin.formrender.FormRenderer"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",  # LANGUAGE_CODE: <html lang>, the language picker
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "voipadmin.context_processors.portal",
            ],
        },
    }
]

DATABASE_URL = envsecret("DATABASE_URL", f"sqlite:///{VAR_DIR / 'voipadmin.sqlite3'}")
DATABASES = {"default": parse_database_url(DATABASE_URL, base_dir=BASE_DIR)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded mode has five processes on one file (portal, two workers, beat, simulator). WAL lets
    # readers go on while one writes; IMMEDIATE takes the write lock when a transaction starts, so a
    # transaction that read first and then writes waits (up to `timeout` seconds) instead of failing at
    # once with "database is locked" (SQLite cannot upgrade a read lock while another process writes).
    DATABASES["default"]["OPTIONS"].update({
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
    })
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "accounts.backends.AccountBackend",  # Django's, plus site-limited accounts' permissions
]
# Two-factor login (TOTP, accounts/twofactor.py): when true, every administrator must enrol before using the
# portal; any account may enrol either way.
REQUIRE_TWO_FACTOR = envbool("VOIPADMIN_REQUIRE_TWO_FACTOR", False)
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Brute-force protection: lock a username+source pair after repeated failures.
AXES_FAILURE_LIMIT = envint("AXES_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=envint("AXES_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
# ... and one account after this many failures from any addresses within the cool-off (voipadmin.lockout)
AXES_HANDLER = "voipadmin.lockout.AccountCeilingHandler"
LOGIN_ACCOUNT_FAILURE_LIMIT = envint("VOIPADMIN_ACCOUNT_FAILURE_LIMIT", 20, minimum=1)

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = envstr("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True
# One way to write a moment on every page, in TIME_ZONE: 2026-11-30 14:05:09 (voipadmin/formats/en/formats.py,
# which wins over Django's "Nov. 30, 2026, 2:05 p.m."; these settings are the fallback for other languages).
FORMAT_MODULE_PATH = ["voipadmin.formats"]
DATETIME_FORMAT = SHORT_DATETIME_FORMAT = "Y-m-d H:i:s"
DATE_FORMAT = SHORT_DATE_FORMAT = "Y-m-d"
TIME_FORMAT = "H:i:s"

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
                    if DEBUG else "voipadmin.staticstorage.PortalStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = DEBUG
FORMS_URLFIELD_ASSUME_HTTPS = True

# --- Security when deployed (DEBUG=false): `manage.py check --deploy` is clean.
if not DEBUG:
    SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    if envbool("BEHIND_TLS_PROXY", False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
        # requests from these addresses carry the client's address in X-Forwarded-For (ops.middleware)
        PROXY_ADDRESSES = envlist("VOIPADMIN_PROXY_ADDRESSES", ["127.0.0.1", "::1"])
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # load balancers probe over plain HTTP; it carries no secret
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_ENGINE = "accounts.sessions"  # Django's database sessions, read without the ORM (accounts/sessions.py)

# --- Celery on Redis or RabbitMQ (the suite runs real worker processes on both); without
# CELERY_BROKER_URL a filesystem broker under var/ lets `make run` start a worker and beat with no server.
# Delivery is at least once: a task is acknowledged after it ran (acks late), a task whose worker process
# died goes back to the queue (reject on worker lost), and every task is safe to run twice (the push
# outbox's per-node lease, the poll cycle's lock). Several workers and beats: deploy/scaling.md.
_broker_dir = VAR_DIR / "celery-broker"
CELERY_BROKER_URL = envsecret("CELERY_BROKER_URL", "filesystem://")


def celery_transport_options(url: str) -> dict:
    """The broker options that differ per transport (``url``'s scheme)."""
    scheme = url.split("://", 1)[0].split("+", 1)[0].lower()
    if scheme == "filesystem":
        return {"data_folder_in": str(_broker_dir), "data_folder_out": str(_broker_dir),
                "processed_folder": str(VAR_DIR / "celery-processed"), "store_processed": False,
                "control_folder": str(VAR_DIR / "celery-control")}  # (kombu's default is ./control, in the checkout)
    if scheme in ("redis", "rediss", "sentinel"):
        # Redis has no acknowledgement of its own: a message taken by a worker that never acknowledged it
        # (killed) is handed out again after visibility_timeout. Longer than any task runs (a delivery run,
        # a poll cycle: seconds), or a slow task would be given to a second worker while still running. A
        # push a killed worker left does not wait for it: the sweep re-sends once the node's lease expires.
        return {"visibility_timeout": 600}
    if scheme in ("amqp", "amqps", "pyamqp"):
        # Publisher confirms: a nudge counts as sent once RabbitMQ has it. RabbitMQ hands a message back as
        # soon as its consumer's connection drops; its server-side consumer_timeout (30 min by default) is
        # far longer than any task runs (no ETA/countdown tasks are used: retries ride the sweep).
        return {"confirm_publish": True}
    return {}


CELERY_BROKER_TRANSPORT_OPTIONS = celery_transport_options(CELERY_BROKER_URL)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True  # a worker or beat started before its broker waits for it
CELERY_TASK_ALWAYS_EAGER = envbool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# A task still running when the broker connection drops finishes its work (its ack is lost and the
# message comes back: a second, harmless run) rather than being cancelled half-way through a delivery.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
# Pushes and polls get their own queues so a slow reload never delays the estate's live picture. The
# prefix lets two estates (or two test runs) share one broker without taking each other's tasks.
_queue_prefix = envstr("VOIPADMIN_CELERY_QUEUE_PREFIX", "")
CELERY_TASK_DEFAULT_QUEUE = f"{_queue_prefix}celery"
CELERY_TASK_ROUTES = {"push.tasks.*": {"queue": f"{_queue_prefix}push"},
                      "live.tasks.*": {"queue": f"{_queue_prefix}live"}}
CELERY_RESULT_BACKEND = None
# A second beat (another host) stands by instead of sending everything twice (voipadmin/celery.py).
CELERY_BEAT_SCHEDULER = "voipadmin.celery:LeaderScheduler"
CELERY_TIMEZONE = TIME_ZONE
POLL_INTERVAL_SECONDS = envint("VOIPADMIN_POLL_INTERVAL", 15, minimum=1)
PUSH_SWEEP_SECONDS = envint("VOIPADMIN_PUSH_SWEEP", 5, minimum=1)  # retries of failed pushes ride on it
CELERY_BEAT_SCHEDULE: dict = {}

# --- live estate (app `live`): each node's poll is bounded by its own timeout (ms), so a hung
# node costs one timeout, not a cycle; call history for the dashboard chart is kept a few days.
LIVE_NODE_TIMEOUT_SECONDS = envint("VOIPADMIN_LIVE_NODE_TIMEOUT_MS", 1000, minimum=100) / 1000
LIVE_HISTORY_DAYS = envint("VOIPADMIN_LIVE_HISTORY_DAYS", 3, minimum=1)
CELERY_BEAT_SCHEDULE["live-poll-estate"] = {"task": "live.tasks.poll_estate", "schedule": POLL_INTERVAL_SECONDS,
                                            "options": {"expires": POLL_INTERVAL_SECONDS}}
CELERY_BEAT_SCHEDULE["live-prune-history"] = {"task": "live.tasks.prune_history", "schedule": 3600}

# Turning this off keeps every change in the database but pushes nothing to the live estate.
LIVE_RELOAD = envbool("VOIPADMIN_LIVE_RELOAD", True)

# --- push (app `push`): reloads wait in an outbox until the node acknowledges them. Reloads to one
# Asterisk are spaced (it can deadlock on rapid reloads); transient errors back off exponentially (with
# jitter) from PUSH_RETRY_BASE_SECONDS up to PUSH_RETRY_MAX_SECONDS and are retried by the sweep (every
# PUSH_SWEEP_SECONDS) until the node answers (PUSH_MAX_ATTEMPTS=0): a node back from an outage has every
# change live within cap + sweep, or at once: when the poller sees the node answer again (live.actions), or
# when an administrator resumes its queue or retries its jobs.
PUSH_MIN_INTERVAL_SECONDS = {"asterisk": envint("VOIPADMIN_PUSH_ASTERISK_INTERVAL_MS", 2000, minimum=0) / 1000,
                             "kamailio": envint("VOIPADMIN_PUSH_KAMAILIO_INTERVAL_MS", 0, minimum=0) / 1000}
PUSH_NODE_TIMEOUT_SECONDS = envint("VOIPADMIN_PUSH_NODE_TIMEOUT_MS", 5000, minimum=100) / 1000
PUSH_RETRY_BASE_SECONDS = 2.0
PUSH_RETRY_MAX_SECONDS = envint("VOIPADMIN_PUSH_RETRY_MAX", 300, minimum=1)
PUSH_RETRY_JITTER = 0.2  # up to 20% of each delay taken off at random
PUSH_MAX_ATTEMPTS = envint("VOIPADMIN_PUSH_MAX_ATTEMPTS", 0, minimum=0)
CELERY_BEAT_SCHEDULE["push-sweep"] = {"task": "push.tasks.sweep", "schedule": PUSH_SWEEP_SECONDS,
                                      "options": {"expires": PUSH_SWEEP_SECONDS}}

# --- CSV imports (app `users`): the upload, generated secrets and error list are sealed files under var/
# (voipadmin/sealed.py) that expire after this many minutes; beat removes expired ones every minute.
IMPORT_FILES_MINUTES = envint("VOIPADMIN_IMPORT_FILES_MINUTES", 15, minimum=1)
CELERY_BEAT_SCHEDULE["users-purge-import-files"] = {"task": "users.tasks.purge_import_files", "schedule": 60,
                                                    "options": {"expires": 60}}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "voipadmin.api.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "voipadmin.api.schema.EstateAutoSchema",
    # a write the database refused because of another one (unique, foreign key, lock, serialization) is a 409
    "EXCEPTION_HANDLER": "voipadmin.api.exceptions.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "voipadmin API",
    "DESCRIPTION": "Sites, nodes, users, trunks, routes, service codes and CDRs of the VoIP estate.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema is for signed-in people and token holders; swagger-ui is vendored (no CDN).
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "/" + STATIC_URL.strip("/") + "/vendor/swagger-ui",
    "SWAGGER_UI_FAVICON_HREF": "/" + STATIC_URL.strip("/") + "/vendor/swagger-ui/favicon-32x32.png",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums",
                             "voipadmin.api.schema.blank_alternatives_any_of"],
    # several models have a ``kind`` with different choices: name each enum after its choices class
    "ENUM_NAME_OVERRIDES": {
        "TrunkKindEnum": "trunks.choices.TrunkKind",
        "RouteKindEnum": "trunks.choices.RouteKind",
        "ServiceKindEnum": "services.choices.ServiceKind",
        "SiteKindEnum": "sites.choices.SiteKind",
        # a service code's announcement and a site announcement's purpose: one choice set
        "AnnouncementPurposeEnum": "services.choices.Announcement",
    },
}
# Asterisk writes CDR times without a zone: this is the zone (the generated cdr_pgsql.conf tells every
# node to write in it, whatever the node's own).
CDR_TIME_ZONE = envstr("CDR_TIME_ZONE", "UTC")

# --- Asterisk nodes' generated configuration (app `nodeconf`, `manage.py asterisk_config`): where a node
# reaches the shared database (default: where the portal does) and who may log in to its AMI.
ASTERISK_DB_HOST = envstr("VOIPADMIN_ASTERISK_DB_HOST", "")
ASTERISK_DB_PORT = envint("VOIPADMIN_ASTERISK_DB_PORT", 0, minimum=0)
ASTERISK_DB_NAME = envstr("VOIPADMIN_ASTERISK_DB_NAME", "")
ASTERISK_MANAGER_PERMIT = envlist("VOIPADMIN_ASTERISK_MANAGER_PERMIT", ["127.0.0.1/32"])
# Busy lamps (issue 15): how long Kamailio keeps a node's PUBLISHed extension state. The node refreshes it
# 5 s before it runs out; a node that dies (nothing refreshes) leaves a lamp on for at most this long, plus
# Kamailio's presence clean_period. Short, so a crash is soon forgotten; a refresh per published extension
# and Kamailio every (this - 5) seconds is the price.
ASTERISK_PUBLISH_EXPIRES_SECONDS = envint("VOIPADMIN_ASTERISK_PUBLISH_EXPIRES", 60, minimum=10)
# Announcements ("locuciones", media/sounds.py): the portal as the Asterisk nodes reach it; a node fetches
# each uploaded sound from <this>/sounds/... (res_http_media_cache) and keeps it in its cache.
VOIPADMIN_MEDIA_BASE_URL = envstr("VOIPADMIN_MEDIA_BASE_URL", "http://127.0.0.1:8000")

# --- Production operations (app `ops`, deploy/README.md): /healthz answers 503 naming each check past its
# threshold (seconds); /metrics (Prometheus) needs `Authorization: Bearer <VOIPADMIN_METRICS_TOKEN>` and is
# off (404) while no token is set.
HEALTH_BROKER_TIMEOUT_SECONDS = envint("VOIPADMIN_HEALTH_BROKER_TIMEOUT_MS", 1000, minimum=50) / 1000
HEALTH_BEAT_MAX_AGE_SECONDS = envint("VOIPADMIN_HEALTH_BEAT_MAX_AGE", 60, minimum=1)
HEALTH_POLL_MAX_AGE_SECONDS = envint("VOIPADMIN_HEALTH_POLL_MAX_AGE", max(60, 4 * POLL_INTERVAL_SECONDS), minimum=1)
HEALTH_PUSH_MAX_AGE_SECONDS = envint("VOIPADMIN_HEALTH_PUSH_MAX_AGE", 120, minimum=1)
METRICS_TOKEN = envsecret("VOIPADMIN_METRICS_TOKEN")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": envstr("LOG_LEVEL", "INFO")},
    "loggers": {"axes": {"level": "WARNING"},
                # the poller opens a connection per node every cycle: their INFO lines would flood the logs
                "panoramisk": {"level": "WARNING"}, "httpx": {"level": "WARNING"},
                # one line per task run: push.delivery and live.actions already say what happened
                "celery.app.trace": {"level": "WARNING"}},
}
