"""Admin for results. Submissions and events are append-only: the admin shows them read-only
and offers no add, change or delete. Results change only through ``results.services``."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import CandidateResult, Result, ResultEvent, StvCount, StvStage, Submission


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class CandidateResultInline(admin.TabularInline):
    model = CandidateResult
    fields = ("candidacy", "votes", "elected", "won_by_lot")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Result)
class ResultAdmin(ReadOnlyAdmin):
    list_display = ("ballot", "status", "count_state", "version", "published_version", "declared_at")
    list_filter = ("status", "count_state", "ballot__election__date")
    search_fields = ("ballot__ballot_paper_id", "ballot__ward__name")
    list_select_related = ("ballot",)
    inlines = [CandidateResultInline]


@admin.register(Submission)
class SubmissionAdmin(ReadOnlyAdmin):
    list_display = ("id", "ballot", "submitted_by", "submitted_at", "channel", "resulting_status",
                    "resulting_version")
    list_filter = ("channel", "resulting_status")
    search_fields = ("ballot__ballot_paper_id", "source")
    list_select_related = ("ballot", "submitted_by")


@admin.register(ResultEvent)
class ResultEventAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "result", "version", "actor", "created_at")
    list_filter = ("kind",)
    search_fields = ("result__ballot__ballot_paper_id",)
    list_select_related = ("result__ballot", "actor")


@admin.register(StvCount)
class StvCountAdmin(ReadOnlyAdmin):
    list_display = ("result", "quota", "valid_poll")


@admin.register(StvStage)
class StvStageAdmin(ReadOnlyAdmin):
    list_display = ("count", "number", "non_transferable")
