"""gunicorn settings of the correspondents' server ("keying" in docker-compose.yml).

Keying is short synchronous work (one transaction, about 20 ms of CPU); nothing on that
server streams. Under WSGI, threads of one process (``gthread``) run it without the cost
Django's ASGI handler adds to every synchronous request (a thread hand-off and an event-loop
round trip), which on the night bench left keying with less CPU per request and a shorter
queue behind the public's load (bench/README.md, "The whole night"). The public's server
("web") stays on uvicorn: it holds the live streams.

Read from the environment:

- ``KEYING_BIND`` (default ``0.0.0.0:8000``);
- ``WEB_CONCURRENCY``: processes (default 1), as for uvicorn;
- ``KEYING_THREADS``: request threads per process (default 10; keep it no larger than the
  process's database pool, ``DATABASE_POOL``, or requests wait for a connection);
- ``FORWARDED_ALLOW_IPS``: the proxies trusted for X-Forwarded-Proto (gunicorn reads it).

Idle connections are kept ``keepalive`` seconds: longer than the front keeps idle upstream
connections (``keepalive_timeout`` in deploy/nginx.conf), so nginx never sends a request on
a connection this server is closing (tests/results/test_front_server.py).
"""

import os

bind = os.environ.get("KEYING_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "1"))
worker_class = "gthread"
threads = int(os.environ.get("KEYING_THREADS", "10"))
keepalive = 5
# A worker silent for 30 s is replaced; a keying cut short rolls back, and the client's
# retry token makes its retry safe.
timeout = 30
graceful_timeout = 20
accesslog = None
errorlog = "-"
loglevel = os.environ.get("KEYING_LOG_LEVEL", "info")
