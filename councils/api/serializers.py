"""The shapes of the councils part of the read API, for the OpenAPI schema (responses are
plain dicts built by ``councils.api.records``)."""

from __future__ import annotations

from rest_framework import serializers

from councils.models import CouncilType, Nation


class BoundarySetSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    valid_from = serializers.DateField()
    valid_to = serializers.DateField(allow_null=True, help_text="Null while current.")
    ward_count = serializers.IntegerField()


class CouncilSerializer(serializers.Serializer):
    slug = serializers.CharField(help_text="Democracy Club slug: the organisation part of ids.")
    name = serializers.CharField()
    gss = serializers.CharField(allow_null=True)
    nation = serializers.ChoiceField(choices=Nation.choices)
    council_type = serializers.ChoiceField(choices=CouncilType.choices)
    total_seats = serializers.IntegerField()
    boundary_sets = BoundarySetSummarySerializer(many=True)


class WardSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="Ward id; the boundary layers and live documents join on it.")
    name = serializers.CharField()
    name_cy = serializers.CharField(allow_blank=True, help_text="Welsh name, where there is one.")
    slug = serializers.CharField()
    gss = serializers.CharField(
        allow_null=True, help_text="ONS GSS code (an attribute: it changes with boundaries)."
    )
    seats = serializers.IntegerField(help_text="Councillors the ward elects at an all-out election.")
    label = serializers.ListField(
        child=serializers.FloatField(), help_text="[longitude, latitude] for a label."
    )
    bbox = serializers.ListField(child=serializers.FloatField(), help_text="[west, south, east, north].")


class BoundarySetSerializer(BoundarySetSummarySerializer):
    source = serializers.CharField(allow_blank=True)
    wards = WardSerializer(many=True)


class CouncilElectionSerializer(serializers.Serializer):
    election_id = serializers.CharField()
    date = serializers.DateField()
    title = serializers.CharField()
    rehearsal = serializers.BooleanField()


class CouncilDetailSerializer(CouncilSerializer):
    boundary_sets = BoundarySetSerializer(many=True)
    elections = CouncilElectionSerializer(many=True)


class TallyBeforeSerializer(serializers.Serializer):
    seats = serializers.DictField(child=serializers.IntegerField())
    control = serializers.CharField(allow_null=True, help_text="Party id, NOC, or null when unknown.")


class TallyWinnerSerializer(serializers.Serializer):
    party_id = serializers.CharField()
    name = serializers.CharField()
    votes = serializers.IntegerField(allow_null=True)


class TallySeatSerializer(serializers.Serializer):
    party_id = serializers.CharField(allow_null=True, help_text="Null when the holder is not known.")
    name = serializers.CharField(allow_null=True)


class TallyOutcomeSerializer(serializers.Serializer):
    ballot_paper_id = serializers.CharField()
    ward = serializers.DictField(help_text="{id, name}")
    declared = serializers.BooleanField()
    result = serializers.ChoiceField(choices=["hold", "gain"], allow_null=True)
    gain_from = serializers.CharField(allow_null=True)
    winners = TallyWinnerSerializer(many=True)
    defending = TallySeatSerializer(many=True)


class PartyInfoSerializer(serializers.Serializer):
    name = serializers.CharField()
    short_name = serializers.CharField(allow_blank=True)
    colour = serializers.CharField(allow_blank=True)


class CouncilTallySerializer(serializers.Serializer):
    council = serializers.DictField(help_text="{slug, name, gss}")
    date = serializers.DateField()
    rehearsal = serializers.BooleanField()
    total = serializers.IntegerField(help_text="Seats on the council.")
    majority = serializers.IntegerField()
    ballots = serializers.IntegerField()
    declared = serializers.IntegerField()
    up = serializers.IntegerField(help_text="Seats contested on the day.")
    unknown = serializers.IntegerField(help_text="Seats whose holder is not known.")
    seats = serializers.DictField(child=serializers.IntegerField(), help_text="Seats held now, per party id.")
    won = serializers.DictField(child=serializers.IntegerField(), help_text="Seats won on the day.")
    gains = serializers.DictField(child=serializers.IntegerField())
    losses = serializers.DictField(child=serializers.IntegerField())
    control = serializers.CharField(allow_null=True, help_text="Party id, NOC, or null while undecided.")
    before = TallyBeforeSerializer()
    outcomes = TallyOutcomeSerializer(many=True)
    parties = serializers.DictField(child=PartyInfoSerializer())


class ScoreboardPartySerializer(serializers.Serializer):
    won = serializers.IntegerField()
    change = serializers.IntegerField()


class ScoreboardCouncilSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    rehearsal = serializers.BooleanField()
    ballots = serializers.IntegerField()
    declared = serializers.IntegerField()
    total = serializers.IntegerField()
    majority = serializers.IntegerField()
    seats = serializers.DictField(child=serializers.IntegerField())
    gains = serializers.DictField(child=serializers.IntegerField())
    losses = serializers.DictField(child=serializers.IntegerField())
    control = serializers.CharField(allow_null=True)
    control_before = serializers.CharField(allow_null=True)


class ScoreboardSerializer(serializers.Serializer):
    date = serializers.DateField(allow_null=True, help_text="Null when nothing is stored.")
    councils_declared = serializers.IntegerField()
    councils = serializers.IntegerField()
    seats = serializers.DictField(child=ScoreboardPartySerializer())
    councils_gained = serializers.DictField(child=serializers.IntegerField())
    councils_lost = serializers.DictField(child=serializers.IntegerField())
    council_tallies = ScoreboardCouncilSerializer(many=True)
    parties = serializers.DictField(child=PartyInfoSerializer())
