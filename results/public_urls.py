"""URLs of the public pages (namespace ``public``), included by config/urls.py."""

from django.urls import path, re_path

from . import public_views as views

app_name = "public"

urlpatterns = [
    path("map/", views.results_map, name="map"),
    path("map/boundaries/<str:name>", views.boundary_layer_file, name="boundary_layer"),
    path("results/search/", views.search_page, name="search"),
    path("results/ballots/<str:ballot_paper_id>/", views.ballot_page, name="ballot"),
    path("results/wards/<int:ward_id>/", views.ward_page, name="ward"),
    # Dates only, so these never shadow another app's /results/<word>/ pages.
    re_path(r"^results/(?P<date>\d{4}-\d{2}-\d{2})/$", views.national_page, name="national"),
    re_path(r"^results/(?P<date>\d{4}-\d{2}-\d{2})/(?P<council_slug>[-a-zA-Z0-9_]+)/$", views.council_page,
            name="council"),
]
