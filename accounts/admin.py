"""Assignments are made here or with ``import_assignments``; tokens are only listed and revoked
here (``accounts_create_token`` makes them, showing the key once)."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import Assignment, IntegrationToken


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ("user", "role", "council", "election", "created_at", "created_by")
    list_filter = ("role", "council")
    search_fields = ("user__email", "user__username", "council__name", "election__election_id")
    autocomplete_fields = ()
    raw_id_fields = ("user", "election")
    readonly_fields = ("created_at", "created_by")

    def save_model(self, request: HttpRequest, obj: Assignment, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(IntegrationToken)
class IntegrationTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "prefix", "created_at", "revoked_at")
    fields = ("name", "user", "prefix", "created_at", "revoked_at")
    readonly_fields = ("name", "user", "prefix", "created_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
