"""Results: what was keyed (``Submission``), what is accepted (``Result``) and what changed
(``ResultEvent``, the publication outbox).

Don't write any of these directly: ``results.services`` is the one write path. ``Submission``
and ``ResultEvent`` are append-only, enforced by database triggers (see migration 0002).
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from elections.models import Ballot, Candidacy


class ResultStatus(models.TextChoices):
    """Verification state of the accepted figures of a ballot."""

    NO_FIGURES = "none", "No figures yet"
    PROVISIONAL = "provisional", "Provisional (keyed once)"
    VERIFIED = "verified", "Verified"
    DISPUTED = "disputed", "Disputed (keyings disagree)"
    RETRACTED = "retracted", "Retracted"


class CountState(models.TextChoices):
    """Progress of the count, set by correspondents before figures exist."""

    AWAITING = "awaiting", "Awaiting count"
    COUNTING = "counting", "Counting"
    RECOUNT = "recount", "Recount"
    DECLARED = "declared", "Declared"


class SubmissionChannel(models.TextChoices):
    FORM = "form", "Keyed in the form"
    API = "api", "Posted to the API"
    IMPORT = "import", "Imported from a file"
    REPLAY = "replay", "Replayed"
    REVIEW = "review", "Reviewer's resolution"


class CorrectionReason(models.TextChoices):
    KEYING_ERROR = "keying_error", "Keying error"
    RECOUNT = "recount", "Recount"
    OFFICIAL_CORRECTION = "official_correction", "Official correction"


class Result(models.Model):
    """The current accepted state of one ballot.

    ``status``, ``version`` and the figures are denormalised from the latest accepted
    ``Submission``; set them only through ``results.services``.
    """

    ballot = models.OneToOneField(Ballot, on_delete=models.PROTECT, related_name="result")
    status = models.CharField(
        max_length=12, choices=ResultStatus.choices, default=ResultStatus.NO_FIGURES
    )
    count_state = models.CharField(
        max_length=10, choices=CountState.choices, default=CountState.AWAITING
    )
    version = models.PositiveIntegerField(
        default=0, help_text="Bumped by every accepted change; optimistic-lock token."
    )
    published_version = models.PositiveIntegerField(
        default=0, help_text="Highest version the publisher has written out."
    )
    electorate = models.PositiveIntegerField(null=True, blank=True)
    ballot_papers_issued = models.PositiveIntegerField(null=True, blank=True)
    ballot_papers_counted = models.PositiveIntegerField(
        null=True, blank=True, help_text="Ballot papers in the count, rejected ones included."
    )
    rejected_total = models.PositiveIntegerField(null=True, blank=True)
    # The five headings of the LGA ElectionResults schema (rule 47 of the local election rules).
    rejected_official_mark = models.PositiveIntegerField(null=True, blank=True)
    rejected_multiple_vote = models.PositiveIntegerField(null=True, blank=True)
    rejected_identification = models.PositiveIntegerField(null=True, blank=True)
    rejected_in_part = models.PositiveIntegerField(null=True, blank=True)
    rejected_unmarked = models.PositiveIntegerField(null=True, blank=True)
    valid_papers = models.PositiveIntegerField(null=True, blank=True)
    turnout_pct = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    declared_at = models.DateTimeField(null=True, blank=True)
    source = models.CharField(max_length=500, blank=True)
    current_submission = models.ForeignKey(
        "Submission", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(turnout_pct__isnull=True)
                | (Q(turnout_pct__gte=0) & Q(turnout_pct__lte=100)),
                name="result_turnout_range",
            ),
            models.CheckConstraint(
                condition=Q(published_version__lte=models.F("version")),
                name="result_published_not_ahead",
            ),
        ]
        indexes = [
            models.Index(fields=["updated_at"], name="result_updated_idx"),
            # The reconciler's question every few seconds: what is behind its publication?
            models.Index(
                fields=["id"], condition=Q(published_version__lt=models.F("version")),
                name="result_unpublished_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.ballot.ballot_paper_id} v{self.version} ({self.status})"


class CandidateResult(models.Model):
    result = models.ForeignKey(Result, on_delete=models.CASCADE, related_name="candidate_results")
    candidacy = models.ForeignKey(Candidacy, on_delete=models.PROTECT, related_name="+")
    votes = models.PositiveIntegerField(
        null=True, blank=True, help_text="Empty only for an uncontested (unopposed) ballot."
    )
    elected = models.BooleanField(default=False)
    won_by_lot = models.BooleanField(
        default=False, help_text="Tied for the last seat and chosen by lot (rule 49)."
    )

    class Meta:
        ordering = ["result", "-votes", "candidacy__person_name"]
        constraints = [
            models.UniqueConstraint(fields=["result", "candidacy"], name="candidateresult_unique"),
            models.CheckConstraint(
                condition=Q(won_by_lot=False) | Q(elected=True), name="lot_winner_is_elected"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.candidacy.person_name}: {self.votes}"


class StvCount(models.Model):
    """Per-ballot totals of an STV count. Quota is the Droop quota floor(valid/(seats+1))+1."""

    result = models.OneToOneField(Result, on_delete=models.CASCADE, related_name="stv_count")
    quota = models.PositiveIntegerField()
    valid_poll = models.PositiveIntegerField()

    def __str__(self) -> str:
        return f"STV count of {self.result.ballot.ballot_paper_id}"


class StvStage(models.Model):
    count = models.ForeignKey(StvCount, on_delete=models.CASCADE, related_name="stages")
    number = models.PositiveSmallIntegerField(help_text="1 is first preferences.")
    non_transferable = models.DecimalField(
        max_digits=14, decimal_places=5, default=0,
        help_text="Papers (cumulative) that could not be transferred by the end of this stage.",
    )

    class Meta:
        ordering = ["count", "number"]
        constraints = [
            models.UniqueConstraint(fields=["count", "number"], name="stvstage_unique_number"),
            models.CheckConstraint(condition=Q(number__gte=1), name="stvstage_number_positive"),
        ]

    def __str__(self) -> str:
        return f"Stage {self.number}"


class StvStageVote(models.Model):
    stage = models.ForeignKey(StvStage, on_delete=models.CASCADE, related_name="votes")
    candidacy = models.ForeignKey(Candidacy, on_delete=models.PROTECT, related_name="+")
    transfer = models.DecimalField(max_digits=14, decimal_places=5)
    total = models.DecimalField(max_digits=14, decimal_places=5)

    class Meta:
        ordering = ["stage", "-total"]
        constraints = [
            models.UniqueConstraint(fields=["stage", "candidacy"], name="stvstagevote_unique"),
            models.CheckConstraint(condition=Q(total__gte=0), name="stvstagevote_total_nonneg"),
        ]

    def __str__(self) -> str:
        return f"{self.transfer:+} → {self.total}"


class Submission(models.Model):
    """Every keying or import of a ballot's figures, exactly as received. Append-only."""

    ballot = models.ForeignKey(Ballot, on_delete=models.PROTECT, related_name="submissions")
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    submitted_at = models.DateTimeField(auto_now_add=True)
    channel = models.CharField(max_length=10, choices=SubmissionChannel.choices)
    source = models.CharField(max_length=500)
    figures = models.JSONField(help_text="The figures as keyed, in canonical form.")
    figures_hash = models.CharField(
        max_length=64, help_text="SHA-256 of the canonical figures: identical keyings match."
    )
    client_token = models.CharField(
        max_length=64, null=True, blank=True, unique=True,
        help_text="Idempotency key from the client: a retry returns the first submission.",
    )
    based_on_version = models.PositiveIntegerField(
        help_text="The result version the keyer saw; a stale one is a conflict."
    )
    resulting_version = models.PositiveIntegerField()
    resulting_status = models.CharField(max_length=12, choices=ResultStatus.choices)
    correction_reason = models.CharField(
        max_length=20, choices=CorrectionReason.choices, blank=True
    )
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["ballot", "submitted_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(resulting_version__gte=models.F("based_on_version")),
                name="submission_version_monotonic",
            ),
        ]

    def __str__(self) -> str:
        return f"Submission {self.pk} for {self.ballot.ballot_paper_id}"


