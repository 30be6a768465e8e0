"""Query filters of the change feed and the exports (exact and prefix matches only; see
``elections.api.filters``)."""

from __future__ import annotations

from typing import ClassVar

import django_filters

from elections.api.filters import (
    StrictBooleanFilter,
    StrictChoiceFilter,
    StrictDateFilter,
    ballot_id_filter,
    election_id_filter,
    id_prefix_filter,
    slug_filter,
)
from elections.models import Ballot
from results.models import EventKind, ResultEvent


class EventFilter(django_filters.FilterSet):
    election = election_id_filter("result__ballot__election__election_id", help_text="Election id (exact).")
    election_date = StrictDateFilter(
        field_name="result__ballot__election__date", help_text="Polling day (YYYY-MM-DD)."
    )
    council = slug_filter("result__ballot__election__council__slug", help_text="Council slug (exact).")
    ballot = ballot_id_filter("result__ballot__ballot_paper_id", help_text="Ballot id (exact).")
    ballot_prefix = id_prefix_filter(
        "result__ballot__ballot_paper_id", help_text="Ballot ids starting with this."
    )
    kind = StrictChoiceFilter(field_name="kind", choices=EventKind.choices, help_text="Kind of change.")
    rehearsal = StrictBooleanFilter(
        field_name="result__ballot__election__rehearsal", help_text="Only rehearsal (or real) data."
    )

    class Meta:
        model = ResultEvent
        fields: ClassVar[list[str]] = []


class ExportFilter(django_filters.FilterSet):
    """What to export: results matching every one given (none: every result)."""

    election = election_id_filter("election__election_id", help_text="One election.")
    council = slug_filter("election__council__slug", help_text="All of one council's elections.")
    date = StrictDateFilter(field_name="election__date", help_text="Every council polling that day.")

    class Meta:
        model = Ballot
        fields: ClassVar[list[str]] = []
