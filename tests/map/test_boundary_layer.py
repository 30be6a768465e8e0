"""The map's boundary layer: a quantised, delta-encoded TopoJSON file per boundary version,
named by its content hash, joined to results by ward id, served cache-forever; the national
layer of every UK ward within 500 KB gzipped."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse
from shapely.geometry import shape

from councils.boundary_layer import (
    QUANTUM,
    build_boundary_layer,
    decode_layer,
    encode_layer,
    get_boundary_layer,
)
from councils.models import Ward
from elections.models import Ballot, Election, VotingSystem
from tests.factories.councils import make_boundary_set, make_council, make_ward, square

pytestmark = pytest.mark.django_db

WITH_HOLE = {
    "type": "MultiPolygon",
    "coordinates": [
        [
            [[1.0, 52.0], [1.1, 52.0], [1.1, 52.1], [1.0, 52.1], [1.0, 52.0]],
            [[1.03, 52.03], [1.03, 52.07], [1.07, 52.07], [1.07, 52.03], [1.03, 52.03]],
        ],
        [[[1.2, 52.0], [1.25, 52.0], [1.25, 52.05], [1.2, 52.05], [1.2, 52.0]]],
    ],
}


@pytest.fixture
def root(settings) -> Path:
    return Path(settings.BOUNDARY_LAYER_ROOT)


def coords(geometry: dict) -> list:
    return [[[tuple(p) for p in ring] for ring in polygon] for polygon in geometry["coordinates"]]


def test_layer_holds_every_current_ward_by_id_with_its_national_geometry(root: Path) -> None:
    council = make_council(name="Layershire")
    wards = [make_ward(make_boundary_set(council=council), geometry=WITH_HOLE)]
    wards += [make_ward(wards[0].boundary_set) for _ in range(3)]

    layer = build_boundary_layer()

    assert layer.wards == 4
    data = layer.path.read_bytes()
    topology = json.loads(data)
    assert topology["type"] == "Topology"
    assert topology["transform"]["scale"] == [QUANTUM, QUANTUM]
    assert topology["councils"] == {council.slug: "Layershire"}
    decoded = decode_layer(data)
    assert set(decoded) == {w.pk for w in wards}
    for ward in wards:
        assert decoded[ward.pk]["council"] == council.slug
        # Lossless on the national grid (0.001°), holes and islands kept.
        expected = [[[(round(x, 3), round(y, 3)) for x, y in ring] for ring in polygon]
                    for polygon in ward.geometry_national["coordinates"]]
        assert coords(decoded[ward.pk]) == expected
    assert shape(decoded[wards[0].pk]).area == pytest.approx(shape(WITH_HOLE).area, rel=0.01)
    # Delta-encoded integers: after the first point, steps of a few grid cells.
    assert all(isinstance(v, int) for arc in topology["arcs"] for point in arc for v in point)
    assert max(abs(v) for arc in topology["arcs"] for point in arc[1:] for v in point) <= 100


def test_a_ward_too_small_for_the_grid_keeps_a_clickable_cell() -> None:
    tiny = square(-1.5, 53.5, size=0.0002)
    data = encode_layer([(7, "tiny", tiny, (-1.4999, 53.5001))], {"tiny": "Tiny"})
    decoded = decode_layer(data)[7]
    area = shape(decoded).area
    assert area == pytest.approx(QUANTUM * QUANTUM)
    assert shape(decoded).contains(shape({"type": "Point", "coordinates": [-1.4995, 53.5005]}))


def test_the_name_is_the_content_hash_so_unchanged_boundaries_keep_their_file(root: Path) -> None:
    ward = make_ward()
    first = build_boundary_layer()
    again = build_boundary_layer()
    assert again.name == first.name
    assert sorted(p.name for p in root.iterdir() if not p.name.endswith(".pointer")) == [
        first.name, first.name + ".gz",
    ]
    assert gzip.decompress(first.gzip_path.read_bytes()) == first.path.read_bytes()
    assert get_boundary_layer().name == first.name

    Ward.objects.filter(pk=ward.pk).update(geometry_national=square(0.5, 51.0, size=0.02))
    changed = build_boundary_layer()
    assert changed.name != first.name
    assert get_boundary_layer().name == changed.name
    assert first.path.exists()  # browsers holding the old name can still fetch it


def test_a_polling_day_gets_the_wards_in_force_that_day(root: Path) -> None:
    council = make_council(name="Changeshire")
    old_set = make_boundary_set(council=council, valid_from=dt.date(2019, 5, 1),
                                valid_to=dt.date(2023, 5, 1))
    new_set = make_boundary_set(council=council, valid_from=dt.date(2023, 5, 1))
    old, new = make_ward(old_set), make_ward(new_set)
    # A 2024 by-election matched (by its GSS code) to a ward of the old set is drawn too.
    election = Election.objects.create(election_id=f"local.{council.slug}.2024-05-02",
                                       date=dt.date(2024, 5, 2), council=council, title="t")
    kept = make_ward(old_set)
    Ballot.objects.create(ballot_paper_id=f"local.{council.slug}.{kept.slug}.by.2024-05-02",
                          election=election, ward=kept, voting_system=VotingSystem.FPTP, by_election=True)

    in_2021 = decode_layer(build_boundary_layer(on_date=dt.date(2021, 5, 6)).path.read_bytes())
    in_2024 = decode_layer(build_boundary_layer(on_date=dt.date(2024, 5, 2)).path.read_bytes())
    current = decode_layer(build_boundary_layer().path.read_bytes())

    assert set(in_2021) == {old.pk, kept.pk}
    assert set(in_2024) == {new.pk, kept.pk}
    assert set(current) == {new.pk}
    assert get_boundary_layer(on_date=dt.date(2021, 5, 6)) is not None
    assert get_boundary_layer(on_date=dt.date(2022, 5, 5)) is None


def test_the_layer_is_served_immutable_and_pre_compressed(client, root: Path) -> None:
    make_ward()
    layer = build_boundary_layer()
    url = reverse("public:boundary_layer", args=[layer.name])

    plain = client.get(url)
    assert plain.status_code == 200
    assert plain["Cache-Control"] == "public, max-age=31536000, immutable"
    assert plain["Content-Type"] == "application/json"
    assert "Content-Encoding" not in plain
    assert b"".join(plain.streaming_content) == layer.path.read_bytes()

    compressed = client.get(url, HTTP_ACCEPT_ENCODING="br, gzip")
    assert compressed["Content-Encoding"] == "gzip"
    assert compressed["Vary"] == "Accept-Encoding"
    assert gzip.decompress(b"".join(compressed.streaming_content)) == layer.path.read_bytes()

    assert client.get(url, HTTP_IF_NONE_MATCH=plain["ETag"]).status_code == 304


def test_command_builds_current_and_every_polling_day(root: Path) -> None:
    ward = make_ward()
    Election.objects.create(election_id=f"local.{ward.boundary_set.council.slug}.2026-05-07",
                            date=dt.date(2026, 5, 7), council=ward.boundary_set.council, title="t")
    out = StringIO()
    call_command("build_boundary_layer", stdout=out)
    lines = out.getvalue().splitlines()
    assert [line.split(":")[0] for line in lines] == ["current", "2026-05-07"]
    assert "1 wards" in lines[0]
    assert get_boundary_layer(on_date=dt.date(2026, 5, 7)) is not None


@pytest.mark.slow
def test_national_layer_of_every_uk_ward_is_under_500_kb_gzipped(
    sample_data: Path, root: Path, report_figure
) -> None:
    call_command("import_boundaries", str(sample_data / "boundaries/wards_may2023_uk_bsc.geojson"),
                 stdout=StringIO(), stderr=StringIO(), verbosity=0)

    layer = build_boundary_layer()

    report_figure(f"\nnational boundary layer: {layer.wards} wards, {layer.raw_bytes:,} bytes raw, "
          f"{layer.gzip_bytes:,} bytes gzipped")
    assert layer.wards == 8441
    assert layer.gzip_bytes <= 500_000
    decoded = decode_layer(layer.path.read_bytes())
    assert set(decoded) == set(Ward.objects.values_list("pk", flat=True))
    # Every ward can be drawn: a valid, non-empty shape close to its stored national one.
    areas = dict(Ward.objects.values_list("pk", "geometry_national"))
    far = [pk for pk, geometry in decoded.items()
           if abs(shape(geometry).area - shape(areas[pk]).area) > max(0.1 * shape(areas[pk]).area, 2e-6)]
    assert len(far) <= 10, far
