"""Forms of the keying pages. They check shape only (numbers are numbers, required fields are
there) and build ``ResultFigures``; every arithmetic check is the service's.

Field names are the service's problem field names (``votes_<candidacy id>``,
``ballot_papers_counted``, ``rejected_total``, ``rejected_<heading>``, …), so a problem the
service reports is shown beside the input it concerns.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from django import forms
from django.utils import timezone

from elections.models import Ballot, Candidacy, VotingSystem

from .figures import REJECTED_HEADINGS, CandidateFigures, ResultFigures, StvStageFigures
from .models import CorrectionReason

# Far above any ward's electorate, far below the database's integer range: a stray extra digit
# or a pasted telephone number is refused as a form error, never reaches the database.
MAX_FIGURE = 10_000_000
MAX_STAGES = 20
REJECTED_LABELS = {
    "official_mark": "Want of an official mark",
    "multiple_vote": "Voting for more candidates than allowed",
    "identification": "Writing or mark identifying the voter",
    "in_part": "Rejected in part",
    "unmarked": "Unmarked or void for uncertainty",
}
CLIENT_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{8,48}$")


def ballot_paper_order(candidacies: Iterable[Candidacy]) -> list[Candidacy]:
    """Candidates as on the ballot paper: alphabetically by surname, then forenames."""
    def key(c: Candidacy) -> tuple[str, str]:
        parts = c.person_name.split()
        return (parts[-1].casefold() if parts else "", c.person_name.casefold())

    return sorted(candidacies, key=key)


def _numeric(css: str = "figure") -> forms.TextInput:
    # A text input with a numeric keypad: type="number" brings spinners, scroll-wheel changes
    # and locale surprises; inputmode gives phones the keypad without them.
    return forms.TextInput(attrs={"inputmode": "numeric", "pattern": "[0-9]*", "autocomplete": "off",
                                  "class": css})


def _decimal_input() -> forms.TextInput:
    return forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off", "class": "figure"})


def count(label: str, *, required: bool = False, help_text: str = "") -> forms.IntegerField:
    return forms.IntegerField(
        label=label, required=required, min_value=0, max_value=MAX_FIGURE, widget=_numeric(),
        help_text=help_text,
        error_messages={"invalid": "Enter a whole number, digits only.",
                        "required": f"Enter the {label.lower()}."},
    )


class KeyingForm(forms.Form):
    """One ballot's declared figures. ``stage_count`` STV stages after the first preferences."""

    def __init__(
        self,
        data: Any = None,
        *,
        ballot: Ballot,
        candidacies: Sequence[Candidacy],
        stage_count: int = 0,
        correction: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(data, **kwargs)
        self.ballot = ballot
        self.candidacies = list(candidacies)
        self.is_stv = ballot.voting_system == VotingSystem.STV
        self.stage_count = max(0, min(stage_count, MAX_STAGES))
        self.correction = correction
        for c in self.candidacies:
            label = f"{c.person_name}, {c.party.name}"
            if not ballot.uncontested:
                self.fields[f"votes_{c.pk}"] = count(
                    "First preferences" if self.is_stv else "Votes", required=True,
                )
                self.fields[f"votes_{c.pk}"].error_messages["required"] = f"Enter {c.person_name}'s votes."
            if self.is_stv:
                self.fields[f"elected_{c.pk}"] = forms.BooleanField(required=False, label=f"{label}: elected")
            elif not ballot.uncontested:
                self.fields[f"won_by_lot_{c.pk}"] = forms.BooleanField(
                    required=False, label=f"{c.person_name} won by lot"
                )
        if not ballot.uncontested:
            self.fields["ballot_papers_counted"] = count(
                "Ballot papers counted", required=True,
                help_text="Every paper in the count, rejected ones included.",
            )
            self.fields["rejected_total"] = count("Rejected papers", help_text="The total, if read out.")
            for heading in REJECTED_HEADINGS:
                self.fields[f"rejected_{heading}"] = count(REJECTED_LABELS[heading])
            self.fields["electorate"] = count("Electorate")
        if self.is_stv and not ballot.uncontested:
            self.fields["stv_quota"] = count("Quota")
            self.fields["stv_valid_poll"] = count("Valid poll")
            self.fields["stages"] = forms.IntegerField(
                required=False, min_value=0, max_value=MAX_STAGES, widget=forms.HiddenInput
            )
            for n in range(2, self.stage_count + 2):
                for c in self.candidacies:
                    self.fields[f"stage_{n}_{c.pk}"] = forms.DecimalField(
                        label=f"{c.person_name}, total after stage {n}", required=True, min_value=0,
                        max_value=MAX_FIGURE, max_digits=14, decimal_places=5, widget=_decimal_input(),
                    )
                self.fields[f"stage_{n}_non_transferable"] = forms.DecimalField(
                    label=f"Non-transferable papers after stage {n}", required=False, min_value=0,
                    max_value=MAX_FIGURE, max_digits=14, decimal_places=5, widget=_decimal_input(),
                )
        self.fields["declared_at"] = forms.DateTimeField(
            label="Declared at", required=False,
            widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
            input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
        )
        self.fields["source"] = forms.CharField(
            label="Source", max_length=500, initial="Declaration at the count",
            help_text="Where the figures come from: the declaration, a count sheet, a web page.",
        )
        self.fields["client_token"] = forms.CharField(widget=forms.HiddenInput, max_length=48)
        self.fields["based_on_version"] = forms.IntegerField(widget=forms.HiddenInput, min_value=0)
        self.fields["confirm_warnings"] = forms.BooleanField(
            required=False, label="I have checked these figures against the declaration: submit them"
        )
        for name, formfield in self.fields.items():
            if formfield.help_text:
                formfield.widget.attrs.setdefault("aria-describedby", f"{name}-hint")
        self.fields["correction_reason"] = forms.ChoiceField(
            label="Why are you changing the figures?", required=correction,
            choices=[("", "Choose a reason")] + list(CorrectionReason.choices),
        )
        self.fields["note"] = forms.CharField(
            label="Note", required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 2})
        )

    def clean_client_token(self) -> str:
        token = self.cleaned_data["client_token"]
        if not CLIENT_TOKEN_RE.match(token):
            raise forms.ValidationError("The form's token is damaged: reload the page.")
        return token

    def votes_field(self, candidacy: Candidacy) -> str:
        return f"votes_{candidacy.pk}"

    def to_figures(self) -> ResultFigures:
        """The figures as keyed. Call after ``is_valid()``."""
        data = self.cleaned_data
        candidates = []
        for c in self.candidacies:
            candidates.append(CandidateFigures(
                candidacy_id=c.pk,
                votes=None if self.ballot.uncontested else data[f"votes_{c.pk}"],
                won_by_lot=bool(data.get(f"won_by_lot_{c.pk}")),
                elected=(bool(data.get(f"elected_{c.pk}")) if self.is_stv else None),
            ))
        declared_at = data.get("declared_at")
        if declared_at is not None and timezone.is_naive(declared_at):
            declared_at = timezone.make_aware(declared_at)
        stages = []
        for n in range(2, self.stage_count + 2):
            stages.append(StvStageFigures(
                number=n,
                totals={c.pk: data[f"stage_{n}_{c.pk}"] for c in self.candidacies},
                non_transferable=data.get(f"stage_{n}_non_transferable"),
            ))
        return ResultFigures(
            candidates=tuple(candidates),
            electorate=data.get("electorate"),
            ballot_papers_counted=data.get("ballot_papers_counted"),
            rejected_total=data.get("rejected_total"),
            rejected={h: data.get(f"rejected_{h}") for h in REJECTED_HEADINGS
                      if data.get(f"rejected_{h}") is not None},
            declared_at=declared_at,
            stv_quota=data.get("stv_quota"),
            stv_valid_poll=data.get("stv_valid_poll"),
            stv_stages=tuple(stages),
        )


