"""The shapes of results, histories and the change feed in the read API, for the OpenAPI
schema (responses are plain dicts built by ``results.api.records``)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from elections.api.serializers import CouncilRefSerializer, PartyRefSerializer, WardRefSerializer
from results.models import CountState, EventKind, ResultStatus

_CHANGE_SCHEMA = {
    "type": "object",
    "description": "One changed field: {field, before, after} (candidates' votes carry candidacy_id).",
    "additionalProperties": True,
}


@extend_schema_field(_CHANGE_SCHEMA)
class ChangeField(serializers.DictField):
    pass


class RejectedSerializer(serializers.Serializer):
    """Rejected ballot papers under the five headings of the count (rule 47)."""

    official_mark = serializers.IntegerField(allow_null=True, help_text="Want of an official mark.")
    multiple_vote = serializers.IntegerField(allow_null=True, help_text="Voting for too many candidates.")
    identification = serializers.IntegerField(allow_null=True, help_text="Voter could be identified.")
    in_part = serializers.IntegerField(allow_null=True, help_text="Rejected in part (multi-member wards).")
    unmarked = serializers.IntegerField(allow_null=True, help_text="Unmarked or void for uncertainty.")


class CandidateFiguresSerializer(serializers.Serializer):
    candidacy_id = serializers.IntegerField()
    person_name = serializers.CharField()
    person_id = serializers.CharField(allow_blank=True)
    party = PartyRefSerializer()
    description = serializers.CharField(allow_blank=True)
    votes = serializers.IntegerField(
        allow_null=True, help_text="Null until figures stand, and when unopposed."
    )
    elected = serializers.BooleanField()
    won_by_lot = serializers.BooleanField(help_text="Tied for the last seat and chosen by lot.")


class StvStageVoteSerializer(serializers.Serializer):
    candidacy_id = serializers.IntegerField()
    transfer = serializers.CharField(help_text="Votes transferred in (+) or out (-) at this stage.")
    total = serializers.CharField(help_text="Running total after this stage.")


class StvStageSerializer(serializers.Serializer):
    number = serializers.IntegerField(help_text="1 is first preferences.")
    non_transferable = serializers.CharField()
    votes = StvStageVoteSerializer(many=True)


class StvSerializer(serializers.Serializer):
    quota = serializers.IntegerField(help_text="Droop quota: floor(valid / (seats + 1)) + 1.")
    valid_poll = serializers.IntegerField()
    stages = StvStageSerializer(many=True)


class ResultSerializer(serializers.Serializer):
    """A ballot's public result record."""

    ballot_paper_id = serializers.CharField()
    election_id = serializers.CharField()
    date = serializers.DateField()
    council = CouncilRefSerializer()
    ward = WardRefSerializer()
    seats_contested = serializers.IntegerField()
    voting_system = serializers.CharField()
    by_election = serializers.BooleanField()
    cancelled = serializers.BooleanField()
    uncontested = serializers.BooleanField()
    rehearsal = serializers.BooleanField(help_text="Generated or replayed data, not a real result.")
    status = serializers.ChoiceField(
        choices=ResultStatus.choices,
        help_text="none: nothing yet; provisional: keyed once; verified: a second person or the "
        "official source agrees; disputed: keyings disagree (the last accepted figures stand); "
        "retracted: withdrawn (no figures).",
    )
    count_state = serializers.ChoiceField(choices=CountState.choices)
    version = serializers.IntegerField(help_text="Bumped by every change; see the history.")
    verification = serializers.ChoiceField(
        choices=["official_source", "second_person"],
        allow_null=True,
        help_text="How a verified result was verified; null unless verified.",
    )
    electorate = serializers.IntegerField(allow_null=True)
    ballot_papers_counted = serializers.IntegerField(allow_null=True, help_text="Rejected papers included.")
    valid_papers = serializers.IntegerField(allow_null=True)
    rejected_total = serializers.IntegerField(allow_null=True)
    rejected = RejectedSerializer()
    turnout_pct = serializers.CharField(
        allow_null=True, help_text="Percentage with two decimals, as a string."
    )
    declared_at = serializers.DateTimeField(allow_null=True)
    source = serializers.CharField(allow_blank=True, help_text="Where the accepted figures come from.")
    modified = serializers.DateTimeField(allow_null=True, help_text="When the result last changed.")
    candidates = CandidateFiguresSerializer(many=True, help_text="By votes, most first.")
    stv = StvSerializer(allow_null=True, help_text="STV count stages; null for first past the post.")


class HistoryFiguresSerializer(serializers.Serializer):
    electorate = serializers.IntegerField(allow_null=True)
    ballot_papers_counted = serializers.IntegerField(allow_null=True)
    valid_papers = serializers.IntegerField(allow_null=True)
    rejected_total = serializers.IntegerField(allow_null=True)
    turnout_pct = serializers.CharField(allow_null=True)
    candidates = serializers.ListField(child=serializers.DictField())


class HistoryVersionSerializer(serializers.Serializer):
    event_id = serializers.IntegerField(help_text="The change-feed id of this change.")
    version = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=EventKind.choices)
    at = serializers.DateTimeField()
    status = serializers.CharField(allow_null=True)
    count_state = serializers.CharField(allow_null=True)
    reason = serializers.CharField(allow_null=True, help_text="Corrections and retractions.")
    note = serializers.CharField(allow_null=True)
    channel = serializers.CharField(allow_null=True)
    changes = serializers.ListField(child=ChangeField())
    figures = HistoryFiguresSerializer(allow_null=True, help_text="The figures recorded by this change.")


class ResultHistorySerializer(serializers.Serializer):
    ballot_paper_id = serializers.CharField()
    versions = HistoryVersionSerializer(many=True)


class EventSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="Cursor: strictly increasing.")
    kind = serializers.ChoiceField(choices=EventKind.choices)
    at = serializers.DateTimeField()
    ballot_paper_id = serializers.CharField()
    election_id = serializers.CharField()
    date = serializers.DateField()
    council = serializers.CharField()
    rehearsal = serializers.BooleanField()
    version = serializers.IntegerField(help_text="The result's version after this change.")
    status = serializers.CharField(allow_null=True)
    count_state = serializers.CharField(allow_null=True)
    reason = serializers.CharField(
        allow_null=True,
        help_text="Why: a correction's reason (keying_error, recount, official_correction) or a "
        "retraction's explanation.",
    )
    corrects_version = serializers.IntegerField(allow_null=True)
    changes = serializers.ListField(child=ChangeField())
    result_url = serializers.CharField(help_text="The result as it is now.")


class EventPageSerializer(serializers.Serializer):
    since = serializers.IntegerField()
    next = serializers.IntegerField(help_text="Ask with since=<next> next time.")
    more = serializers.BooleanField(help_text="More events are waiting: ask again at once.")
    events = EventSerializer(many=True)
