"""Admin site configuration.

django-leaflet ships an admin module that imports GeoDjango (and so GDAL). The platform
stores geometry as GeoJSON and needs no GDAL, so admin discovery skips that one module.
"""

from importlib import import_module
from importlib.util import find_spec

from django.apps import apps
from django.contrib.admin.apps import SimpleAdminConfig

_SKIP_ADMIN_MODULES = {"leaflet"}


class AdminConfig(SimpleAdminConfig):
    def ready(self) -> None:
        super().ready()
        for app_config in apps.get_app_configs():
            if app_config.name in _SKIP_ADMIN_MODULES:
                continue
            module = f"{app_config.name}.admin"
            if find_spec(module) is not None:
                import_module(module)
