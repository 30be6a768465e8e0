"""ONS ward boundaries: the "Wards (May YYYY) Boundaries UK" GeoJSON, of any year.

Each feature is one ward. Property names carry the two-digit year of the file (``WD23CD``
in May 2023, ``WD24CD`` a year later) and may be upper or lower case:

========== ========= ==========================================================
property   required  meaning
========== ========= ==========================================================
WDyyCD     yes       ward GSS code (E05 England, W05 Wales, S13 Scotland, N08 NI)
WDyyNM     yes       ward name
WDyyNMW    no        Welsh name (a blank or a single space means none)
LADyyCD    yes       council GSS code (E06, E07, E08, E09, E10, W06, S12, N09)
LADyyNM    yes       council name (``Bristol, City of``)
LONG, LAT  no        label point; a point inside the ward is computed when absent
========== ========= ==========================================================

Pass one reads and checks every feature and computes its geometries without touching the
database; pass two hands whole councils to ``councils.services.upsert_boundary_sets``.
In refusals the row is the feature's position in the file, counting from 1.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import orjson

from config.errors import ApplicationError
from config.importing import ImportRefused, ImportSummary, Progress
from councils.geometry import GeometryError, WardGeometry, prepare_ward_geometry
from councils.models import CouncilType, Nation, Ward
from councils.services import (
    BoundarySetConflict,
    CouncilBoundaries,
    CouncilConflict,
    WardBoundary,
    upsert_boundary_sets,
)
from elections.ids import slugify

GSS_RE = re.compile(r"^[EWSN][0-9]{8}$")
_YEAR_RE = re.compile(r"^wd([0-9]{2})cd$", re.IGNORECASE)

NATION_BY_LETTER = {
    "E": Nation.ENGLAND,
    "W": Nation.WALES,
    "S": Nation.SCOTLAND,
    "N": Nation.NORTHERN_IRELAND,
}

# ONS GSS entity codes of local authorities (the first three characters of the code), from
# the ONS Register of Geographic Codes.
COUNCIL_TYPE_BY_ENTITY = {
    "E06": CouncilType.UNITARY,
    "E07": CouncilType.NON_METROPOLITAN_DISTRICT,
    "E08": CouncilType.METROPOLITAN_DISTRICT,
    "E09": CouncilType.LONDON_BOROUGH,
    "E10": CouncilType.COUNTY,
    "W06": CouncilType.WELSH_PRINCIPAL_AREA,
    "S12": CouncilType.SCOTTISH_COUNCIL,
    "N09": CouncilType.NI_DISTRICT,
}

# ONS puts the kind of authority after a comma ("Bristol, City of"); Democracy Club's
# organisation slugs leave it out ("bristol").
_ONS_NAME_SUFFIX_RE = re.compile(r",\s*(?:City|County|Borough) of\s*$", re.IGNORECASE)


def nation_for_gss(gss: str) -> str:
    """``ENG``/``WLS``/``SCT``/``NIR`` from the country letter of a well-formed GSS code."""
    return NATION_BY_LETTER[gss[0]]


def council_type_for_gss(gss: str) -> str:
    """The council type from the entity code of a council's GSS code; ``OTH`` if unknown."""
    return COUNCIL_TYPE_BY_ENTITY.get(gss[:3], CouncilType.OTHER)


def council_slug(ons_name: str) -> str:
    """Democracy Club's organisation slug for an ONS council name (``Bristol, City of`` →
    ``bristol``)."""
    return slugify(_ONS_NAME_SUFFIX_RE.sub("", ons_name))


@dataclass(frozen=True)
class PropertyNames:
    """The names of a file's properties for its year (``WD23CD``…), as messages show them."""

    year: int
    ward_code: str
    ward_name: str
    ward_name_cy: str
    council_code: str
    council_name: str

    @classmethod
    def for_year(cls, yy: str) -> PropertyNames:
        return cls(
            year=2000 + int(yy),
            ward_code=f"WD{yy}CD",
            ward_name=f"WD{yy}NM",
            ward_name_cy=f"WD{yy}NMW",
            council_code=f"LAD{yy}CD",
            council_name=f"LAD{yy}NM",
        )


@dataclass
class ParsedFile:
    """Pass one's result: the councils of the file, each with all its wards."""

    names: PropertyNames
    councils: dict[str, CouncilBoundaries] = field(default_factory=dict)
    # Row of each council's first feature, so pass two's refusals can point into the file.
    council_rows: dict[str, int] = field(default_factory=dict)
    # Wards whose published geometry was invalid and has been repaired: "row 7: E05… Name".
    repaired: list[str] = field(default_factory=list)


