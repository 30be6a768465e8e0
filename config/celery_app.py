"""The Celery application. Eager (in-process) when no REDIS_URL is set.

The beat schedule is declared here and nowhere else.
"""

import functools
import os
from typing import Any

from celery import Celery
from celery.signals import task_postrun, task_prerun
from celery.worker.consumer import Consumer

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")


class PromptReconnectConsumer(Consumer):
    """The worker's consumer, retrying a lost broker every 1–2 s instead of backing off to
    30 s (kombu's default: 2, 4, 6 … s). After a Redis outage publication must resume within
    seconds of Redis returning, and a retry costs one connection attempt."""

    def ensure_connected(self, conn: Any) -> Any:
        conn.ensure_connection = functools.partial(
            conn.ensure_connection, interval_start=1, interval_step=0.5, interval_max=2
        )
        return super().ensure_connected(conn)


app = Celery("ukresults")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.worker_consumer = "config.celery_app:PromptReconnectConsumer"
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def close_old_database_connections(sender: Any = None, **kwargs: object) -> None:
    """Before and after each task in a worker, what Django does around each request: close
    connections that failed or outlived CONN_MAX_AGE (settings.CELERY_DB_REUSE_MAX). Not for
    eager tasks, which run inside the caller's request and transaction."""
    if sender is None or getattr(sender.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()


@app.on_after_configure.connect
def setup_periodic_tasks(sender: Celery, **kwargs: object) -> None:
    from django.conf import settings

    # Every few seconds: republish whatever is behind its current version (lost nudges,
    # a Redis outage, a killed worker). Expires so a backlog after an outage is one run.
    seconds = settings.LIVE_RECONCILE_SECONDS
    sender.add_periodic_task(
        seconds, sender.signature("results.reconcile_publication", expires=seconds),
        name="reconcile live publication",
    )
