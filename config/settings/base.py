"""Settings shared by every way of running the platform.

Everything that differs between machines comes from the environment through one
``environ.Env``. With no ``DATABASE_URL`` and no ``REDIS_URL`` the platform runs on the
embedded default: SQLite, Celery tasks executed eagerly, and an in-process event bus.
"""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
if env.bool("DJANGO_READ_DOT_ENV_FILE", default=False):
    environ.Env.read_env(str(BASE_DIR / ".env"))

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])

INSTALLED_APPS = [
    "config.admin.AdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_api_key",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "leaflet",
    "axes",
    "councils",
    "elections",
    "results",
    "accounts",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
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

# The embedded default keeps its database under var/ so a fresh checkout needs nothing else.
DATABASES = {
    "default": env.db(
        "DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'ukresults.sqlite3'}"
    ),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Serialise writers instead of failing with "database is locked" when the replay,
    # the form and the importer write at once.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    )
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # Which service a session belongs to, in pg_stat_activity (docker-compose sets it).
    if application_name := env("DATABASE_APPLICATION_NAME", default=""):
        DATABASES["default"].setdefault("OPTIONS", {})["application_name"] = application_name


def apply_database_pool(database: dict) -> None:
    """``DATABASE_POOL=N``: a psycopg pool of at most N PostgreSQL connections in this process.

    For the web and keying servers. Under ASGI Django runs each request's synchronous code
    in a thread of its own, and a persistent connection (``CONN_MAX_AGE`` > 0) is kept per
    thread: under load they pile up until PostgreSQL refuses more clients. A pool lends each
    request one of N connections and takes it back when the request ends (a request waits
    up to 10 s for one); under gunicorn's threads (keying) it bounds them the same way.
    Celery workers keep their persistent connections: leave it unset there.
    """
    size = env.int("DATABASE_POOL", default=0)
    if size > 0 and database["ENGINE"] == "django.db.backends.postgresql":
        database["CONN_MAX_AGE"] = 0  # Django's pool and persistent connections exclude each other
        database.setdefault("OPTIONS", {})["pool"] = {"min_size": 1, "max_size": size, "timeout": 10}


apply_database_pool(DATABASES["default"])

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Europe/London"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]

# Redis: production and CI. Absent, Celery runs tasks eagerly and events stay in-process.
REDIS_URL = env("REDIS_URL", default="")
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
# No Celery time limits. After a broker outage the worker's main process, which could not
# read results while it reconnected, fires the limits of tasks that finished meanwhile, and
# the hard limit then kills pool processes in the middle of later tasks (seen in
# tests/faults). Tasks bound their own waits instead: socket timeouts for Redis, lock and
# statement timeouts for PostgreSQL (results.publication).
CELERY_TASK_SOFT_TIME_LIMIT = None
CELERY_TASK_TIME_LIMIT = None
# Nothing in a request may wait on Redis: fail fast and let the reconciler catch up.
# max_retries=0: kombu otherwise retries opening a channel for broker_connection_timeout
# (about 6 s measured with Redis refused) before a publish fails.
# ack_emulation=False: a message is consumed when fetched. Every task is a nudge the
# reconciler repeats, so a message lost with a killed worker costs nothing, while kombu's
# emulated acks crash the worker ("Unrecoverable error" restoring unacked messages) when
# Redis goes away with tasks reserved, and redeliver tasks that outrun the visibility timeout.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_timeout": 0.5, "socket_connect_timeout": 0.5, "max_retries": 0, "ack_emulation": False,
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Celery's Django fixup closes every database connection (and a pool, in a prefork child)
# after each task unless told to reuse them: on election night that is a new PostgreSQL
# session per publication (thousands a minute). Reused for this many tasks instead; the
# worker closes unusable and expired ones around each task as Django does around a request
# (config/celery_app.py), so CONN_MAX_AGE and a lost database behave as in the web server.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
EVENT_BUS = "redis" if REDIS_URL else "memory"

# Live publication (docs/live-data.md): snapshot documents on disk, the live stream, and the
# reconciler that republishes whatever is behind (config/celery_app.py).
SNAPSHOT_ROOT = Path(env("SNAPSHOT_ROOT", default=str(VAR_DIR / "snapshots")))
LIVE_SNAPSHOT_KEEP_SECONDS = env.int("LIVE_SNAPSHOT_KEEP_SECONDS", default=600)
LIVE_STREAM_PREFIX = env("LIVE_STREAM_PREFIX", default="live:")
LIVE_STREAM_MAXLEN = env.int("LIVE_STREAM_MAXLEN", default=10000)
LIVE_HEARTBEAT_SECONDS = env.float("LIVE_HEARTBEAT_SECONDS", default=15.0)
LIVE_RECONCILE_SECONDS = env.float("LIVE_RECONCILE_SECONDS", default=5.0)

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5,
                        "IGNORE_EXCEPTIONS": True},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    # Read API: anonymous callers per address, API keys per key (config/api_auth.py).
    "DEFAULT_THROTTLE_RATES": {
        "anon": env("API_THROTTLE_ANON", default="120/minute"),
        "user": "600/minute",
        "api_key": env("API_THROTTLE_API_KEY", default="1200/minute"),
    },
    "EXCEPTION_HANDLER": "config.api_errors.exception_handler",
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
}
SPECTACULAR_SETTINGS = {
    "TITLE": "UK local election results API",
    "DESCRIPTION": "Read-only results, councils, ballots and change feed.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Operations are grouped by resource (results, ballots, …), not by the version prefix.
    "SCHEMA_PATH_PREFIX": r"/api/v[0-9]+",
    # The docs page's assets are served from this site: no CDN is needed or trusted.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "ResultStatusEnum": "results.models.ResultStatus",
        "CountStateEnum": "results.models.CountState",
        "EventKindEnum": "results.models.EventKind",
    },
}
# Read API: seconds a rendered document is reused while nothing it could show has changed
# (config/api_http.py), and days after polling day when an election counts as settled
# (long Cache-Control).
API_RESPONSE_CACHE_SECONDS = env.float("API_RESPONSE_CACHE_SECONDS", default=60.0)
API_SETTLED_AFTER_DAYS = env.int("API_SETTLED_AFTER_DAYS", default=3)

