"""Celery tasks of results: thin wrappers around ``results.publication``.

Both are idempotent: publishing a result already published at its version does nothing,
and the reconciler publishes only what is behind. Neither retries: the reconciler, run by
Celery beat every ``LIVE_RECONCILE_SECONDS`` (config/celery_app.py), is the retry.

``queue_publication`` coalesces the nudges: while a publication task is queued and has not
started, a new result does not queue another, because that task publishes whatever is
behind once it starts. On election night the queue then holds at most one waiting task
instead of one per keying, each of which would cost a worker round trips to find its result
already published by the one before, while a new result waits behind them.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import Any

from celery import shared_task
from django.conf import settings

from . import publication, snapshots

logger = logging.getLogger(__name__)

_last_garbage_collection = 0.0
GARBAGE_COLLECTION_SECONDS = 60.0


# Set while a publication task is queued and not started; it expires in case that task is
# lost (the reconciler publishes meanwhile).
QUEUED_SECONDS = 10
_redis_lock = threading.Lock()
_redis_client: Any = None


def _queued_key() -> str:
    return f"{settings.LIVE_STREAM_PREFIX}publication:queued"


def _coalescing() -> bool:
    """Whether tasks go through a broker (and nudges coalesce): not in the embedded default."""
    return bool(settings.REDIS_URL) and not publish_result_task.app.conf.task_always_eager


def _redis() -> Any:
    """The process's client for the queued mark. Unlike the publisher's (``stream._redis``),
    it is used in requests: short timeouts and no retry, so a nudge never holds one up."""
    global _redis_client
    with _redis_lock:  # keying runs in threads
        if _redis_client is None:
            import redis

            _redis_client = redis.Redis.from_url(
                settings.REDIS_URL, socket_timeout=0.5, socket_connect_timeout=0.5
            )
        return _redis_client


def queue_publication(result_id: int) -> bool:
    """Queue the publication of ``result_id`` unless a publication task is already queued
    and not yet started (module docstring). True if a task was queued (or run, in the
    embedded default, where tasks run in-process). Raises if Redis or the broker cannot be
    reached, with nothing queued: the reconciler publishes the result then."""
    if not _coalescing():
        publish_result_task.apply_async((result_id,), retry=False)
        return True
    if not _redis().set(_queued_key(), result_id, nx=True, ex=QUEUED_SECONDS):
        return False
    try:
        publish_result_task.apply_async((result_id,), retry=False)
    except Exception:
        with contextlib.suppress(Exception):
            _redis().delete(_queued_key())
        raise
    return True


@shared_task(name="results.publish_result", ignore_result=True)
def publish_result_task(result_id: int) -> None:
    """Publish every day with a result behind (``publication.publish_pending``): the day of
    ``result_id`` and those of the results whose nudges this task stood for.

    The queued mark is cleared before reading what is behind, so a result committed after
    that read queues a task of its own. In the embedded default (eager, no beat) it also
    runs the reconciler's sweep, so a day invalidated by this publication is rebuilt too.
    """
    if _coalescing():
        try:
            _redis().delete(_queued_key())
        except Exception:  # the mark expires by itself; publishing matters more
            logger.warning("publication: the queued mark was not cleared", exc_info=True)
    publication.publish_pending()
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
