"""Admin for results. Submissions and events are append-only: the admin shows them read-only
and offers no add, change or delete. Results change only through ``results.services``."""

from collections import defaultdict
from typing import Any

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest

from .models import (
    CandidateResult,
    CompositionSeat,
    CouncilComposition,
    DefendedSeat,
    Result,
    ResultEvent,
    StvCount,
    StvStage,
    Submission,
)
from .publication import schedule_republication


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


class CompositionSeatFormSet(BaseInlineFormSet):
    def clean(self) -> None:
        """No ward gets more councillors than it has seats."""
        super().clean()
        seats: dict[Any, int] = defaultdict(int)
        for form in self.forms:
            data = getattr(form, "cleaned_data", None)
            if not data or data.get("DELETE") or not data.get("ward"):
                continue
            seats[data["ward"]] += data.get("seats") or 0
        for ward, n in seats.items():
            if n > ward.seats:
                raise ValidationError(f"{ward.name} has {ward.seats} seat(s), not {n}.")


class CompositionSeatInline(admin.TabularInline):
    model = CompositionSeat
    formset = CompositionSeatFormSet
    fields = ("ward", "party", "seats", "elected_on", "councillors")
    autocomplete_fields = ("ward", "party")
    extra = 0


@admin.register(CouncilComposition)
class CouncilCompositionAdmin(admin.ModelAdmin):
    """The councillors of a council by ward, stated by an administrator: the baseline of its
    tallies where earlier results are not stored. Saving republishes the later days."""

    list_display = ("council", "as_of", "source", "created_at")
    list_filter = ("as_of",)
    search_fields = ("council__name", "council__slug", "source")
    autocomplete_fields = ("council",)
    inlines = [CompositionSeatInline]

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        schedule_republication(council_ids=[form.instance.council_id], after=None)

    def delete_model(self, request: HttpRequest, obj: CouncilComposition) -> None:
        council_id = obj.council_id
        super().delete_model(request, obj)
        schedule_republication(council_ids=[council_id], after=None)


@admin.register(DefendedSeat)
class DefendedSeatAdmin(admin.ModelAdmin):
    """Which sitting councillor's seat a ballot fills, where the usual rule (the
    longest-serving seat; among those won together, the fewest votes) is wrong. Saving
    republishes the ballot's day and the later ones."""

    list_display = ("ballot", "candidacy", "composition_seat", "note")
    search_fields = ("ballot__ballot_paper_id", "candidacy__person_name", "note")
    autocomplete_fields = ("ballot", "candidacy")
    raw_id_fields = ("composition_seat",)

    def save_model(self, request: HttpRequest, obj: DefendedSeat, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        schedule_republication(council_ids=[obj.ballot.election.council_id], after=None)

    def delete_model(self, request: HttpRequest, obj: DefendedSeat) -> None:
        council_id = obj.ballot.election.council_id
        super().delete_model(request, obj)
        schedule_republication(council_ids=[council_id], after=None)