def initial_from_figures(figures: dict[str, Any], *, stv: bool) -> dict[str, Any]:
    """Form initial values from a stored submission's canonical figures (own re-keying,
    corrections)."""
    initial: dict[str, Any] = {
        "electorate": figures.get("electorate"),
        "ballot_papers_counted": figures.get("ballot_papers_counted"),
        "rejected_total": figures.get("rejected_total"),
    }
    for heading, value in (figures.get("rejected") or {}).items():
        initial[f"rejected_{heading}"] = value
    for c in figures.get("candidates", []):
        initial[f"votes_{c['candidacy_id']}"] = c.get("votes")
        initial[f"won_by_lot_{c['candidacy_id']}"] = c.get("won_by_lot", False)
        if stv:
            initial[f"elected_{c['candidacy_id']}"] = bool(c.get("elected"))
    stv_data = figures.get("stv") or {}
    if stv_data:
        initial["stv_quota"] = stv_data.get("quota")
        initial["stv_valid_poll"] = stv_data.get("valid_poll")
        stages = [s for s in stv_data.get("stages", []) if s["number"] > 1]
        initial["stages"] = len(stages)
        for s in stages:
            for cid, total in s["totals"].items():
                initial[f"stage_{s['number']}_{cid}"] = Decimal(total)
            if s.get("non_transferable") is not None:
                initial[f"stage_{s['number']}_non_transferable"] = Decimal(s["non_transferable"])
    return initial


def now_for_input() -> dt.datetime:
    """The current local time to the minute, the default declaration time."""
    return timezone.localtime().replace(second=0, microsecond=0)


class ReviewDecisionForm(forms.Form):
    """A reviewer's approval of one exact keying at one exact result version."""

    submission_id = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    expected_version = forms.IntegerField(widget=forms.HiddenInput, min_value=0)
    client_token = forms.CharField(widget=forms.HiddenInput, max_length=48)
    reason = forms.CharField(label="Why these figures?", required=False, max_length=1000,
                             widget=forms.Textarea(attrs={"rows": 2}))

    def clean_client_token(self) -> str:
        token = self.cleaned_data["client_token"]
        if not CLIENT_TOKEN_RE.match(token):
            raise forms.ValidationError("The form's token is damaged: reload the page.")
        return token


class RetractForm(forms.Form):
    expected_version = forms.IntegerField(widget=forms.HiddenInput, min_value=0)
    reason = forms.CharField(label="Why withdraw this result?", max_length=1000,
                             widget=forms.Textarea(attrs={"rows": 2}))


class CountStateForm(forms.Form):
    state = forms.ChoiceField(choices=[("awaiting", "Awaiting count"), ("counting", "Counting"),
                                       ("recount", "Recount")])
