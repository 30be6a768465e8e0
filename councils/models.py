"""Councils, their boundary sets and wards.

A ward is identified within its boundary set: GSS codes are attributes that can change
(every Trafford code changed in 2023) or arrive late, so nothing else keys on them.
"""

from django.db import models
from django.db.models import Q


class Nation(models.TextChoices):
    """Nations as uk-election-ids names them (its voting-system defaults are per nation)."""

    ENGLAND = "ENG", "England"
    WALES = "WLS", "Wales"
    SCOTLAND = "SCT", "Scotland"
    NORTHERN_IRELAND = "NIR", "Northern Ireland"


class CouncilType(models.TextChoices):
    """Local authority types, from the ONS GSS entity code of the council (E06, E07, …)."""

    UNITARY = "UTA", "Unitary authority"
    NON_METROPOLITAN_DISTRICT = "NMD", "Non-metropolitan district"
    METROPOLITAN_DISTRICT = "MTD", "Metropolitan district"
    LONDON_BOROUGH = "LBO", "London borough"
    COUNTY = "CTY", "County council"
    WELSH_PRINCIPAL_AREA = "WPA", "Welsh principal area"
    SCOTTISH_COUNCIL = "SCA", "Scottish council area"
    NI_DISTRICT = "NID", "Northern Ireland district"
    OTHER = "OTH", "Other"


class Council(models.Model):
    name = models.CharField(max_length=200)
    # The slug is the organisation part of Democracy Club ids (local.<slug>.2026-05-07).
    slug = models.SlugField(max_length=100, unique=True)
    gss = models.CharField("GSS code", max_length=9, null=True, blank=True, unique=True)
    nation = models.CharField(max_length=3, choices=Nation.choices)
    council_type = models.CharField(max_length=3, choices=CouncilType.choices)
    total_seats = models.PositiveIntegerField(
        default=0, help_text="Councillors in total; the majority line is half of this plus one."
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(gss__isnull=True) | Q(gss__regex=r"^[EWSN][0-9]{8}$"),
                name="council_gss_format",
                violation_error_message="A GSS code is a country letter and 8 digits.",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class BoundarySet(models.Model):
    """A council's wards for a period (from one boundary review to the next)."""

    council = models.ForeignKey(Council, on_delete=models.CASCADE, related_name="boundary_sets")
    valid_from = models.DateField()
    valid_to = models.DateField(null=True, blank=True, help_text="Empty while current.")
    source = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["council__name", "-valid_from"]
        constraints = [
            models.UniqueConstraint(fields=["council", "valid_from"], name="boundaryset_unique_start"),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gt=models.F("valid_from")),
                name="boundaryset_period_order",
                violation_error_message="A boundary set must end after it starts.",
            ),
        ]

    def __str__(self) -> str:
        end = self.valid_to.isoformat() if self.valid_to else "current"
        return f"{self.council.name} wards {self.valid_from.isoformat()} – {end}"


class Ward(models.Model):
    boundary_set = models.ForeignKey(BoundarySet, on_delete=models.CASCADE, related_name="wards")
    name = models.CharField(max_length=200)
    name_cy = models.CharField("Welsh name", max_length=200, blank=True)
    slug = models.SlugField(max_length=150)
    gss = models.CharField("GSS code", max_length=9, null=True, blank=True)
    seats = models.PositiveSmallIntegerField(
        default=1, help_text="Councillors the ward elects at an all-out election."
    )
    # Geometry is GeoJSON (WGS84) processed with shapely; no GDAL/PostGIS is needed.
    geometry = models.JSONField(help_text="GeoJSON geometry as published (repaired if invalid).")
    geometry_national = models.JSONField(help_text="Simplified for the national map.")
    geometry_council = models.JSONField(help_text="Simplified for a council's map.")
    # The three shapes above: large JSON, read only by what draws or checks a boundary.
    SHAPE_FIELDS = ("geometry", "geometry_council", "geometry_national")
    label_lon = models.FloatField()
    label_lat = models.FloatField()
    bbox_west = models.FloatField()
    bbox_south = models.FloatField()
    bbox_east = models.FloatField()
    bbox_north = models.FloatField()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["boundary_set", "slug"], name="ward_unique_slug_in_set"),
            models.UniqueConstraint(
                fields=["boundary_set", "gss"],
                condition=Q(gss__isnull=False),
                name="ward_unique_gss_in_set",
                violation_error_message="This GSS code is already used by a ward of this set.",
            ),
            models.CheckConstraint(
                condition=Q(gss__isnull=True) | Q(gss__regex=r"^[EWSN][0-9]{8}$"),
                name="ward_gss_format",
                violation_error_message="A GSS code is a country letter and 8 digits.",
            ),
            models.CheckConstraint(condition=Q(seats__gte=1), name="ward_has_seats"),
            models.CheckConstraint(
                condition=Q(bbox_west__lte=models.F("bbox_east"))
                & Q(bbox_south__lte=models.F("bbox_north")),
                name="ward_bbox_order",
            ),
        ]
        indexes = [models.Index(fields=["gss"], name="ward_gss_idx")]

    def __str__(self) -> str:
        return self.name

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        return (self.bbox_west, self.bbox_south, self.bbox_east, self.bbox_north)
