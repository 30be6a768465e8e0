"""``import_boundaries``: ONS ward GeoJSON into councils, boundary sets and wards.

Real files come from the shared data (``sample_data``); broken and "next year" files are
small GeoJSON documents written here, never copies of the shared data.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import re
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count
from django.urls import reverse
from shapely.geometry import shape

from councils.models import BoundarySet, Council, Ward
from councils.selectors import council_wards_feature_collection, national_wards_feature_collection
from elections.ids import slugify
from tests.factories.councils import make_boundary_set, make_council, make_ward, make_wards, square

pytestmark = pytest.mark.django_db

BOUNDARIES = "boundaries"
NATIONAL_FILE = "wards_may2023_uk_bsc.geojson"
Counts = dict[str, tuple[int, int, int, int]]


def run_import(*args: str) -> tuple[str, Counts]:
    """Run the command; return its output and the summary table as {kind: counts}."""
    out = StringIO()
    call_command("import_boundaries", *args, stdout=out, stderr=StringIO())
    output = out.getvalue()
    counts: Counts = {}
    for line in output.splitlines():
        match = re.match(r"^(\D+?)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)$", line)
        if match:
            created, updated, unchanged, rejected = (int(n) for n in match.groups()[1:])
            counts[match.group(1)] = (created, updated, unchanged, rejected)
    return output, counts


def database_state() -> dict[str, list[tuple[Any, ...]]]:
    """Every stored value of the three tables, to prove that nothing changed."""
    return {
        "councils": list(Council.objects.order_by("pk").values_list()),
        "sets": list(BoundarySet.objects.order_by("pk").values_list()),
        "wards": list(Ward.objects.order_by("pk").values_list()),
    }


def feature(
    ward_gss: str,
    name: str,
    *,
    council_gss: str = "E08999001",
    council_name: str = "Testborough",
    yy: str = "23",
    position: int = 0,
    geometry: dict[str, Any] | None = None,
    welsh: str = " ",
    **properties: Any,
) -> dict[str, Any]:
    """An ONS-shaped ward feature; ``position`` places its 0.01° square on a row."""
    props: dict[str, Any] = {
        f"WD{yy}CD": ward_gss,
        f"WD{yy}NM": name,
        f"WD{yy}NMW": welsh,
        f"LAD{yy}CD": council_gss,
        f"LAD{yy}NM": council_name,
        "LONG": 0.005 + position * 0.02,
        "LAT": 52.005,
    }
    props.update(properties)
    return {
        "type": "Feature",
        "properties": props,
        "geometry": geometry if geometry is not None else square(position * 0.02, 52.0),
    }


def write_collection(directory: Path, features: list[dict[str, Any]], name: str = "wards.geojson") -> Path:
    path = directory / name
    path.write_text(json.dumps({"type": "FeatureCollection", "name": name, "features": features}))
    return path


def three_wards(yy: str = "23") -> list[dict[str, Any]]:
    return [
        feature("E05999001", "Abbey", yy=yy, position=0),
        feature("E05999002", "Brook & Mill", yy=yy, position=1),
        feature("E05999003", "Castle", yy=yy, position=2),
    ]


# -- the real per-council extracts ------------------------------------------------------------

EXTRACTS = [
    ("E08000009-trafford.wd-may2023.geojson", "E08000009", "Trafford", "trafford", "MTD", "ENG", 21, "E05"),
    ("E08000016-barnsley.wd-may2023.geojson", "E08000016", "Barnsley", "barnsley", "MTD", "ENG", 21, "E05"),
    (
        "E08000017-doncaster.wd-may2023.geojson", "E08000017", "Doncaster", "doncaster",
        "MTD", "ENG", 21, "E05",
    ),
    (
        "S12000005-clackmannanshire.wd-may2023.geojson", "S12000005", "Clackmannanshire",
        "clackmannanshire", "SCA", "SCT", 5, "S13",
    ),
]


@pytest.mark.parametrize(
    ("filename", "gss", "name", "slug", "council_type", "nation", "ward_count", "ward_entity"), EXTRACTS
)
def test_council_extract_imports(
    sample_data: Path, filename: str, gss: str, name: str, slug: str, council_type: str, nation: str,
    ward_count: int, ward_entity: str,
) -> None:
    path = sample_data / BOUNDARIES / filename

    _, counts = run_import(str(path))

    assert counts == {
        "boundary set": (1, 0, 0, 0),
        "council": (1, 0, 0, 0),
        "ward": (ward_count, 0, 0, 0),
    }
    council = Council.objects.get()
    assert (council.gss, council.name, council.slug, council.council_type, council.nation) == (
        gss, name, slug, council_type, nation
    )
    boundary_set = BoundarySet.objects.get()
    assert boundary_set.council == council
    assert boundary_set.valid_from == dt.date(2023, 5, 1)
    assert boundary_set.valid_to is None
    assert filename in boundary_set.source

    published = {f["properties"]["WD23CD"]: f for f in json.loads(path.read_text())["features"]}
    wards = list(Ward.objects.filter(boundary_set=boundary_set))
    assert len(wards) == ward_count
    assert {w.gss for w in wards} == set(published)
    for ward in wards:
        props = published[ward.gss]["properties"]
        assert ward.gss.startswith(ward_entity)
        assert ward.name == props["WD23NM"]
        assert ward.slug == slugify(props["WD23NM"])
        assert ward.name_cy == ""
        assert ward.seats == 1
        assert (ward.label_lon, ward.label_lat) == (props["LONG"], props["LAT"])
        assert ward.geometry == published[ward.gss]["geometry"]
        full = shape(ward.geometry)
        assert ward.bbox == full.bounds
        # Simplified but recognisable: the council level keeps the area within 1%, the
        # national one (tolerance up to 0.005°, on a 0.001° grid) within 25%.
        for level, tolerance in ((ward.geometry_council, 0.01), (ward.geometry_national, 0.25)):
            simplified = shape(level)
            assert simplified.geom_type == "MultiPolygon"
            assert simplified.is_valid
            assert simplified.area == pytest.approx(full.area, rel=tolerance)


def test_trafford_wards_have_democracy_club_slugs(sample_data: Path) -> None:
    run_import(str(sample_data / BOUNDARIES / EXTRACTS[0][0]))

    slugs = set(Ward.objects.values_list("slug", flat=True))

    # Ward slugs as they appear in Democracy Club ballot ids (local.trafford.<slug>.2026-05-07).
    assert {"altrincham", "ashton-upon-mersey", "bowdon", "hale", "stretford-humphrey-park"} <= slugs


# -- the national file ------------------------------------------------------------------------


@pytest.mark.slow
def test_national_file_imports_every_ward_and_repairs_the_invalid_one(
    sample_data: Path, django_assert_max_num_queries: Any
) -> None:
    path = sample_data / BOUNDARIES / NATIONAL_FILE
    published = {f["properties"]["WD23CD"]: f for f in json.loads(path.read_text())["features"]}
    invalid = [code for code, f in published.items() if not shape(f["geometry"]).is_valid]
    assert invalid == ["E05004205"]  # Tolleshunt D'Arcy, Maldon, as ONS publishes it

    # No query per ward or per council, only per batch of rows: SQLite takes 999 parameters
    # per statement, so Django inserts 66 wards (15 columns) at a time there, and 500 on
    # PostgreSQL. 8,441 / 66 ≈ 128 inserts, plus a dozen reads and writes.
    with django_assert_max_num_queries(8441 // 66 + 25):
        output, counts = run_import(str(path))

    assert counts == {
        "boundary set": (361, 0, 0, 0),
        "council": (361, 0, 0, 0),
        "ward": (8441, 0, 0, 0),
    }
    assert Ward.objects.count() == 8441
    assert Council.objects.count() == 361
    by_nation = dict(Council.objects.values_list("nation").annotate(n=Count("id")))
    assert by_nation == {"ENG": 296, "SCT": 32, "WLS": 22, "NIR": 11}
    assert set(Council.objects.values_list("council_type", flat=True)) == {
        "UTA", "NMD", "MTD", "LBO", "WPA", "SCA", "NID",
    }
    assert Council.objects.get(gss="E06000023").slug == "bristol"
    assert Council.objects.get(gss="E06000019").slug == "herefordshire"

    assert "repaired invalid geometry: row" in output
    assert "E05004205 Tolleshunt D'Arcy" in output
    repaired = Ward.objects.get(gss="E05004205")
    assert repaired.boundary_set.council.name == "Maldon"
    for level in (repaired.geometry, repaired.geometry_council, repaired.geometry_national):
        assert shape(level).is_valid
    published_area = shape(published["E05004205"]["geometry"]).area
    assert shape(repaired.geometry).area == pytest.approx(published_area, rel=0.02)
    levels = Ward.objects.values_list("geometry", "geometry_council", "geometry_national")
    for geometries in levels.iterator():
        assert all(shape(g).is_valid and not shape(g).is_empty for g in geometries)

    welsh = Ward.objects.filter(gss__startswith="W05").exclude(name_cy="")
    assert welsh.exists()
    assert not Ward.objects.filter(name_cy__in=[" ", "  "]).exists()

    # The national map layer stays within its budget.
    layer = json.dumps(national_wards_feature_collection(), separators=(",", ":")).encode()
    assert len(gzip.compress(layer, compresslevel=6)) <= 500_000

    before = database_state()
    _, counts = run_import(str(path))
    assert counts == {
        "boundary set": (0, 0, 361, 0),
        "council": (0, 0, 361, 0),
        "ward": (0, 0, 8441, 0),
    }
    assert database_state() == before


# -- reading a council's wards -----------------------------------------------------------------


def test_council_wards_feature_collection_in_one_query(
    sample_data: Path, django_assert_num_queries: Any
) -> None:
    run_import(str(sample_data / BOUNDARIES / EXTRACTS[0][0]))
    council = Council.objects.get(slug="trafford")
    wards = {w.pk: w for w in Ward.objects.all()}

    with django_assert_num_queries(1):
        collection = council_wards_feature_collection(council)

    assert collection["type"] == "FeatureCollection"
    features = collection["features"]
    assert len(features) == 21
    assert [f["properties"]["name"] for f in features] == sorted(w.name for w in wards.values())
    for feature_ in features:
        ward = wards[feature_["id"]]
        assert feature_["properties"] == {
            "id": ward.pk, "name": ward.name, "slug": ward.slug, "gss": ward.gss, "seats": ward.seats,
        }
        assert feature_["geometry"]["type"] == "MultiPolygon"
        assert shape(feature_["geometry"]).equals(shape(ward.geometry_council))
    west, south, east, north = collection["bbox"]
    assert west == min(w.bbox_west for w in wards.values())
    assert north == max(w.bbox_north for w in wards.values())
    # Serialisable as it is, for a view or a snapshot file.
    assert json.loads(json.dumps(collection))["features"][0]["id"] == features[0]["id"]


def test_council_wards_feature_collection_levels_and_dates(
    sample_data: Path, django_assert_num_queries: Any
) -> None:
    run_import(str(sample_data / BOUNDARIES / EXTRACTS[0][0]))
    council = Council.objects.get(slug="trafford")

    def vertices(collection: dict[str, Any]) -> int:
        return sum(len(r) for f in collection["features"] for p in f["geometry"]["coordinates"] for r in p)

    with django_assert_num_queries(3):
        full = council_wards_feature_collection(council, detail="full")
        national = council_wards_feature_collection(council, detail="national")
        before = council_wards_feature_collection(council, on_date=dt.date(2023, 4, 30))
    assert vertices(national) < vertices(full)
    assert before["features"] == []
    assert "bbox" not in before
    assert len(council_wards_feature_collection(council, on_date=dt.date(2023, 5, 4))["features"]) == 21
    with pytest.raises(ValueError, match="detail"):
        council_wards_feature_collection(council, detail="huge")  # type: ignore[arg-type]


# -- re-runs, dry runs, later files --------------------------------------------------------------


def test_rerun_reports_everything_unchanged_and_changes_nothing(sample_data: Path) -> None:
    path = sample_data / BOUNDARIES / EXTRACTS[0][0]
    run_import(str(path))
    before = database_state()

    _, counts = run_import(str(path))

    assert counts == {"boundary set": (0, 0, 1, 0), "council": (0, 0, 1, 0), "ward": (0, 0, 21, 0)}
    assert database_state() == before


def test_dry_run_writes_nothing_but_reports_counts(sample_data: Path) -> None:
    output, counts = run_import(str(sample_data / BOUNDARIES / EXTRACTS[3][0]), "--dry-run")

    assert "Dry run: nothing was written." in output
    assert counts == {"boundary set": (1, 0, 0, 0), "council": (1, 0, 0, 0), "ward": (5, 0, 0, 0)}
    assert not Council.objects.exists()
    assert not BoundarySet.objects.exists()
    assert not Ward.objects.exists()


def test_later_file_with_changed_wards_starts_a_new_set_and_closes_the_old(tmp_path: Path) -> None:
    run_import(str(write_collection(tmp_path, three_wards("23"), "wd23.geojson")))
    old_set = BoundarySet.objects.get()
    # Seats are not in ONS files: set by hand, they must survive into the new set.
    Ward.objects.filter(gss="E05999001").update(seats=3)
    later = [
        feature("E05999001", "Abbey", yy="24", position=0),
        # Brook & Mill and Castle merged into one ward, which ONS gives a new code.
        feature("E05999004", "Brook, Mill & Castle", yy="24", position=1,
                geometry={"type": "MultiPolygon", "coordinates": [
                    [[[0.02, 52.0], [0.05, 52.0], [0.05, 52.01], [0.02, 52.01], [0.02, 52.0]]]
                ]}),
    ]

    _, counts = run_import(str(write_collection(tmp_path, later, "wd24.geojson")))

    assert counts == {"boundary set": (1, 1, 0, 0), "council": (0, 0, 1, 0), "ward": (2, 0, 0, 0)}
    old_set.refresh_from_db()
    new_set = BoundarySet.objects.exclude(pk=old_set.pk).get()
    assert old_set.valid_to == dt.date(2024, 5, 1)
    assert (new_set.valid_from, new_set.valid_to) == (dt.date(2024, 5, 1), None)
    assert old_set.wards.count() == 3
    assert dict(new_set.wards.values_list("slug", "seats")) == {"abbey": 3, "brook-mill-castle": 1}
    council = Council.objects.get()
    assert len(council_wards_feature_collection(council)["features"]) == 2
    assert len(council_wards_feature_collection(council, on_date=dt.date(2023, 5, 4))["features"]) == 3


def test_same_codes_update_names_and_geometry_in_place(tmp_path: Path) -> None:
    run_import(str(write_collection(tmp_path, three_wards("23"), "wd23.geojson")))
    Ward.objects.filter(gss="E05999002").update(seats=2)
    boundary_set = BoundarySet.objects.get()
    changed = three_wards("24")
    changed[1]["properties"]["WD24NM"] = "Brook and Mill"
    changed[2]["geometry"] = square(0.04, 52.0, size=0.012)

    _, counts = run_import(str(write_collection(tmp_path, changed, "wd24.geojson")))

    assert counts == {"boundary set": (0, 1, 0, 0), "council": (0, 0, 1, 0), "ward": (0, 2, 1, 0)}
    assert BoundarySet.objects.get() == boundary_set
    assert BoundarySet.objects.get().valid_from == dt.date(2023, 5, 1)
    brook = Ward.objects.get(gss="E05999002")
    assert (brook.name, brook.slug, brook.seats) == ("Brook and Mill", "brook-and-mill", 2)
    castle = Ward.objects.get(gss="E05999003")
    assert castle.geometry == square(0.04, 52.0, size=0.012)
    assert castle.bbox == pytest.approx((0.04, 52.0, 0.052, 52.012))


def test_new_wards_cannot_start_before_or_with_the_current_set(tmp_path: Path) -> None:
    run_import(str(write_collection(tmp_path, three_wards("24"), "wd24.geojson")))
    before = database_state()
    earlier = [feature("E05999010", "Old Abbey", yy="22", position=0)]
    path = write_collection(tmp_path, earlier, "wd22.geojson")

    with pytest.raises(CommandError) as refused:
        run_import(str(path))

    message = str(refused.value)
    assert message.startswith(f"{path}, row 1, field 'LAD22CD': ")
    assert "valid from 2024-05-01" in message
    assert "2022-05-01" in message
    assert "--valid-from" in message
    with pytest.raises(CommandError, match="must start after"):
        run_import(str(path), "--valid-from", "2024-05-01")
    assert database_state() == before


def test_new_wards_cannot_start_inside_a_closed_period(tmp_path: Path) -> None:
    run_import(str(write_collection(tmp_path, three_wards("23"), "wd23.geojson")))
    BoundarySet.objects.update(valid_to=dt.date(2025, 5, 1))
    path = write_collection(tmp_path, [feature("E05999010", "New Abbey", yy="24")], "wd24.geojson")

    with pytest.raises(CommandError, match=r"would overlap its boundary set valid 2023-05-01 – 2025-05-01"):
        run_import(str(path))

    _, counts = run_import(str(path), "--valid-from=2025-05-01")
    assert counts["boundary set"] == (1, 0, 0, 0)
    assert BoundarySet.objects.filter(valid_to=None).get().valid_from == dt.date(2025, 5, 1)


def test_valid_from_option_sets_the_start(tmp_path: Path) -> None:
    run_import(str(write_collection(tmp_path, three_wards())), "--valid-from", "2023-05-04")

    assert BoundarySet.objects.get().valid_from == dt.date(2023, 5, 4)


@pytest.mark.parametrize("value", ["2023-13-01", "May 2023", ""])
def test_bad_valid_from_is_refused_naming_the_option(tmp_path: Path, value: str) -> None:
    path = write_collection(tmp_path, three_wards())

    with pytest.raises(CommandError, match=rf"--valid-from: '{re.escape(value)}' is not a date"):
        run_import(str(path), f"--valid-from={value}")

    with pytest.raises(CommandError, match="--valid-from"):
        call_command("import_boundaries", str(path), valid_from=value, stdout=StringIO(), stderr=StringIO())
    assert not Council.objects.exists()


# -- property spellings, names and councils ------------------------------------------------------


def test_lower_case_properties_of_a_later_year_and_welsh_names(tmp_path: Path) -> None:
    features = [
        feature("W05999001", "Rhyl South", council_gss="W06999001", council_name="Denbighshire", yy="24",
                welsh="De y Rhyl", position=0),
        feature("W05999002", "Prestatyn", council_gss="W06999001", council_name="Denbighshire", yy="24",
                welsh=" ", position=1),
    ]
    for item in features:
        item["properties"] = {key.lower(): value for key, value in item["properties"].items()}

    run_import(str(write_collection(tmp_path, features)))

    council = Council.objects.get()
    assert (council.gss, council.nation, council.council_type, council.slug) == (
        "W06999001", "WLS", "WPA", "denbighshire"
    )
    assert BoundarySet.objects.get().valid_from == dt.date(2024, 5, 1)
    assert dict(Ward.objects.values_list("gss", "name_cy")) == {"W05999001": "De y Rhyl", "W05999002": ""}


def test_invalid_geometry_is_repaired_and_reported(tmp_path: Path) -> None:
    crossing_ring = [[0.0, 52.0], [0.01, 52.01], [0.01, 52.0], [0.0, 52.01], [0.0, 52.0]]
    bowtie = {"type": "Polygon", "coordinates": [crossing_ring]}
    features = _with(1, geometry=bowtie)

    output, counts = run_import(str(write_collection(tmp_path, features)))

    assert counts["ward"] == (3, 0, 0, 0)
    assert "repaired invalid geometry: row 2: E05999002 Brook & Mill" in output
    ward = Ward.objects.get(gss="E05999002")
    for level in (ward.geometry, ward.geometry_council, ward.geometry_national):
        assert shape(level).geom_type == "MultiPolygon"
        assert shape(level).is_valid
    assert shape(ward.geometry).area == pytest.approx(0.00005)


def test_label_point_is_computed_when_the_file_has_none(tmp_path: Path) -> None:
    item = feature("E05999001", "Abbey")
    del item["properties"]["LONG"], item["properties"]["LAT"]

    run_import(str(write_collection(tmp_path, [item])))

    ward = Ward.objects.get()
    label = shape({"type": "Point", "coordinates": [ward.label_lon, ward.label_lat]})
    assert shape(ward.geometry).contains(label)


def test_council_slug_drops_the_ons_suffix(tmp_path: Path) -> None:
    features = [
        feature("E05999001", "Clifton", council_gss="E06999023", council_name="Bristol, City of"),
        feature("E05999002", "Ledbury", council_gss="E06999019", council_name="Herefordshire, County of",
                position=1),
    ]

    run_import(str(write_collection(tmp_path, features)))

    assert dict(Council.objects.values_list("slug", "name")) == {
        "bristol": "Bristol, City of", "herefordshire": "Herefordshire, County of",
    }
    assert set(Council.objects.values_list("council_type", flat=True)) == {"UTA"}


def test_council_known_by_slug_only_gets_its_gss_code(tmp_path: Path) -> None:
    existing = make_council(name="Testborough", slug="testborough", gss=None, council_type="OTH")

    _, counts = run_import(str(write_collection(tmp_path, three_wards())))

    assert counts["council"] == (0, 1, 0, 0)
    existing.refresh_from_db()
    assert (existing.gss, existing.council_type) == ("E08999001", "MTD")


def test_slug_of_a_council_with_another_code_is_refused(tmp_path: Path) -> None:
    make_council(name="Testborough", slug="testborough", gss="E08999999")
    path = write_collection(tmp_path, three_wards())

    with pytest.raises(CommandError) as refused:
        run_import(str(path))

    assert str(refused.value).startswith(f"{path}, row 1, field 'LAD23NM': ")
    assert "E08999999" in str(refused.value)
    assert Council.objects.count() == 1
    assert not Ward.objects.exists()


# -- broken files ----------------------------------------------------------------------------------


def _truncated(tmp_path: Path) -> Path:
    path = write_collection(tmp_path, three_wards())
    text = path.read_text()
    second = text.index('"Brook & Mill"')
    path.write_text(text[:second + 40])
    return path


def _without(prop: str, index: int) -> list[dict[str, Any]]:
    features = three_wards()
    del features[index]["properties"][prop]
    return features


def _with(index: int, **changes: Any) -> list[dict[str, Any]]:
    features = three_wards()
    for key, value in changes.items():
        if key == "geometry":
            features[index]["geometry"] = value
        else:
            features[index]["properties"][key] = value
    return features


BROKEN = {
    "missing ward code": (lambda: _without("WD23CD", 1), 2, "WD23CD", "missing property"),
    "missing ward name": (lambda: _without("WD23NM", 2), 3, "WD23NM", "missing property"),
    "missing council code": (lambda: _without("LAD23CD", 1), 2, "LAD23CD", "missing property"),
    "malformed ward code": (lambda: _with(2, WD23CD="E0599903"), 3, "WD23CD", "'E0599903' is not a GSS code"),
    "lower-case ward code": (lambda: _with(1, WD23CD="e05999002"), 2, "WD23CD", "is not a GSS code"),
    "ward and council in two nations": (
        lambda: _with(1, WD23CD="S13999002"), 2, "WD23CD",
        "ward S13999002 and its council E08999001 are in different nations",
    ),
    "malformed council code": (lambda: _with(1, LAD23CD="X08999001"), 2, "LAD23CD", "is not a GSS code"),
    "duplicated ward code": (
        lambda: _with(2, WD23CD="E05999001"), 3, "WD23CD", "E05999001 is also the code of the ward in row 1",
    ),
    "point geometry": (
        lambda: _with(1, geometry={"type": "Point", "coordinates": [0.0, 52.0]}), 2, "geometry", "not Point",
    ),
    "no geometry": (lambda: _with(2, geometry=None), 3, "geometry", "no geometry"),
    "council named two ways": (
        lambda: _with(2, LAD23NM="Testborough Borough"), 3, "LAD23NM", "'Testborough' in row 1",
    ),
    "empty ward name": (lambda: _with(1, WD23NM="  "), 2, "WD23NM", "empty"),
    "ward name without a slug": (
        lambda: _with(2, WD23NM="&"), 3, "WD23NM", "'&' gives the slug '', empty or too long",
    ),
    "two wards with one slug": (
        lambda: _with(2, WD23NM="Brook Mill"), 3, "WD23NM", "same slug 'brook-mill' as the ward in row 2",
    ),
    "label not a number": (lambda: _with(1, LONG="west"), 2, "LONG", "expected a number"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_broken_feature_refuses_the_whole_file(tmp_path: Path, case: str) -> None:
    make_features, row, field, message = BROKEN[case]
    path = write_collection(tmp_path, make_features())

    with pytest.raises(CommandError) as refused:
        run_import(str(path))

    assert str(refused.value).startswith(f"{path}, row {row}, field {field!r}: ")
    assert message in str(refused.value)
    # The valid features before the broken one are not imported either.
    assert not Council.objects.exists()
    assert not Ward.objects.exists()


def test_truncated_json_names_the_feature_where_it_breaks(tmp_path: Path) -> None:
    path = _truncated(tmp_path)

    with pytest.raises(CommandError) as refused:
        run_import(str(path))

    assert str(refused.value).startswith(f"{path}, row 2: not valid JSON, the file may be truncated")
    assert not Council.objects.exists()


def test_file_without_a_ward_code_property_is_refused(tmp_path: Path) -> None:
    features = [{"type": "Feature", "properties": {"NAME": "Abbey"}, "geometry": square(0, 52)}]
    path = write_collection(tmp_path, features)

    expected = f"{path}, row 1, field 'WDyyCD': no ward code property"
    with pytest.raises(CommandError, match=re.escape(expected)):
        run_import(str(path))


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"type": "Feature"}, "type"),
        ({"type": "FeatureCollection", "features": []}, "features"),
        ([], "type"),
    ],
)
def test_a_document_that_is_not_a_collection_of_wards_is_refused(
    tmp_path: Path, document: Any, field: str
) -> None:
    path = tmp_path / "wards.geojson"
    path.write_text(json.dumps(document))

    with pytest.raises(CommandError, match=re.escape(f"{path}, field {field!r}: ")):
        run_import(str(path))


def test_broken_file_leaves_earlier_imports_as_they_were(tmp_path: Path) -> None:
    run_import(str(write_collection(tmp_path, three_wards(), "good.geojson")))
    before = database_state()
    renamed = _with(2, WD23CD="E05999001")
    renamed[0]["properties"]["WD23NM"] = "Abbey Renamed"

    with pytest.raises(CommandError, match="also the code"):
        run_import(str(write_collection(tmp_path, renamed, "bad.geojson")))

    assert database_state() == before


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="no such file"):
        run_import(str(tmp_path / "absent.geojson"))


# -- admin ------------------------------------------------------------------------------------------


def test_imported_boundaries_are_browsable_in_the_admin(sample_data: Path, admin_client: Any) -> None:
    run_import(str(sample_data / BOUNDARIES / EXTRACTS[3][0]))
    council = Council.objects.get()
    boundary_set = BoundarySet.objects.get()
    ward = Ward.objects.first()
    assert ward is not None

    pages = [
        reverse("admin:councils_council_changelist"),
        reverse("admin:councils_council_change", args=[council.pk]),
        reverse("admin:councils_boundaryset_changelist") + "?current=yes",
        reverse("admin:councils_boundaryset_change", args=[boundary_set.pk]),
        reverse("admin:councils_ward_changelist") + "?q=S13",
        reverse("admin:councils_ward_change", args=[ward.pk]),
    ]
    for url in pages:
        response = admin_client.get(url)
        assert response.status_code == 200, url
    changelist = admin_client.get(reverse("admin:councils_ward_changelist")).content.decode()
    assert ward.name in changelist
    assert '"coordinates"' not in changelist


# -- the factories other tests use --------------------------------------------------------------


def test_factory_wards_are_valid_and_read_like_imported_ones() -> None:
    scottish = make_council(nation="SCT")
    boundary_set = make_boundary_set(council=scottish)
    wards = make_wards(boundary_set, 3)
    other = make_ward(name="Bowdon & Hale", seats=3)

    for ward in [*wards, other]:
        ward.full_clean()
    scottish.full_clean()
    assert scottish.council_type == "SCA"
    assert all(re.fullmatch(r"S13\d{6}", w.gss) for w in wards)
    assert (other.slug, other.seats) == ("bowdon-hale", 3)
    assert len({w.gss for w in [*wards, other]}) == 4
    collection = council_wards_feature_collection(scottish)
    assert {f["id"] for f in collection["features"]} == {w.pk for w in wards}
    footprints = [shape(w.geometry) for w in wards]
    assert not any(a.intersects(b) for i, a in enumerate(footprints) for b in footprints[i + 1:])
