"""URLs of the REST API, included from ``config.urls`` under ``/api/``.

- ``/api/v1/…``: the read API (read-only for everyone; see ``config.api_auth``). Ids with
  dots (Democracy Club ids) and colons (``ynmp-party:2``) are path parameters as they are.
- ``/api/schema/``: the OpenAPI 3 schema; ``/api/docs/``: interactive documentation (Swagger
  UI); ``/api/redoc/``: the same as a reference page. Their assets are served from this site
  (drf-spectacular-sidecar), not from a CDN.

The keying write endpoint ``POST /api/v1/ballots/<ballot_paper_id>/result/`` is routed from
``config.urls`` (``results.api.submit``) and matches before these routes.
"""

from __future__ import annotations

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

from config.api_views import api_not_found
from councils.api.views import CouncilViewSet
from elections.api.views import BallotViewSet, CandidacyViewSet, ElectionViewSet, PartyViewSet
from results.api.views import EventFeedView, ExportView, ResultViewSet, ScoreboardView

router = SimpleRouter()
router.register("councils", CouncilViewSet, basename="council")
router.register("parties", PartyViewSet, basename="party")
router.register("elections", ElectionViewSet, basename="election")
router.register("ballots", BallotViewSet, basename="ballot")
router.register("candidacies", CandidacyViewSet, basename="candidacy")
router.register("results", ResultViewSet, basename="result")

v1 = [
    *router.urls,
    path("events/", EventFeedView.as_view(), name="event-feed"),
    path("scoreboard/", ScoreboardView.as_view(), name="scoreboard"),
    path("exports/<str:file_format>/", ExportView.as_view(), name="export"),
]

app_name = "api"
urlpatterns = [
    path("v1/", include(v1)),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api:schema"), name="redoc"),
    re_path(r"^.*$", api_not_found),
]
