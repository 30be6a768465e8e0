from django.contrib import admin
from django.urls import include, path

from config import views

urlpatterns = [
    path("", views.home, name="home"),
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("keying/", include("results.keying_urls")),
    path("api/v1/", include("results.api.submit")),
    path("api/", include("config.api_router")),
    path("", include("results.public_urls")),
    path("", include("results.live_urls")),
]
