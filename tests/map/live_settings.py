"""Settings of the processes a browser test starts: the web server and the keying process.

The test settings, with publication run in the process that commits (Celery eager), so a
result keyed in one process is published by it and reaches the server's stream through the
bus (Redis with ``REDIS_URL``, the spool files without) without depending on a worker whose
database is another one. Static files come from the app directories (no collectstatic).
"""

from config.settings.test import *  # noqa: F403

CELERY_TASK_ALWAYS_EAGER = True
CELERY_BROKER_URL = "memory://"
WHITENOISE_USE_FINDERS = True