class EventKind(models.TextChoices):
    COUNT_STATE = "count_state", "Count state changed"
    PROVISIONAL = "provisional", "Provisional result"
    VERIFIED = "verified", "Result verified"
    DISPUTED = "disputed", "Keyings disagree"
    RESOLVED = "resolved", "Dispute resolved"
    CORRECTED = "corrected", "Result corrected"
    RETRACTED = "retracted", "Result retracted"


class ResultEvent(models.Model):
    """Append-only change log and publication outbox; its id is the change-feed cursor."""

    result = models.ForeignKey(Result, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=12, choices=EventKind.choices)
    version = models.PositiveIntegerField()
    submission = models.ForeignKey(
        Submission, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    payload = models.JSONField(default=dict, help_text="What changed, for the feed.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["created_at"], name="resultevent_created_idx")]

    def __str__(self) -> str:
        return f"{self.kind} v{self.version} of {self.result_id}"


class PublicationDay(models.Model):
    """Publication state of one polling day's live documents (docs/live-data.md).

    Its row is locked (``select_for_update``) while a publisher builds the day's documents,
    so publishers of one day run one at a time on every host and each build reads at least
    what the previous one wrote. Written only by ``results.publication``.
    """

    date = models.DateField(unique=True)
    seq = models.BigIntegerField(default=0, help_text="Highest ResultEvent id in the documents.")
    stream_id = models.CharField(
        max_length=40, blank=True, help_text="Id of the last live-stream event published for the day."
    )
    structure = models.CharField(
        max_length=64, blank=True,
        help_text="Fingerprint of the day's ballots at the last full build; empty = rebuild in full.",
    )
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-date"]

    def __str__(self) -> str:
        return f"Live documents of {self.date.isoformat()}"


class CouncilComposition(models.Model):
    """The council's councillors by ward, as an administrator states them on a date.

    The tallies' baseline when earlier results are not in the database: the seats not up at
    a later election are taken from here, then from the elections stored after ``as_of``.
    """

    council = models.ForeignKey(
        "councils.Council", on_delete=models.CASCADE, related_name="compositions"
    )
    as_of = models.DateField(
        help_text="The composition after every election up to and including this date."
    )
    source = models.CharField(max_length=500, help_text="Where the composition comes from.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["council__name", "-as_of"]
        constraints = [
            models.UniqueConstraint(fields=["council", "as_of"], name="composition_unique_date"),
        ]

    def __str__(self) -> str:
        return f"{self.council.name} as of {self.as_of.isoformat()}"


class CompositionSeat(models.Model):
    """``seats`` councillors of one party in one ward, in a stated composition."""

    composition = models.ForeignKey(CouncilComposition, on_delete=models.CASCADE, related_name="seats")
    ward = models.ForeignKey("councils.Ward", on_delete=models.PROTECT, related_name="+")
    party = models.ForeignKey("elections.Party", on_delete=models.PROTECT, related_name="+")
    seats = models.PositiveSmallIntegerField(default=1)
    elected_on = models.DateField(
        null=True, blank=True,
        help_text="When they were elected: the longest-serving seat is defended first. "
        "Empty: before any stored election.",
    )
    councillors = models.CharField(max_length=500, blank=True, help_text="Names, for information.")

    class Meta:
        ordering = ["composition", "ward__name", "party__name"]
        constraints = [
            models.CheckConstraint(condition=Q(seats__gte=1), name="compositionseat_has_seats"),
        ]

    def __str__(self) -> str:
        return f"{self.ward.name}: {self.seats} × {self.party.name}"

    def clean(self) -> None:
        if not (self.ward_id and self.composition_id):
            return
        council = self.composition.council
        if self.ward.boundary_set.council_id != council.pk:
            raise ValidationError({"ward": f"{self.ward.name} is not a ward of {council.name}."})


class DefendedSeat(models.Model):
    """An administrator's statement of which sitting councillor's seat a ballot fills.

    Without one, the tally applies the usual rule (docs/live-data.md): the longest-serving
    seat, and among seats won at the same election the one won with the fewest votes. Name
    either the councillor's earlier candidacy in the same ward or a seat of a composition.
    """

    ballot = models.ForeignKey("elections.Ballot", on_delete=models.CASCADE, related_name="defended_seats")
    candidacy = models.ForeignKey(
        Candidacy, on_delete=models.CASCADE, null=True, blank=True, related_name="+",
        help_text="The councillor's winning candidacy at an earlier election in the same ward.",
    )
    composition_seat = models.ForeignKey(
        CompositionSeat, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["ballot"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(candidacy__isnull=False) & Q(composition_seat__isnull=True))
                | (Q(candidacy__isnull=True) & Q(composition_seat__isnull=False)),
                name="defendedseat_names_one_seat",
                violation_error_message="Name either an earlier candidacy or a composition seat.",
            ),
            models.UniqueConstraint(fields=["ballot", "candidacy"], name="defendedseat_unique_candidacy"),
            models.UniqueConstraint(
                fields=["ballot", "composition_seat"], name="defendedseat_unique_composition_seat"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.ballot.ballot_paper_id} defends {self.candidacy or self.composition_seat}"

    def clean(self) -> None:
        """Refuse a statement the tally could not apply: an all-out contest (it fills every
        seat), a seat in another ward, a councillor elected on or after the ballot's date or
        not elected, or more seats than the ballot contests."""
        if not self.ballot_id:
            return
        ballot = self.ballot
        date = ballot.election.date
        if not ballot.by_election and ballot.seats_contested >= ballot.ward.seats:
            raise ValidationError(
                {"ballot": f"{ballot.ballot_paper_id} contests every seat of its ward: it defends them all."}
            )
        if self.candidacy_id:
            earlier = self.candidacy.ballot
            if earlier.ward_id != ballot.ward_id or earlier.election.date >= date:
                raise ValidationError(
                    {"candidacy": "Name a councillor elected in the same ward at an earlier election."}
                )
            if not CandidateResult.objects.filter(candidacy=self.candidacy, elected=True).exists():
                raise ValidationError({"candidacy": f"{self.candidacy.person_name} was not elected there."})
        if self.composition_seat_id:
            seat = self.composition_seat
            if seat.ward_id != ballot.ward_id or seat.composition.as_of >= date:
                raise ValidationError({
                    "composition_seat": "Name a seat of the same ward, in a composition of an earlier date."
                })
        others = DefendedSeat.objects.filter(ballot=ballot).exclude(pk=self.pk).count()
        if others + 1 > ballot.seats_contested:
            raise ValidationError(
                {"ballot": f"{ballot.ballot_paper_id} contests {ballot.seats_contested} seat(s): "
                           f"it cannot defend {others + 1}."}
            )
