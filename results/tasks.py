"""Celery tasks of results: thin wrappers around ``results.publication``.

Both are idempotent: publishing a result already published at its version does nothing,
and the reconciler publishes only what is behind. Neither retries: the reconciler, run by
Celery beat every ``LIVE_RECONCILE_SECONDS`` (config/celery_app.py), is the retry.
"""

from __future__ import annotations

import logging
import time

from celery import shared_task
from django.conf import settings

from . import publication, snapshots

logger = logging.getLogger(__name__)

_last_garbage_collection = 0.0
GARBAGE_COLLECTION_SECONDS = 60.0


@shared_task(name="results.publish_result", ignore_result=True)
def publish_result_task(result_id: int) -> None:
    """Publish the day of result ``result_id`` if it is behind (``publication.publish_result``).

    In the embedded default (eager, no beat) it also runs the reconciler's sweep, so a day
    invalidated by this publication is rebuilt too.
    """
    publication.publish_result(result_id=result_id)
    if settings.CELERY_TASK_ALWAYS_EAGER:
        publication.reconcile()


@shared_task(name="results.reconcile_publication", ignore_result=True)
def reconcile_publication_task() -> int:
    """Publish every day that is behind (``publication.reconcile``); once a minute also
    delete snapshot versions replaced long enough ago. Returns the results published."""
    global _last_garbage_collection
    reports = publication.reconcile()
    published = sum(len(r.published) for r in reports)
    if published:
        logger.info("reconciler: published %d result(s) on %d day(s)", published, len(reports))
    now = time.monotonic()
    if now - _last_garbage_collection >= GARBAGE_COLLECTION_SECONDS:
        _last_garbage_collection = now
        snapshots.collect_garbage(settings.SNAPSHOT_ROOT, keep_seconds=settings.LIVE_SNAPSHOT_KEEP_SECONDS)
    return published
