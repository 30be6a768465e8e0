"""Admin for parties, elections, ballots and candidacies.

The forms apply the same rules as ``elections.services``: ids are checked through
``elections.ids`` (canonical spelling only), an election's date and a ballot's by-election
flag are derived from the id, and a ballot's ward must belong to its election's council.
Ids are read-only once saved: other systems (Democracy Club, published results) refer to them.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from config.errors import ApplicationError

from . import ids
from .models import Ballot, Candidacy, Election, Party
from .services import canonical_ballot_id, normalise_party_id


def _as_validation_error(exc: ApplicationError) -> forms.ValidationError:
    return forms.ValidationError(exc.message, code=exc.code)


class PartyAdminForm(forms.ModelForm):
    class Meta:
        model = Party
        fields = ["party_id", "name", "short_name", "colour"]

    def clean_party_id(self) -> str:
        try:
            party_id = normalise_party_id(self.cleaned_data["party_id"])
        except ApplicationError as exc:
            raise _as_validation_error(exc) from exc
        if party_id is None:
            raise forms.ValidationError("A party needs an id.")
        return party_id

    def clean_colour(self) -> str:
        return self.cleaned_data["colour"].strip().upper()


@admin.register(Party)
class PartyAdmin(admin.ModelAdmin):
    form = PartyAdminForm
    list_display = ["party_id", "name", "short_name", "colour"]
    search_fields = ["party_id", "name", "short_name"]
    ordering = ["name"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["party_id"] if obj else []


class ElectionAdminForm(forms.ModelForm):
    class Meta:
        model = Election
        fields = ["election_id", "council", "date", "title"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "date" in self.fields:
            self.fields["date"].disabled = True
            self.fields["date"].required = False
            self.fields["date"].help_text = "Taken from the election id."

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        election_id = cleaned.get("election_id", self.instance.election_id)
        if not election_id:
            return cleaned
        try:
            parsed = ids.validate_local_election_id(election_id)
            if parsed.election_id != election_id:
                raise ids.InvalidElectionId(election_id, f"its canonical form is {parsed.election_id}")
        except ApplicationError as exc:
            self.add_error("election_id" if "election_id" in self.fields else None,
                           _as_validation_error(exc))
            return cleaned
        council = cleaned.get("council")
        if council is not None and council.slug != parsed.organisation:
            self.add_error("council", f"The id names {parsed.organisation!r}; this council's slug is "
                                      f"{council.slug!r}.")
        cleaned["date"] = parsed.date
        return cleaned


@admin.register(Election)
class ElectionAdmin(admin.ModelAdmin):
    form = ElectionAdminForm
    list_display = ["election_id", "title", "date", "council"]
    list_select_related = ["council"]
    search_fields = ["election_id", "title", "council__name", "council__slug"]
    date_hierarchy = "date"
    ordering = ["-date", "council__name"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["election_id", "council"] if obj else []


class CandidacyInline(admin.TabularInline):
    model = Candidacy
    fields = ["person_name", "person_id", "party", "description"]
    autocomplete_fields = ["party"]
    extra = 0


class BallotAdminForm(forms.ModelForm):
    class Meta:
        model = Ballot
        fields = [
            "ballot_paper_id", "election", "ward", "seats_contested", "voting_system",
            "by_election", "cancelled", "uncontested",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "by_election" in self.fields:
            self.fields["by_election"].disabled = True
            self.fields["by_election"].help_text = "Taken from the ballot id (.by.)."

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        ballot_paper_id = cleaned.get("ballot_paper_id", self.instance.ballot_paper_id)
        if not ballot_paper_id:
            return cleaned
        id_field = "ballot_paper_id" if "ballot_paper_id" in self.fields else None
        try:
            parsed = ids.validate_ballot_id(ballot_paper_id)
            canonical = canonical_ballot_id(parsed)
            if canonical != ballot_paper_id:
                raise ids.InvalidElectionId(ballot_paper_id, f"its canonical form is {canonical}",
                                            field="ballot_paper_id")
        except ApplicationError as exc:
            self.add_error(id_field, _as_validation_error(exc))
            return cleaned
        election = cleaned.get("election")
        if election is not None and election.election_id != parsed.election_id:
            self.add_error("election", f"The ballot id belongs to {parsed.election_id}.")
        ward = cleaned.get("ward")
        if election is not None and ward is not None and ward.boundary_set.council_id != election.council_id:
            self.add_error("ward", f"{ward.name} is not a ward of {election.council.name}.")
        cleaned["by_election"] = parsed.by_election
        return cleaned


@admin.register(Ballot)
class BallotAdmin(admin.ModelAdmin):
    form = BallotAdminForm
    inlines = [CandidacyInline]
    list_display = [
        "ballot_paper_id", "ward", "seats_contested", "voting_system", "by_election", "cancelled",
        "uncontested",
    ]
    list_filter = ["voting_system", "by_election", "cancelled", "uncontested", "election__date"]
    list_select_related = ["ward", "election"]
    search_fields = ["ballot_paper_id", "ward__name", "ward__gss", "election__election_id"]
    autocomplete_fields = ["election"]
    # Thousands of wards: a raw id beats a select of every ward in the country.
    raw_id_fields = ["ward"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["ballot_paper_id"] if obj else []


@admin.register(Candidacy)
class CandidacyAdmin(admin.ModelAdmin):
    list_display = ["person_name", "person_id", "party", "ballot"]
    list_select_related = ["party", "ballot"]
    search_fields = [
        "person_name", "person_id", "ballot__ballot_paper_id", "party__name", "party__party_id",
    ]
    autocomplete_fields = ["ballot", "party"]
