"""Run a Celery worker for the fault tests, with one test-only hook.

``python tests/faults/worker.py <celery worker arguments>``. While the file named by
``FAULT_SLOW_FLAG`` exists, writing a national document first records the worker child's
pid in ``FAULT_PUBLISHING_MARK`` and sleeps ``FAULT_SLOW_SECONDS``: the ballot and council
documents of that publication are written, its transaction and lock are held, and the test
can kill the child in the middle of publishing.
"""

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django  # noqa: E402

django.setup()

from results import snapshots  # noqa: E402

_write_document = snapshots.write_document


def _slow_write_document(root, relpath, data):
    flag = os.environ.get("FAULT_SLOW_FLAG")
    if flag and relpath.endswith("/national.json") and os.path.exists(flag):
        Path(os.environ["FAULT_PUBLISHING_MARK"]).write_text(str(os.getpid()))
        time.sleep(float(os.environ.get("FAULT_SLOW_SECONDS", "3")))
    return _write_document(root, relpath, data)


snapshots.write_document = _slow_write_document

from config.celery_app import app  # noqa: E402

if __name__ == "__main__":
    app.worker_main(["worker", *sys.argv[1:]])
