"""The public pages: the live map, ward and council pages, the national table and search.

Thin and read-only (GET/HEAD only). Pages read the database through
``results.public_selectors``; the map page hands the browser the URLs of the static boundary
layer, the snapshot and the stream (docs/live-data.md) and draws everything else itself.
Every name is inserted by the template engine (escaped) or, on the map, as text nodes.
"""

from __future__ import annotations

import datetime as dt
import re

from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseNotModified
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_safe

from councils.boundary_layer import LAYER_NAME, get_or_build_boundary_layer, layer_root

from . import public_selectors as selectors

# How long a browser or CDN may reuse a page before asking again: results change during the
# night, and the map itself updates live, so the pages only need to be roughly current.
PAGE_CACHE_SECONDS = 30
_GZIP = re.compile(r"\bgzip\b")


def _parse_date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise Http404(f"{value!r} is not a date (YYYY-MM-DD)") from None


def _cached(response: HttpResponse, seconds: int = PAGE_CACHE_SECONDS) -> HttpResponse:
    response["Cache-Control"] = f"public, max-age={seconds}, stale-while-revalidate=60"
    return response


def map_config(on_date: dt.date, layer_url: str) -> dict[str, object]:
    """What results_map.js needs: where the boundary layer, snapshot, stream and ballot
    records are (docs/live-data.md) and how to link to the pages."""
    day = on_date.isoformat()
    return {
        "date": day,
        "boundaries": layer_url,
        "snapshot": f"/live/{day}/national.json",
        "stream": f"/live/stream?date={day}",
        "ballot": "/live/ballot/{ballot}.json",
        "councilDocument": f"/live/{day}/council/{{council}}.json",
        "ballotPage": reverse("public:ballot", args=["BALLOT"]).replace("BALLOT", "{ballot}"),
        "councilPage": reverse("public:council", args=[day, "COUNCIL"]).replace("COUNCIL", "{council}"),
        "wardPage": reverse("public:ward", args=[0]).replace("/0/", "/{ward}/"),
        # Polling when the stream cannot be kept open; a slow check even while it is open.
        "pollSeconds": 5,
        "safetyPollSeconds": 60,
    }


@require_safe
def results_map(request: HttpRequest) -> HttpResponse:
    """The national map of one polling day (``?date=YYYY-MM-DD``, default: the latest)."""
    dates = selectors.list_polling_dates()
    requested = request.GET.get("date")
    on_date = _parse_date(requested) if requested else selectors.default_polling_date()
    if requested and on_date not in dates:
        raise Http404("No elections on that date.")
    context: dict[str, object] = {"dates": dates, "on_date": on_date}
    if on_date is not None:
        layer = get_or_build_boundary_layer(on_date=on_date)
        context["map_config"] = map_config(
            on_date, reverse("public:boundary_layer", args=[layer.name])
        )
        context["map_js"] = static("js/map/results_map.js")
    return _cached(render(request, "map/results_map.html", context))


@require_safe
def boundary_layer_file(request: HttpRequest, name: str) -> HttpResponse:
    """A boundary layer file: immutable (its name is its content hash), pre-gzipped when the
    client accepts it. A front server can serve ``BOUNDARY_LAYER_ROOT`` directly instead."""
    if not LAYER_NAME.match(name):
        raise Http404("No such boundary layer.")
    etag = f'"{name.split("-")[1].split(".")[0]}"'
    if request.headers.get("If-None-Match") == etag:
        response: HttpResponse = HttpResponseNotModified()
    else:
        path = layer_root() / name
        gz = path.with_name(name + ".gz")
        use_gzip = bool(_GZIP.search(request.headers.get("Accept-Encoding", ""))) and gz.exists()
        try:
            response = FileResponse((gz if use_gzip else path).open("rb"), content_type="application/json")
        except FileNotFoundError:
            raise Http404("No such boundary layer.") from None
        if use_gzip:
            response["Content-Encoding"] = "gzip"
    response["ETag"] = etag
    response["Cache-Control"] = "public, max-age=31536000, immutable"
    patch_vary_headers(response, ["Accept-Encoding"])
    return response


@require_safe
def ballot_page(request: HttpRequest, ballot_paper_id: str) -> HttpResponse:
    """One ward's contest: candidates, votes, share, elected, turnout, status, source,
    declaration time and history."""
    record = selectors.get_ballot_page(ballot_paper_id)
    if record is None:
        raise Http404("No such ballot.")
    return _cached(render(request, "results/public/ballot.html", {"record": record}))


@require_safe
def ward_page(request: HttpRequest, ward_id: int) -> HttpResponse:
    """A ward and every contest held in it, latest first."""
    ward = selectors.get_ward(ward_id)
    if ward is None:
        raise Http404("No such ward.")
    records = selectors.list_ballots_for_ward(ward)
    return _cached(render(request, "results/public/ward.html", {"ward": ward, "records": records}))


@require_safe
def council_page(request: HttpRequest, date: str, council_slug: str) -> HttpResponse:
    """A council's election on one day: its scoreboard, seat bar and every ward's result."""
    on_date = _parse_date(date)
    election = selectors.get_election_for_council(council_slug, on_date)
    if election is None:
        raise Http404("No election of that council on that date.")
    records = selectors.list_council_records(election)
    scoreboard = selectors.council_scoreboard(election, records)
    summary = selectors.election_summary(records)
    context = {"election": election, "council": election.council, "records": records, "summary": summary,
               "scoreboard": scoreboard,
               "map_url": f"{reverse('public:map')}?date={on_date.isoformat()}#council={council_slug}"}
    return _cached(render(request, "results/public/council.html", context))


@require_safe
def national_page(request: HttpRequest, date: str) -> HttpResponse:
    """Every council with elections on one day and how far each has declared: the map's
    content as a table, without JavaScript."""
    on_date = _parse_date(date)
    elections = list(selectors.list_national_councils(on_date))
    if not elections:
        raise Http404("No elections on that date.")
    context = {"on_date": on_date, "elections": elections,
               "rehearsal": any(e.rehearsal for e in elections),
               "map_url": f"{reverse('public:map')}?date={on_date.isoformat()}"}
    return _cached(render(request, "results/public/national.html", context))


@require_safe
def search_page(request: HttpRequest) -> HttpResponse:
    """Councils and wards by name (``?q=``, at least two characters)."""
    query = request.GET.get("q", "")[:100]
    found = selectors.search(query)
    return render(request, "results/public/search.html", {"query": query, **found})
