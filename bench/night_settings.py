"""Settings of the night bench's processes: the embedded default's settings module
(``config.settings.local``) with DEBUG off, as in production, and a PostgreSQL connection
pool in the web server's processes (and the correspondents'), as in docker-compose.yml.

Django under ASGI runs each request's synchronous code in a thread of its own, so every
request in flight holds a database connection of its own: in the first runs, slow API
requests under load took all 100 connections of the (shared) server and keyings failed
with 500. A pool (Django's ``OPTIONS["pool"]``, psycopg-pool) makes requests wait for one
of ``NIGHT_BENCH_POOL`` connections per process instead. The Celery worker keeps one
persistent connection per child, as deployed (``CELERY_DB_REUSE_MAX``).
"""

import os

from config.settings.local import *  # noqa: F403
from config.settings.local import DATABASES

DEBUG = False
if os.environ.get("NIGHT_BENCH_POOL"):
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # pooling and persistent connections exclude each other
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": int(os.environ["NIGHT_BENCH_POOL"]),
        "timeout": 30,
    }
