"""The shapes of the elections part of the read API, for the OpenAPI schema.

Responses are built as plain dicts by ``elections.api.records`` (DRF serializers are too slow
for a national night's pages; see docs performance notes); these serializers only describe
them, and the Schemathesis test checks every response against the description.
"""

from __future__ import annotations

from rest_framework import serializers

from elections.models import VotingSystem
from results.models import CountState, ResultStatus


class CouncilRefSerializer(serializers.Serializer):
    slug = serializers.CharField(help_text="Democracy Club slug (the organisation part of ids).")
    name = serializers.CharField()
    gss = serializers.CharField(allow_null=True, help_text="ONS GSS code of the council.")


class WardRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="Ward id; the live map's boundaries join on it.")
    name = serializers.CharField()
    slug = serializers.CharField()
    gss = serializers.CharField(allow_null=True, help_text="ONS GSS code (an attribute: it can change).")


class PartyRefSerializer(serializers.Serializer):
    party_id = serializers.CharField(help_text="PP53, ynmp-party:2 (independent) or joint-party:53-119.")
    name = serializers.CharField()


class PartySerializer(PartyRefSerializer):
    short_name = serializers.CharField(allow_blank=True)
    colour = serializers.CharField(allow_blank=True, help_text="#RRGGBB, or empty for neutral grey.")


class ElectionSerializer(serializers.Serializer):
    election_id = serializers.CharField(help_text="local.<council>.<date>")
    date = serializers.DateField()
    title = serializers.CharField()
    council = CouncilRefSerializer()
    rehearsal = serializers.BooleanField(help_text="Generated or replayed data, not a real election.")
    ballot_count = serializers.IntegerField()


class ElectionBallotSerializer(serializers.Serializer):
    ballot_paper_id = serializers.CharField()
    ward = WardRefSerializer()
    seats_contested = serializers.IntegerField()
    by_election = serializers.BooleanField()
    cancelled = serializers.BooleanField()
    uncontested = serializers.BooleanField()
    status = serializers.ChoiceField(choices=ResultStatus.choices)
    count_state = serializers.ChoiceField(choices=CountState.choices)


class ElectionDetailSerializer(ElectionSerializer):
    ballots = ElectionBallotSerializer(many=True)


class BallotCandidacySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    person_name = serializers.CharField(help_text="As on the ballot paper; data, never markup.")
    person_id = serializers.CharField(allow_blank=True, help_text="Democracy Club person id, if known.")
    party = PartyRefSerializer()
    description = serializers.CharField(allow_blank=True, help_text="Ballot-paper description.")


class CandidacySerializer(BallotCandidacySerializer):
    ballot_paper_id = serializers.CharField()
    election_id = serializers.CharField()
    date = serializers.DateField()
    council = CouncilRefSerializer()
    ward = WardRefSerializer()
    rehearsal = serializers.BooleanField()


class BallotSerializer(serializers.Serializer):
    ballot_paper_id = serializers.CharField(help_text="local.<council>.<ward>[.by].<date>")
    election_id = serializers.CharField()
    date = serializers.DateField()
    council = CouncilRefSerializer()
    ward = WardRefSerializer()
    seats_contested = serializers.IntegerField()
    voting_system = serializers.ChoiceField(choices=VotingSystem.choices)
    by_election = serializers.BooleanField()
    cancelled = serializers.BooleanField()
    uncontested = serializers.BooleanField()
    rehearsal = serializers.BooleanField()
    status = serializers.ChoiceField(choices=ResultStatus.choices, help_text="Of the ballot's result.")
    count_state = serializers.ChoiceField(choices=CountState.choices)
    version = serializers.IntegerField(help_text="Result version (0 before anything is recorded).")
    candidacies = BallotCandidacySerializer(many=True)