class OnsWardsImporter:
    """Import one ONS ward boundary GeoJSON file (see the module docstring for its shape).

    ``valid_from`` is when new boundary sets start; by default the 1st of May of the file's
    year. Refuses the whole file (``ImportRefused`` naming file, feature and property) if any
    feature is malformed, a ward code appears twice, or a council's new wards cannot start
    on that date; nothing is written then, since the caller runs ``run`` in one transaction.
    """

    def __init__(self, *, valid_from: dt.date | None = None) -> None:
        self.valid_from = valid_from
        # Filled by ``run``: the wards of the last file whose geometry had to be repaired.
        self.repaired: list[str] = []

    def run(self, path: Path, *, progress: Progress) -> ImportSummary:
        parsed = self.parse(path, progress=progress)
        self.repaired = parsed.repaired
        valid_from = self.valid_from or dt.date(parsed.names.year, 5, 1)
        try:
            return upsert_boundary_sets(
                councils=list(parsed.councils.values()),
                valid_from=valid_from,
                source=f"ONS {path.name}",
            )
        except BoundarySetConflict as exc:
            raise ImportRefused(
                f"{exc.message}; if these wards are newer, give a later --valid-from",
                path=path,
                row=parsed.council_rows.get(exc.council_gss),
                field=parsed.names.council_code,
                code=exc.code,
            ) from exc
        except CouncilConflict as exc:
            raise ImportRefused(
                exc.message,
                path=path,
                row=parsed.council_rows.get(exc.council_gss),
                field=parsed.names.council_name,
                code=exc.code,
            ) from exc
        except ApplicationError as exc:
            raise ImportRefused(exc.message, path=path, field=exc.field, code=exc.code) from exc

    def parse(self, path: Path, *, progress: Progress) -> ParsedFile:
        """Pass one: read, check and shape every feature. Touches no database."""
        features = _read_features(path)
        names = _property_names(path, features[0])
        parsed = ParsedFile(names=names)
        wards: dict[str, list[WardBoundary]] = {}
        council_names: dict[str, str] = {}
        council_by_slug: dict[str, str] = {}
        ward_rows: dict[str, int] = {}
        slug_rows: dict[tuple[str, str], int] = {}

        for row, feature in progress(enumerate(features, start=1), total=len(features), desc="wards"):
            record = _FeatureReader(path, row, feature, names)
            ward_gss = record.gss(names.ward_code)
            ward_name = record.text(names.ward_name)
            council_gss = record.gss(names.council_code)
            council_name = record.text(names.council_name)
            name_cy = record.text(names.ward_name_cy, required=False)

            if ward_gss in ward_rows:
                record.refuse(
                    names.ward_code, f"{ward_gss} is also the code of the ward in row {ward_rows[ward_gss]}"
                )
            ward_rows[ward_gss] = row
            if ward_gss[0] != council_gss[0]:
                record.refuse(
                    names.ward_code, f"ward {ward_gss} and its council {council_gss} are in different nations"
                )
            if council_gss not in council_names:
                slug = council_slug(council_name)
                if not slug:
                    record.refuse(names.council_name, f"{council_name!r} gives an empty slug")
                if slug in council_by_slug:
                    record.refuse(
                        names.council_name,
                        f"{council_name!r} gives the slug {slug!r}, as does council {council_by_slug[slug]}",
                    )
                council_names[council_gss] = council_name
                council_by_slug[slug] = council_gss
                parsed.council_rows[council_gss] = row
                wards[council_gss] = []
            elif council_names[council_gss] != council_name:
                record.refuse(
                    names.council_name,
                    f"{council_gss} is named {council_name!r} here but {council_names[council_gss]!r} in "
                    f"row {parsed.council_rows[council_gss]}",
                )
            ward = WardBoundary(gss=ward_gss, name=ward_name, name_cy=name_cy, geometry=record.geometry())
            if not ward.slug or len(ward.slug) > Ward._meta.get_field("slug").max_length:
                record.refuse(
                    names.ward_name, f"{ward_name!r} gives the slug {ward.slug!r}, empty or too long"
                )
            if (council_gss, ward.slug) in slug_rows:
                record.refuse(
                    names.ward_name,
                    f"{ward_name!r} has the same slug {ward.slug!r} as the ward in row "
                    f"{slug_rows[(council_gss, ward.slug)]} of the same council",
                )
            slug_rows[(council_gss, ward.slug)] = row
            if ward.geometry.repaired:
                parsed.repaired.append(f"row {row}: {ward_gss} {ward_name}")
            wards[council_gss].append(ward)

        for council_gss, council_wards in wards.items():
            name = council_names[council_gss]
            parsed.councils[council_gss] = CouncilBoundaries(
                gss=council_gss,
                name=name,
                slug=council_slug(name),
                nation=nation_for_gss(council_gss),
                council_type=council_type_for_gss(council_gss),
                wards=tuple(council_wards),
            )
        return parsed


