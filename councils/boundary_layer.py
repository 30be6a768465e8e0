"""The map's boundary layer: every ward's outline as one static, quantised TopoJSON file.

The national map draws every ward of the UK (8,441 in May 2023) and colours them from a small
results document, joined in the browser by ward id (``Ward.pk``, docs/live-data.md). The
outlines change only when boundaries do, so they are written once per boundary version as a
file named by its content hash and cached forever; a new result moves a few hundred bytes.

Format: a TopoJSON ``Topology`` (https://github.com/topojson/topojson-specification):

- one object ``wards``, a ``GeometryCollection`` of ``MultiPolygon`` geometries whose ``id``
  is the ward id and whose ``properties`` are ``{"c": <council slug>}``;
- ``transform``: coordinates are integers on a grid of ``QUANTUM`` degrees from ``translate``;
- every ring is its own arc, delta-encoded (first point absolute, then differences), with
  repeated points dropped. Arcs are not shared between neighbouring wards: the stored
  geometries were simplified ward by ward, so shared borders do not coincide point for point;
- foreign members ``councils`` (slug → name) and ``bbox`` for the map's search and extent.

The source is ``Ward.geometry_national`` (see ``councils/geometry.py``), already snapped to a
0.001° grid, so quantising to ``QUANTUM`` = 0.001° loses nothing for almost every ward. A ward
whose national geometry fell back to a finer level and collapses on the grid keeps a single
grid cell around its label point, so it can still be seen and clicked.

Files live under ``settings.BOUNDARY_LAYER_ROOT`` with a gzip copy beside each (for front
servers that serve pre-compressed files), and a pointer file per polling date (or
``current``) names the layer to use. ``build_boundary_layer`` (and the command of the same
name) writes them; ``get_boundary_layer`` only reads the pointer.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from django.conf import settings
from django.db.models import Q

from .models import Council, Ward

QUANTUM = 0.001
LAYER_NAME = re.compile(r"^wards-[0-9a-f]{16}\.topo\.json$")
_POINTER = re.compile(r"^(current|\d{4}-\d{2}-\d{2})$")

Ring = Sequence[Sequence[float]]


@dataclass(frozen=True)
class BoundaryLayer:
    """One written layer: file ``name`` (content-hashed) under ``root``, its sizes and wards."""

    name: str
    root: Path
    raw_bytes: int
    gzip_bytes: int
    wards: int | None = None

    @property
    def path(self) -> Path:
        return self.root / self.name

    @property
    def gzip_path(self) -> Path:
        return self.root / (self.name + ".gz")


def layer_root() -> Path:
    return Path(settings.BOUNDARY_LAYER_ROOT)


def _quantise_ring(ring: Ring, x0: float, y0: float) -> list[list[int]]:
    """Delta-encoded integer ring (closed), repeated points dropped; [] if it collapses."""
    points: list[tuple[int, int]] = []
    for lon, lat, *_ in ring:
        point = (round((lon - x0) / QUANTUM), round((lat - y0) / QUANTUM))
        if not points or point != points[-1]:
            points.append(point)
    if len(points) > 1 and points[0] == points[-1]:
        points.pop()
    if len(set(points)) < 3:
        return []
    points.append(points[0])
    encoded = [list(points[0])]
    encoded.extend([x - px, y - py] for (px, py), (x, y) in zip(points, points[1:], strict=False))
    return encoded


def encode_layer(
    wards: Iterable[tuple[int, str, dict[str, Any], tuple[float, float]]],
    councils: dict[str, str],
) -> bytes:
    """The TopoJSON bytes for ``wards``: (ward id, council slug, GeoJSON MultiPolygon or
    Polygon, label point (lon, lat)), in the order given. ``councils`` maps slug → name.

    Pure and deterministic: the same input gives the same bytes (so the same file name).
    """
    rows = list(wards)
    xs = [p[0] for _, _, g, _ in rows for poly in _polygons(g) for ring in poly for p in ring]
    ys = [p[1] for _, _, g, _ in rows for poly in _polygons(g) for ring in poly for p in ring]
    west, south, east, north = (min(xs), min(ys), max(xs), max(ys)) if xs else (0.0, 0.0, 0.0, 0.0)
    # The grid origin is a grid point, so stored 0.001° coordinates stay exact integers.
    x0 = round(west / QUANTUM) * QUANTUM
    y0 = round(south / QUANTUM) * QUANTUM
    arcs: list[list[list[int]]] = []
    geometries: list[dict[str, Any]] = []
    for ward_id, council, geometry, (label_lon, label_lat) in rows:
        polygons: list[list[list[int]]] = []
        for polygon in _polygons(geometry):
            rings: list[list[int]] = []
            for index, ring in enumerate(polygon):
                encoded = _quantise_ring(ring, x0, y0)
                if not encoded:
                    if index == 0:
                        break  # an exterior that collapses takes its holes with it
                    continue
                rings.append([len(arcs)])
                arcs.append(encoded)
            if rings:
                polygons.append(rings)
        if not polygons:
            cx = round((label_lon - x0) / QUANTUM)
            cy = round((label_lat - y0) / QUANTUM)
            polygons.append([[len(arcs)]])
            arcs.append([[cx, cy], [1, 0], [0, 1], [-1, 0], [0, -1]])
        geometries.append({"type": "MultiPolygon", "id": ward_id, "properties": {"c": council},
                           "arcs": polygons})
    topology = {
        "type": "Topology",
        "bbox": [west, south, east, north],
        "transform": {"scale": [QUANTUM, QUANTUM], "translate": [x0, y0]},
        "councils": dict(sorted(councils.items())),
        "objects": {"wards": {"type": "GeometryCollection", "geometries": geometries}},
        "arcs": arcs,
    }
    return orjson.dumps(topology)


def _polygons(geometry: dict[str, Any]) -> list[Any]:
    if geometry.get("type") == "Polygon":
        return [geometry["coordinates"]]
    return list(geometry.get("coordinates") or [])


def decode_layer(data: bytes) -> dict[int, dict[str, Any]]:
    """Ward id → GeoJSON MultiPolygon (and ``council``) read back from layer bytes.

    The inverse of ``encode_layer`` up to the grid, as the browser decodes it.
    """
    topology = orjson.loads(data)
    (sx, sy), (tx, ty) = topology["transform"]["scale"], topology["transform"]["translate"]
    rings: list[list[list[float]]] = []
    for arc in topology["arcs"]:
        x = y = 0
        ring = []
        for dx, dy in arc:
            x += dx
            y += dy
            ring.append([round(x * sx + tx, 6), round(y * sy + ty, 6)])
        rings.append(ring)
    return {
        geometry["id"]: {
            "council": geometry["properties"]["c"],
            "type": "MultiPolygon",
            "coordinates": [[rings[index[0]] for index in polygon] for polygon in geometry["arcs"]],
        }
        for geometry in topology["objects"]["wards"]["geometries"]
    }


def wards_for_layer(on_date: dt.date | None) -> Any:
    """The wards a layer for ``on_date`` holds: every ward of the boundary sets in force that
    day (current sets when None), plus any ward a ballot of that day points at in another set
    (an election matched to an older set by GSS code), so every result can be drawn."""
    in_force = Ward.objects.all()
    if on_date is None:
        in_force = in_force.filter(boundary_set__valid_to__isnull=True)
    else:
        in_force = in_force.filter(boundary_set__valid_from__lte=on_date).filter(
            Q(boundary_set__valid_to__isnull=True) | Q(boundary_set__valid_to__gt=on_date)
        )
        in_force = Ward.objects.filter(Q(pk__in=in_force.values("pk")) | Q(ballots__election__date=on_date))
    return in_force.distinct()


def build_boundary_layer(*, on_date: dt.date | None = None, root: Path | None = None) -> BoundaryLayer:
    """Write the layer of the wards on ``on_date`` (None: the current boundary sets) and point
    the date's pointer at it; returns what was written.

    The file is named by the hash of its content, so rebuilding unchanged boundaries rewrites
    nothing that a browser has cached, and two dates with the same wards share one file.
    Writes are atomic (temporary file, then ``os.replace``). Two queries.
    """
    root = root or layer_root()
    root.mkdir(parents=True, exist_ok=True)
    rows = (
        wards_for_layer(on_date)
        .order_by("id")
        .values_list("id", "boundary_set__council__slug", "geometry_national", "label_lon", "label_lat")
    )
    wards = [(pk, slug, geometry, (lon, lat)) for pk, slug, geometry, lon, lat in rows]
    slugs = {slug for _, slug, _, _ in wards}
    councils = dict(Council.objects.filter(slug__in=slugs).values_list("slug", "name"))
    data = encode_layer(wards, councils)
    name = f"wards-{hashlib.sha256(data).hexdigest()[:16]}.topo.json"
    compressed = gzip.compress(data, compresslevel=9, mtime=0)
    if not (root / name).exists():
        _write_atomic(root / (name + ".gz"), compressed)
        _write_atomic(root / name, data)
    _write_atomic(root / _pointer_name(on_date), name.encode())
    return BoundaryLayer(name=name, root=root, raw_bytes=len(data), gzip_bytes=len(compressed),
                         wards=len(wards))


def get_boundary_layer(*, on_date: dt.date | None = None, root: Path | None = None) -> BoundaryLayer | None:
    """The layer last built for ``on_date`` (None: current), or None if none was built."""
    root = root or layer_root()
    try:
        name = (root / _pointer_name(on_date)).read_text().strip()
    except FileNotFoundError:
        return None
    if not LAYER_NAME.match(name) or not (root / name).exists():
        return None
    gz = root / (name + ".gz")
    return BoundaryLayer(
        name=name, root=root, raw_bytes=(root / name).stat().st_size,
        gzip_bytes=gz.stat().st_size if gz.exists() else 0,
    )


def get_or_build_boundary_layer(*, on_date: dt.date | None = None) -> BoundaryLayer:
    """The layer for ``on_date``, built now if it never was (the first map view of a new
    date pays for it once; ``build_boundary_layer`` after an import avoids even that)."""
    return get_boundary_layer(on_date=on_date) or build_boundary_layer(on_date=on_date)


def _pointer_name(on_date: dt.date | None) -> str:
    key = on_date.isoformat() if on_date else "current"
    assert _POINTER.match(key)
    return f"{key}.pointer"


def _write_atomic(path: Path, data: bytes) -> None:
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
