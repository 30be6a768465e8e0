"""The OpenAPI schema is valid with warnings as failures, and the documentation page works
without any CDN: its scripts and styles are served by the site."""

from __future__ import annotations

import re
from io import StringIO
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command
from django.test import Client, override_settings


def test_the_schema_validates_with_warnings_as_failures(tmp_path: Path) -> None:
    out = tmp_path / "schema.yml"
    call_command(
        "spectacular",
        "--validate",
        "--fail-on-warn",
        "--file",
        str(out),
        stdout=StringIO(),
        stderr=StringIO(),
    )
    schema = yaml.safe_load(out.read_text())
    read_paths = [p for p in schema["paths"] if p.startswith("/api/v1/")]
    assert {
        "/api/v1/results/",
        "/api/v1/results/{ballot_paper_id}/",
        "/api/v1/results/{ballot_paper_id}/history/",
        "/api/v1/events/",
        "/api/v1/exports/{file_format}/",
        "/api/v1/scoreboard/",
        "/api/v1/councils/{slug}/tally/",
        "/api/v1/councils/{slug}/geojson/",
    } <= set(read_paths)
    assert schema["components"]["securitySchemes"]["ApiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": schema["components"]["securitySchemes"]["ApiKey"]["description"],
    }
    results = schema["paths"]["/api/v1/results/"]["get"]
    assert {p["name"] for p in results["parameters"]} >= {
        "election",
        "election_date",
        "council",
        "ward_gss",
        "ballot",
        "ballot_prefix",
        "status",
        "modified_since",
        "cursor",
        "page_size",
    }
    assert {"200", "304", "400", "401", "404", "429"} <= set(results["responses"])


@pytest.mark.django_db
def test_the_schema_and_docs_are_served(client) -> None:
    assert client.get("/api/schema/").status_code == 200
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assets = re.findall(r'(?:src|href)="(/static/drf_spectacular_sidecar/[^"]+)"', html)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets)
    assert "cdn" not in html.lower() and "//unpkg" not in html
    # Served by WhiteNoise from the collected static files in production; here straight from
    # the apps' static folders (as collectstatic would gather them).
    with override_settings(WHITENOISE_USE_FINDERS=True):
        static_client = Client()
        for asset in assets:
            assert static_client.get(asset).status_code == 200, asset
    assert client.get("/api/redoc/").status_code == 200


@pytest.mark.django_db
def test_the_site_footer_links_the_docs(client) -> None:
    page = client.get("/").content.decode()
    assert 'href="/api/docs/"' in page
