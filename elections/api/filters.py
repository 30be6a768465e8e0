"""Query filters of the read API: exact and prefix matches only.

No filter takes a regular expression or a free-text ``contains`` from clients: an exact or
prefix match uses the indexes and cannot be made expensive. Every value is validated, and a
bad one is a 400 naming the parameter (``config.api_errors``): a Democracy Club id is checked
by ``elections.ids`` (code ``invalid_election_id``), a GSS code by its format.

The patterns declared in the OpenAPI schema admit exactly the values these filters accept,
so a client (or Schemathesis) that follows the schema is never refused.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, ClassVar

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q
from drf_spectacular.utils import extend_schema_field

from config.api_http import policy_for_dates
from config.errors import ApplicationError
from elections import ids
from elections.models import Ballot, Candidacy, Election
from results.models import ResultStatus

_SLUG = r"[a-z0-9]+(?:-[a-z0-9]+)*"
SLUG_PATTERN = rf"^{_SLUG}$"
GSS_PATTERN = r"^[EWSN][0-9]{8}$"
PARTY_ID_PATTERN = r"^(?:PP[0-9]+|ynmp-party:[0-9]+|joint-party:[0-9]+(?:-[0-9]+)+)$"
ID_PREFIX_PATTERN = r"^[a-z0-9.-]{1,250}$"

# Democracy Club ids, for the schema. Ids are checked by uk-election-ids, which refuses
# impossible dates; days 29–31 are valid in some months only, so the documented pattern stops
# at 28 and every value it admits is accepted (later days are accepted too).
_SCHEMA_DATE = r"(?:19|20)[0-9]{2}-(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])"
SCHEMA_ELECTION_ID_PATTERN = rf"^local\.{_SLUG}\.{_SCHEMA_DATE}$"
SCHEMA_BALLOT_ID_PATTERN = rf"^local\.{_SLUG}\.{_SLUG}(?:\.by)?\.{_SCHEMA_DATE}$"


def _string(pattern: str, description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "pattern": pattern, "description": description, **extra}


class _ValidatedCharField(forms.CharField):
    """A text parameter checked by ``check(value)``, which raises ``ValidationError``."""

    def __init__(self, *args: Any, check: Any = None, **kwargs: Any) -> None:
        self.check = check
        super().__init__(*args, **kwargs)

    def clean(self, value: Any) -> Any:
        if value == "":
            # Present but empty: a mistake (an absent parameter is None and means "any").
            raise ValidationError("must not be empty (leave the parameter out to match any).", code="invalid")
        value = super().clean(value)
        if value in (None, ""):
            return value
        if self.check is not None:
            self.check(value)
        return value


class _ValidatedCharFilter(django_filters.CharFilter):
    field_class = _ValidatedCharField


def _dc_id_check(kind: str) -> Any:
    validate = ids.validate_local_election_id if kind == "election" else ids.validate_ballot_id

    def check(value: str) -> None:
        try:
            validate(value)
        except ApplicationError as exc:
            # The message quotes the client's value: passed as a parameter, never as format.
            raise ValidationError(
                "%(message)s", code="invalid_election_id", params={"message": exc.message}
            ) from None

    return check


def _pattern_check(pattern: str, what: str) -> Any:
    compiled = re.compile(pattern)

    def check(value: str) -> None:
        if not compiled.match(value):
            raise ValidationError(
                "%(value)r is not %(what)s.", code="invalid", params={"value": value, "what": what}
            )

    return check


def election_id_filter(field_name: str, *, help_text: str) -> django_filters.Filter:
    return extend_schema_field(
        _string(SCHEMA_ELECTION_ID_PATTERN, help_text, example="local.trafford.2026-05-07")
    )(_ValidatedCharFilter(field_name=field_name, check=_dc_id_check("election"), help_text=help_text))


def ballot_id_filter(field_name: str, *, help_text: str) -> django_filters.Filter:
    return extend_schema_field(
        _string(SCHEMA_BALLOT_ID_PATTERN, help_text, example="local.trafford.altrincham.2026-05-07")
    )(_ValidatedCharFilter(field_name=field_name, check=_dc_id_check("ballot"), help_text=help_text))


def id_prefix_filter(field_name: str, *, help_text: str) -> django_filters.Filter:
    return extend_schema_field(_string(ID_PREFIX_PATTERN, help_text, example="local.trafford."))(
        _ValidatedCharFilter(
            field_name=field_name,
            lookup_expr="startswith",
            help_text=help_text,
            check=_pattern_check(ID_PREFIX_PATTERN, "the start of a Democracy Club id (a-z, 0-9, '.', '-')"),
        )
    )


def slug_filter(field_name: str, *, help_text: str) -> django_filters.Filter:
    return extend_schema_field(_string(SLUG_PATTERN, help_text, example="trafford"))(
        _ValidatedCharFilter(
            field_name=field_name,
            help_text=help_text,
            check=_pattern_check(SLUG_PATTERN, "a council slug (a-z, 0-9 and single hyphens)"),
        )
    )


def gss_filter(field_name: str, *, help_text: str) -> django_filters.Filter:
    return extend_schema_field(_string(GSS_PATTERN, help_text, example="E05015239"))(
        _ValidatedCharFilter(
            field_name=field_name,
            help_text=help_text,
            check=_pattern_check(GSS_PATTERN, "a GSS code (a country letter and 8 digits)"),
        )
    )


def party_id_filter(field_name: str, *, help_text: str) -> django_filters.Filter:
    return extend_schema_field(_string(PARTY_ID_PATTERN, help_text, example="PP53"))(
        _ValidatedCharFilter(
            field_name=field_name,
            help_text=help_text,
            check=_pattern_check(PARTY_ID_PATTERN, "a party id (PP53, ynmp-party:2 or joint-party:53-119)"),
        )
    )


class _StrictBooleanField(forms.Field):
    """``true`` or ``false`` (also 1/0, True/False); anything else is refused, not ignored."""

    _VALUES: ClassVar[dict[str, bool]] = {"true": True, "false": False, "1": True, "0": False}

    def clean(self, value: Any) -> bool | None:
        if value is None:
            return None
        parsed = self._VALUES.get(str(value).strip().casefold())
        if parsed is None:
            raise ValidationError(
                "%(value)r is neither true nor false.", code="invalid", params={"value": value}
            )
        return parsed


class StrictBooleanFilter(django_filters.BooleanFilter):
    field_class = _StrictBooleanField


class _StrictDateField(forms.DateField):
    def clean(self, value: Any) -> Any:
        if value == "":
            raise ValidationError("must not be empty (leave the parameter out to match any).", code="invalid")
        return super().clean(value)


class StrictDateFilter(django_filters.DateFilter):
    """A date (YYYY-MM-DD); present but empty is refused."""

    field_class = _StrictDateField


class _StrictChoiceField(django_filters.fields.ChoiceField):
    def clean(self, value: Any) -> Any:
        if value == "":
            raise ValidationError("must not be empty (leave the parameter out to match any).", code="invalid")
        return super().clean(value)


class StrictChoiceFilter(django_filters.ChoiceFilter):
    """One of the choices; present but empty is refused."""

    field_class = _StrictChoiceField


class _SinceField(forms.CharField):
    """An RFC 3339 date-time (``2026-05-08T01:00:00Z``); a leap second is read as :59."""

    def clean(self, value: Any) -> dt.datetime | None:
        if value == "":
            raise ValidationError("must not be empty (leave the parameter out to match any).", code="invalid")
        value = super().clean(value)
        if not value:
            return None
        text = value.strip().replace("z", "Z").replace("t", "T")
        text = re.sub(r"T(\d\d):(\d\d):60", r"T\1:\2:59", text)
        # RFC 3339 allows year 0000, which Python's datetime cannot hold: it is before any data.
        text = re.sub(r"^0000-", "0001-", text)
        try:
            parsed = dt.datetime.fromisoformat(text)
        except ValueError:
            raise ValidationError(
                "%(value)r is not a date and time (e.g. 2026-05-08T01:00:00Z).",
                code="invalid",
                params={"value": value},
            ) from None
        if parsed.tzinfo is None:
            raise ValidationError(
                "%(value)r has no time zone: add Z (UTC) or an offset such as +01:00.",
                code="invalid",
                params={"value": value},
            )
        try:
            return parsed.astimezone(dt.UTC)
        except OverflowError:
            # Within a day of the calendar's ends: clamp, the comparison means the same.
            if parsed.year == 1:
                return dt.datetime(1, 1, 1, tzinfo=dt.UTC)
            return dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC)


class ModifiedSinceFilter(django_filters.Filter):
    """``modified_since=<date-time>``: changed at or after that moment."""

    field_class = _SinceField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("lookup_expr", "gte")
        super().__init__(*args, **kwargs)


def modified_since_filter(field_name: str, *, help_text: str) -> django_filters.Filter:
    return extend_schema_field({"type": "string", "format": "date-time", "description": help_text})(
        ModifiedSinceFilter(field_name=field_name, help_text=help_text)
    )


# -- FilterSets ------------------------------------------------------------------------------


def _status_filter(field_prefix: str) -> django_filters.Filter:
    """``status=<result status>``; ``none`` also matches ballots with no result row yet."""

    def apply(queryset: Any, name: str, value: str) -> Any:
        if not value:
            return queryset
        if value == ResultStatus.NO_FIGURES:
            return queryset.filter(
                Q(**{f"{field_prefix}result__isnull": True}) | Q(**{f"{field_prefix}result__status": value})
            )
        return queryset.filter(**{f"{field_prefix}result__status": value})

    return StrictChoiceFilter(
        choices=ResultStatus.choices,
        method=lambda qs, name, value: apply(qs, name, value),
        help_text="Result status: none (nothing yet), provisional, verified, disputed, retracted.",
    )


class ElectionFilter(django_filters.FilterSet):
    date = StrictDateFilter(field_name="date", help_text="Polling day (YYYY-MM-DD).")
    council = slug_filter("council__slug", help_text="Council slug, e.g. trafford.")
    election_prefix = id_prefix_filter("election_id", help_text="Election ids starting with this.")
    rehearsal = StrictBooleanFilter(field_name="rehearsal", help_text="Only rehearsal (or real) data.")

    class Meta:
        model = Election
        fields: ClassVar[list[str]] = []


class BallotFilter(django_filters.FilterSet):
    """Filters of ballots and of results (a result is a ballot's accepted figures)."""

    election = election_id_filter("election__election_id", help_text="Election id (exact).")
    election_date = StrictDateFilter(field_name="election__date", help_text="Polling day (YYYY-MM-DD).")
    council = slug_filter("election__council__slug", help_text="Council slug (exact).")
    ward_gss = gss_filter("ward__gss", help_text="Ward GSS code (exact).")
    ballot = ballot_id_filter("ballot_paper_id", help_text="Ballot id (exact).")
    ballot_prefix = id_prefix_filter("ballot_paper_id", help_text="Ballot ids starting with this.")
    status = _status_filter("")
    modified_since = modified_since_filter(
        "result__updated_at", help_text="Results changed at or after this moment (RFC 3339)."
    )
    rehearsal = StrictBooleanFilter(
        field_name="election__rehearsal", help_text="Only rehearsal (or real) data."
    )

    class Meta:
        model = Ballot
        fields: ClassVar[list[str]] = []


class CandidacyFilter(django_filters.FilterSet):
    election = election_id_filter("ballot__election__election_id", help_text="Election id (exact).")
    election_date = StrictDateFilter(
        field_name="ballot__election__date", help_text="Polling day (YYYY-MM-DD)."
    )
    council = slug_filter("ballot__election__council__slug", help_text="Council slug (exact).")
    ward_gss = gss_filter("ballot__ward__gss", help_text="Ward GSS code (exact).")
    ballot = ballot_id_filter("ballot__ballot_paper_id", help_text="Ballot id (exact).")
    ballot_prefix = id_prefix_filter("ballot__ballot_paper_id", help_text="Ballot ids starting with this.")
    party = party_id_filter("party__party_id", help_text="Party id (exact), e.g. PP53.")
    rehearsal = StrictBooleanFilter(
        field_name="ballot__election__rehearsal", help_text="Only rehearsal (or real) data."
    )

    class Meta:
        model = Candidacy
        fields: ClassVar[list[str]] = []


def filtered_dates(cleaned: dict[str, Any]) -> list[dt.date]:
    """The polling days a filtered list is confined to, if any (for its Cache-Control)."""
    if cleaned.get("election_date"):
        return [cleaned["election_date"]]
    if cleaned.get("date"):
        return [cleaned["date"]]
    for key in ("ballot", "election"):
        if cleaned.get(key):
            return [ids.parse_id(cleaned[key]).date]
    return []


def dated_policy(cleaned: dict[str, Any]) -> str:
    """The Cache-Control of a list, settled only when its filters confine it to settled
    polling days (``filtered_dates``)."""
    return policy_for_dates(filtered_dates(cleaned))
