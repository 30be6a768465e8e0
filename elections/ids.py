"""Democracy Club election and ballot ids: the only place that parses or builds them.

Wraps uk-election-ids (``validate``, ``IdBuilder``, ``VotingSystemMatcher``). Nothing else in
the platform splits an id on dots.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from uk_election_ids.election_ids import IdBuilder
from uk_election_ids.election_ids import validate as _validate
from uk_election_ids.metadata_tools import VotingSystemMatcher
from uk_election_ids.slugger import slugify as _slugify

from config.errors import ApplicationError


class InvalidElectionId(ApplicationError):
    def __init__(self, value: str, reason: str, *, field: str = "election_id") -> None:
        super().__init__(
            f"{value!r} is not a valid Democracy Club id: {reason}",
            code="invalid_election_id",
            field=field,
        )


@dataclass(frozen=True)
class ParsedId:
    election_type: str
    organisation: str | None
    division: str | None
    by_election: bool
    date: dt.date

    @property
    def election_id(self) -> str:
        """The organisation-level id (``local.trafford.2024-05-02``)."""
        return build_election_id(self.organisation or "", self.date)


def slugify(value: str) -> str:
    """Slug as Democracy Club makes them (``Bowdon & Hale`` → ``bowdon-hale``)."""
    return _slugify(value)


def _builder(value: str, field: str) -> IdBuilder:
    if not isinstance(value, str):
        raise InvalidElectionId(repr(value), "it is not text", field=field)
    if not value:
        raise InvalidElectionId(value, "it is empty", field=field)
    if not _validate(value):
        raise InvalidElectionId(value, "it does not follow the id grammar", field=field)
    try:
        return IdBuilder.from_id(value)
    except (ValueError, KeyError, IndexError) as exc:
        raise InvalidElectionId(value, str(exc), field=field) from exc


def parse_id(value: str, *, field: str = "election_id") -> ParsedId:
    """Parse an election or ballot id; raises ``InvalidElectionId`` naming ``field``."""
    builder = _builder(value, field)
    return ParsedId(
        election_type=builder.election_type,
        organisation=builder.organisation,
        division=builder.division,
        by_election=builder.contest_type == "by",
        date=dt.date.fromisoformat(builder._format_date(builder.date)),
    )


def _require_canonical(value: str, canonical: str, field: str) -> None:
    # uk-election-ids parses some non-canonical spellings (an unpadded date such as
    # 2026-5-7, "by" in an organisation-level id); stored as given they would never match
    # the ids other sources use, so only the canonical spelling is accepted.
    if value != canonical:
        raise InvalidElectionId(value, f"its canonical form is {canonical}", field=field)


def validate_local_election_id(value: str, *, field: str = "election_id") -> ParsedId:
    """An organisation-level local election id, e.g. ``local.trafford.2024-05-02``."""
    parsed = parse_id(value, field=field)
    if parsed.election_type != "local" or not parsed.organisation or parsed.division:
        raise InvalidElectionId(value, "expected local.<council>.<date>", field=field)
    _require_canonical(value, build_election_id(parsed.organisation, parsed.date), field)
    return parsed


def validate_ballot_id(value: str, *, field: str = "ballot_paper_id") -> ParsedId:
    """A local ballot id, e.g. ``local.trafford.altrincham.2024-05-02`` or ``….by.…``."""
    parsed = parse_id(value, field=field)
    if parsed.election_type != "local" or not parsed.organisation or not parsed.division:
        raise InvalidElectionId(value, "expected local.<council>.<ward>[.by].<date>", field=field)
    _require_canonical(
        value,
        build_ballot_id(parsed.organisation, parsed.division, parsed.date, by_election=parsed.by_election),
        field,
    )
    return parsed


def _as_builder(organisation: str, date: dt.date | str) -> IdBuilder:
    if not organisation:
        raise InvalidElectionId(f"local..{date}", "the organisation is empty")
    try:
        return IdBuilder("local", date).with_organisation(organisation)
    except ValueError as exc:
        raise InvalidElectionId(f"local.{organisation}.{date}", str(exc)) from exc


def build_election_id(organisation: str, date: dt.date | str) -> str:
    try:
        return _as_builder(organisation, date).organisation_group_id
    except ValueError as exc:
        raise InvalidElectionId(f"local.{organisation}.{date}", str(exc)) from exc


def build_ballot_id(
    organisation: str, division: str, date: dt.date | str, *, by_election: bool = False
) -> str:
    builder = _as_builder(organisation, date)
    try:
        builder = builder.with_division(division)
        if by_election:
            builder = builder.with_contest_type("by")
        return builder.ballot_id
    except ValueError as exc:
        raise InvalidElectionId(
            f"local.{organisation}.{division}.{date}", str(exc), field="ballot_paper_id"
        ) from exc


def default_voting_system(election_id: str, nation: str) -> str:
    """The counting method uk-election-ids records for this id and nation (FPTP or STV)."""
    return VotingSystemMatcher(election_id, nation=nation).get_voting_system()