# Login lockout, keyed on the client address (behind a proxy: the trusted X-Forwarded-For hop).
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = 0.25  # hours
AXES_LOCKOUT_PARAMETERS = [["ip_address", "username"]]
AXES_IPWARE_PROXY_COUNT = env.int("NUM_PROXIES", default=0) or None
AXES_RESET_ON_SUCCESS = True
# django-ipware is not installed, so without this axes would key every client on REMOTE_ADDR:
# behind a proxy, everyone on the proxy's address. accounts.client_ip applies NUM_PROXIES.
NUM_PROXIES = env.int("NUM_PROXIES", default=0)
AXES_CLIENT_IP_CALLABLE = "accounts.client_ip.client_ip_address"
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
LOGIN_ATTEMPTS_PER_MINUTE = env.int("LOGIN_ATTEMPTS_PER_MINUTE", default=30)
LOGIN_URL = "accounts:login"
# Sessions end after two idle hours (every request renews them) and when the browser closes.
SESSION_COOKIE_AGE = 2 * 60 * 60
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"

# The map's boundary layers (content-hashed, cache-forever files; councils/boundary_layer.py).
BOUNDARY_LAYER_ROOT = Path(env("BOUNDARY_LAYER_ROOT", default=str(VAR_DIR / "boundaries")))

LEAFLET_CONFIG = {
    "DEFAULT_CENTER": (54.5, -3.0),
    "DEFAULT_ZOOM": 5,
    "MIN_ZOOM": 4,
    "MAX_ZOOM": 16,
    # Tiles are optional: the map draws ward boundaries on a plain background without them.
    "TILES": [("Map", env("MAP_TILES_URL"), env("MAP_TILES_ATTRIBUTION", default=""))]
    if env("MAP_TILES_URL", default="")
    else [],
    "RESET_VIEW": False,
}

# Real public data used by tests and the demo; never copied into the repository.
_default_sample = BASE_DIR.parent / "shared" / "data"
ELECTIONS_SAMPLE_DATA = Path(
    env("ELECTIONS_SAMPLE_DATA", default=str(_default_sample))
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", default="WARNING")},
    "loggers": {
        "ukresults.security": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
