# One image for the web (uvicorn, ASGI), keying (gunicorn, WSGI), the Celery worker and beat.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=config.settings.production

WORKDIR /app

# Dependencies first, so a code change does not reinstall them. The packages' wheels need no
# system libraries (psycopg[binary], shapely and orjson ship their own).
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
    > /tmp/requirements.txt
RUN pip install -r /tmp/requirements.txt

COPY . .
RUN useradd --system --uid 10001 --home-dir /app ukresults \
    && mkdir -p /app/var/snapshots \
    && chown -R ukresults /app/var

USER ukresults
EXPOSE 8000

# The compose file gives each service its command; alone, the image serves the site.
# uvicorn reads WEB_CONCURRENCY (processes) and FORWARDED_ALLOW_IPS (trusted proxies) itself.
CMD ["uvicorn", "config.asgi:application", "--host", "0.0.0.0", "--port", "8000", "--lifespan", "off"]