def _read_features(path: Path) -> list[Any]:
    data = path.read_bytes()
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        row = _feature_of_json_error(data)
        raise ImportRefused(
            f"not valid JSON, the file may be truncated ({exc})", path=path, row=row, code="invalid_json"
        ) from exc
    if not isinstance(document, Mapping) or document.get("type") != "FeatureCollection":
        raise ImportRefused("expected a GeoJSON FeatureCollection", path=path, field="type")
    features = document.get("features")
    if not isinstance(features, list) or not features:
        raise ImportRefused("the FeatureCollection has no features", path=path, field="features")
    return features


def _feature_of_json_error(data: bytes) -> int | None:
    """The number of the first feature that does not parse, for a file that is not JSON.

    Decodes the features one by one after ``"features": [``; only used on the error path.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    match = re.search(r'"features"\s*:\s*\[', text)
    if match is None:
        return None
    decoder = json.JSONDecoder()
    position = match.end()
    number = 0
    while True:
        while position < len(text) and text[position] in " \t\r\n,":
            position += 1
        if position >= len(text):
            # Every feature parsed; the file ends before the list is closed.
            return None
        if text[position] == "]":
            return None
        number += 1
        try:
            _, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError:
            return number


def _property_names(path: Path, first: Any) -> PropertyNames:
    properties = first.get("properties") if isinstance(first, Mapping) else None
    for key in properties or {}:
        match = _YEAR_RE.match(key)
        if match:
            return PropertyNames.for_year(match.group(1))
    raise ImportRefused(
        "no ward code property (WDyyCD, e.g. WD23CD) to tell the file's year",
        path=path, row=1, field="WDyyCD",
    )


class _FeatureReader:
    """One feature's properties, looked up whatever their case, with refusals naming the row."""

    def __init__(self, path: Path, row: int, feature: Any, names: PropertyNames) -> None:
        self.path = path
        self.row = row
        if not isinstance(feature, Mapping) or feature.get("type") != "Feature":
            self.refuse("type", "expected a GeoJSON Feature")
        self.feature = feature
        properties = feature.get("properties")
        if not isinstance(properties, Mapping):
            self.refuse("properties", "the feature has no properties")
        self.properties = {str(key).lower(): value for key, value in properties.items()}

    def refuse(self, field: str, message: str) -> NoReturn:
        raise ImportRefused(message, path=self.path, row=self.row, field=field)

    def text(self, name: str, *, required: bool = True) -> str:
        value = self.properties.get(name.lower())
        if value is None:
            if required:
                self.refuse(name, "missing property")
            return ""
        if not isinstance(value, str):
            self.refuse(name, f"expected text, not {value!r}")
        value = value.strip()
        if required and not value:
            self.refuse(name, "empty")
        if len(value) > 200:
            self.refuse(name, "longer than 200 characters")
        return value

    def gss(self, name: str) -> str:
        value = self.text(name)
        if not GSS_RE.match(value):
            self.refuse(name, f"{value!r} is not a GSS code (a country letter E, W, S or N and 8 digits)")
        return value

    def number(self, name: str) -> float | None:
        value = self.properties.get(name.lower())
        if value is None or value == "":
            return None
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            self.refuse(name, f"expected a number, not {value!r}")
        try:
            return float(value)
        except ValueError:
            self.refuse(name, f"expected a number, not {value!r}")

    def geometry(self) -> WardGeometry:
        lon, lat = self.number("LONG"), self.number("LAT")
        if lon is not None and not -180 <= lon <= 180:
            self.refuse("LONG", f"{lon} is not a longitude")
        if lat is not None and not -90 <= lat <= 90:
            self.refuse("LAT", f"{lat} is not a latitude")
        try:
            return prepare_ward_geometry(self.feature.get("geometry"), label_lon=lon, label_lat=lat)
        except GeometryError as exc:
            self.refuse("geometry", str(exc))
