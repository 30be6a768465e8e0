"""Elections, ballots, parties and candidacies, identified by Democracy Club ids.

Ids are parsed and built only in ``elections.ids`` (a wrapper of uk-election-ids).
"""

from django.db import models
from django.db.models import Q

from councils.models import Council, Ward


class VotingSystem(models.TextChoices):
    """Counting methods used at UK local elections (uk-election-ids defaults by nation:
    FPTP in England and Wales, STV in Scotland and Northern Ireland)."""

    FPTP = "FPTP", "First past the post"
    STV = "STV", "Single transferable vote"


class Party(models.Model):
    """A registered party, or one of Democracy Club's pseudo-parties.

    ``party_id`` is the Electoral Commission register id (``PP52``), Democracy Club's
    ``ynmp-party:2`` for independents, ``ynmp-party:12522`` for speaker-seeking-re-election,
    or ``joint-party:53-119`` for joint descriptions such as Labour and Co-operative.
    """

    party_id = models.CharField(max_length=40, unique=True)
    name = models.CharField(max_length=255)
    short_name = models.CharField(max_length=40, blank=True)
    colour = models.CharField(
        max_length=7, blank=True, help_text="Map colour as #RRGGBB; empty for the neutral grey."
    )

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "parties"
        constraints = [
            models.CheckConstraint(
                condition=Q(party_id__regex=r"^(PP[0-9]+|ynmp-party:[0-9]+|joint-party:[0-9]+(-[0-9]+)+)$"),
                name="party_id_format",
                violation_error_message=(
                    "A party id is an Electoral Commission id (PP52), ynmp-party:N or joint-party:N-M."
                ),
            ),
            models.CheckConstraint(
                condition=Q(colour="") | Q(colour__regex=r"^#[0-9A-Fa-f]{6}$"),
                name="party_colour_format",
                violation_error_message="A colour is written #RRGGBB.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_independent(self) -> bool:
        return self.party_id == INDEPENDENT_PARTY_ID


INDEPENDENT_PARTY_ID = "ynmp-party:2"


class Election(models.Model):
    """One council's elections on one date (``local.trafford.2024-05-02``).

    By-elections on the same date share the council's election; the ballot says ``by``.
    """

    election_id = models.CharField(max_length=200, unique=True)
    date = models.DateField()
    council = models.ForeignKey(Council, on_delete=models.PROTECT, related_name="elections")
    title = models.CharField(max_length=255)
    rehearsal = models.BooleanField(
        default=False,
        help_text="Generated or replayed for a rehearsal: marked everywhere it appears, wiped by "
        "wipe_rehearsal, never mixed with real results.",
    )

    class Meta:
        ordering = ["-date", "council__name"]
        constraints = [
            models.UniqueConstraint(fields=["council", "date"], name="election_one_per_council_date"),
        ]

    def __str__(self) -> str:
        return self.title


class Ballot(models.Model):
    """One ward's contest: ``local.trafford.altrincham.2024-05-02`` (``.by.`` for a by-election)."""

    ballot_paper_id = models.CharField(max_length=250, unique=True)
    election = models.ForeignKey(Election, on_delete=models.PROTECT, related_name="ballots")
    ward = models.ForeignKey(Ward, on_delete=models.PROTECT, related_name="ballots")
    seats_contested = models.PositiveSmallIntegerField(default=1)
    voting_system = models.CharField(max_length=4, choices=VotingSystem.choices)
    by_election = models.BooleanField(default=False)
    cancelled = models.BooleanField(
        default=False, help_text="Poll countermanded (e.g. a candidate died); no result."
    )
    uncontested = models.BooleanField(
        default=False, help_text="No more candidates than seats: elected unopposed, no poll."
    )

    class Meta:
        ordering = ["election", "ward__name"]
        constraints = [
            models.CheckConstraint(condition=Q(seats_contested__gte=1), name="ballot_has_seats"),
            models.UniqueConstraint(
                fields=["election", "ward", "by_election"], name="ballot_one_per_ward_and_kind"
            ),
        ]

    def __str__(self) -> str:
        return self.ballot_paper_id


class Candidacy(models.Model):
    """A person standing on one ballot, for a party, with the description on the ballot paper."""

    ballot = models.ForeignKey(Ballot, on_delete=models.CASCADE, related_name="candidacies")
    person_name = models.CharField(max_length=255)
    person_id = models.CharField(
        "Democracy Club person id", max_length=20, blank=True,
        help_text="Empty when the source has no Democracy Club person id.",
    )
    party = models.ForeignKey(Party, on_delete=models.PROTECT, related_name="candidacies")
    description = models.CharField("ballot-paper description", max_length=255, blank=True)

    class Meta:
        ordering = ["ballot", "person_name"]
        verbose_name_plural = "candidacies"
        constraints = [
            models.UniqueConstraint(
                fields=["ballot", "person_name", "party"], name="candidacy_unique_on_ballot"
            ),
            models.UniqueConstraint(
                fields=["ballot", "person_id"],
                condition=~Q(person_id=""),
                name="candidacy_unique_person_on_ballot",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.person_name} ({self.party.name})"
