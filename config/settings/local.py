"""The embedded default: one machine, nothing but Python."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
# A development-only key; production.py has no default and refuses to start without one.
SECRET_KEY = env("DJANGO_SECRET_KEY", default="embedded-default-not-for-production")  # noqa: S105
