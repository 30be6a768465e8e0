"""Test settings: the database and Redis are real (from DATABASE_URL/REDIS_URL in CI).

Anything external is forced to safe values here.
"""

import os

from .base import *  # noqa: F403
from .base import REST_FRAMEWORK, TEMPLATES

SECRET_KEY = "test-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"  # noqa: S105
DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
TEMPLATES[0]["OPTIONS"]["string_if_invalid"] = "INVALID_TEMPLATE_VARIABLE[%s]"
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {"anon": "10000/minute", "user": "10000/minute",
                                           "api_key": "10000/minute"}
LEAFLET_CONFIG = {**LEAFLET_CONFIG, "TILES": []}  # noqa: F405
WHITENOISE_AUTOREFRESH = True  # no collectstatic in tests
# Tests never write into the development snapshots; the CI worker (same settings) shares this.
SNAPSHOT_ROOT = Path(env("SNAPSHOT_ROOT", default=str(VAR_DIR / "test-snapshots")))  # noqa: F405
# Under pytest-xdist the workers share one Redis: each keeps its own cache keys, so one
# worker's throttle counters and rendered API documents never reach another's tests.
if os.environ.get("PYTEST_XDIST_WORKER"):
    CACHES["default"]["KEY_PREFIX"] = os.environ["PYTEST_XDIST_WORKER"]  # noqa: F405
