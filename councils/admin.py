"""Admin for councils, boundary sets and wards.

Boundaries come from ONS files through ``import_boundaries``; the admin is for looking them up
and for what the files do not carry (a ward's seats, a council's total seats, a slug
correction). Geometry is shown as a summary and never in list views: a ward's full
geometry can be tens of kilobytes.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from .models import BoundarySet, Council, Ward

_GEOMETRY_FIELDS = Ward.SHAPE_FIELDS


def _vertex_count(geometry: dict[str, Any] | None) -> int:
    if not geometry:
        return 0
    return sum(len(ring) for polygon in geometry.get("coordinates", []) for ring in polygon)


class BoundarySetInline(admin.TabularInline):
    model = BoundarySet
    fields = ("valid_from", "valid_to", "source")
    readonly_fields = ("valid_from", "valid_to", "source")
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Council)
class CouncilAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "gss", "nation", "council_type", "total_seats")
    list_filter = ("nation", "council_type")
    search_fields = ("name", "slug", "gss")
    ordering = ("name",)
    inlines = (BoundarySetInline,)


class WardInline(admin.TabularInline):
    """A set's wards; only ``seats`` is editable (ONS files do not carry it)."""

    model = Ward
    fields = ("name", "slug", "gss", "name_cy", "seats")
    readonly_fields = ("name", "slug", "gss", "name_cy")
    extra = 0
    can_delete = False
    show_change_link = True
    ordering = ("name",)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class CurrentFilter(admin.SimpleListFilter):
    title = "period"
    parameter_name = "current"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Current"), ("no", "Ended")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[BoundarySet]) -> QuerySet[BoundarySet]:
        if self.value() == "yes":
            return queryset.filter(valid_to__isnull=True)
        if self.value() == "no":
            return queryset.filter(valid_to__isnull=False)
        return queryset


@admin.register(BoundarySet)
class BoundarySetAdmin(admin.ModelAdmin):
    list_display = ("council", "valid_from", "valid_to", "ward_count", "source")
    list_filter = (CurrentFilter, "council__nation", "council__council_type")
    search_fields = ("council__name", "council__slug", "council__gss")
    list_select_related = ("council",)
    date_hierarchy = "valid_from"
    raw_id_fields = ("council",)
    inlines = (WardInline,)

    def get_queryset(self, request: HttpRequest) -> QuerySet[BoundarySet]:
        return super().get_queryset(request).annotate(ward_count=Count("wards"))

    @admin.display(description="wards", ordering="ward_count")
    def ward_count(self, obj: BoundarySet) -> int:
        return obj.ward_count  # type: ignore[attr-defined]


@admin.register(Ward)
class WardAdmin(admin.ModelAdmin):
    list_display = ("name", "gss", "council", "boundary_set_period", "seats")
    list_filter = ("boundary_set__council__nation", "boundary_set__council__council_type")
    search_fields = ("name", "slug", "gss", "boundary_set__council__name")
    list_select_related = ("boundary_set__council",)
    raw_id_fields = ("boundary_set",)
    readonly_fields = ("geometry_summary", "label_lon", "label_lat", "bbox_west", "bbox_south",
                       "bbox_east", "bbox_north", *_GEOMETRY_FIELDS)
    fieldsets = (
        (None, {"fields": ("boundary_set", "name", "name_cy", "slug", "gss", "seats")}),
        ("Geometry", {"fields": ("geometry_summary", ("label_lon", "label_lat"),
                                 ("bbox_west", "bbox_south", "bbox_east", "bbox_north"))}),
        ("GeoJSON (imported, read-only)", {"classes": ("collapse",), "fields": _GEOMETRY_FIELDS}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Ward]:
        queryset = super().get_queryset(request)
        # The change list never shows geometry; do not read megabytes of it per page.
        if request.resolver_match and request.resolver_match.url_name == "councils_ward_changelist":
            queryset = queryset.defer(*_GEOMETRY_FIELDS)
        return queryset

    @admin.display(description="council", ordering="boundary_set__council__name")
    def council(self, obj: Ward) -> str:
        return obj.boundary_set.council.name

    @admin.display(description="boundary set", ordering="boundary_set__valid_from")
    def boundary_set_period(self, obj: Ward) -> str:
        boundary_set = obj.boundary_set
        end = boundary_set.valid_to.isoformat() if boundary_set.valid_to else "current"
        return f"{boundary_set.valid_from.isoformat()} – {end}"

    @admin.display(description="vertices")
    def geometry_summary(self, obj: Ward) -> str:
        return (
            f"full {_vertex_count(obj.geometry)}, council {_vertex_count(obj.geometry_council)}, "
            f"national {_vertex_count(obj.geometry_national)}"
        )
