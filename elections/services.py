"""The write path for elections, ballots, parties and candidacies.

Every importer and admin action goes through these functions. Each ``upsert_*`` returns the
object and an outcome (``created`` / ``updated`` / ``unchanged``) so importers can report, and
re-running an import changes nothing. Ids are validated through ``elections.ids``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models

from config.errors import ApplicationError
from councils.models import Council, Ward

from . import ids
from .models import INDEPENDENT_PARTY_ID, Ballot, Candidacy, Election, Party, VotingSystem

Outcome = Literal["created", "updated", "unchanged"]
M = TypeVar("M", bound=models.Model)

_PARTY_ID_LEGACY_PREFIX = "party:"
# The same grammar as the ``party_id_format`` database constraint on Party: checked here so a
# malformed id is refused with its field named instead of failing at save time.
_PARTY_ID_RE = re.compile(r"^(PP[0-9]+|ynmp-party:[0-9]+|joint-party:[0-9]+(-[0-9]+)+)$")
_COLOUR_RE = re.compile(r"#[0-9A-F]{6}")


def normalise_party_id(raw: str | None, *, field: str = "party_id") -> str | None:
    """Canonical party id, or None for "no party" (an independent).

    Accepts ``PP52``, ``52``, Democracy Club's legacy ``party:52``, an Electoral Commission
    register URL ending ``/PP52``, and the pseudo-ids ``ynmp-party:2`` / ``joint-party:53-119``.
    Raises ``ApplicationError`` naming ``field`` for anything else.
    """
    if raw is None:
        return None
    value = raw.strip()
    if not value:
        return None
    if "/" in value:
        value = value.rstrip("/").rsplit("/", 1)[-1]
    if value.startswith(_PARTY_ID_LEGACY_PREFIX):
        value = "PP" + value[len(_PARTY_ID_LEGACY_PREFIX):]
    elif value.isdigit():
        value = "PP" + value
    elif value.upper().startswith("PP") and value[2:].isdigit():
        value = value.upper()
    if not _PARTY_ID_RE.fullmatch(value):
        raise ApplicationError(
            f"{raw!r} is not a party id (expected PP52, party:52, ynmp-party:2 or joint-party:53-119)",
            code="invalid_party_id", field=field,
        )
    return value


def _save_changes(obj: M, values: dict[str, Any]) -> Outcome:
    """Apply ``values`` to an existing object; save only if something differs."""
    changed = [name for name, value in values.items() if getattr(obj, name) != value]
    if not changed:
        return "unchanged"
    for name in changed:
        setattr(obj, name, values[name])
    _full_clean(obj)
    obj.save(update_fields=changed)
    return "updated"


def _full_clean(obj: models.Model) -> None:
    try:
        obj.full_clean()
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        if field == NON_FIELD_ERRORS:
            # A multi-field constraint (e.g. one ballot per ward and kind) names no one field.
            raise ApplicationError(
                f"{type(obj).__name__}: {' '.join(messages)}", code="invalid"
            ) from exc
        raise ApplicationError(
            f"{type(obj).__name__} {field}: {' '.join(messages)}", code="invalid", field=field
        ) from exc


def _create(model: type[M], values: dict[str, Any]) -> M:
    obj = model(**values)
    _full_clean(obj)
    obj.save()
    return obj


def canonical_ballot_id(parsed: ids.ParsedId) -> str:
    """The ballot id as uk-election-ids builds it from its parts."""
    return ids.build_ballot_id(
        parsed.organisation or "", parsed.division or "", parsed.date, by_election=parsed.by_election
    )


def upsert_party(
    *, party_id: str, name: str, short_name: str | None = None, colour: str | None = None,
    overwrite_name: bool = True,
) -> tuple[Party, Outcome]:
    """Create or update a party by its id. ``None`` leaves a field as it is.

    ``overwrite_name=False`` keeps a name already stored (used by results files, whose party
    labels vary from the register's).
    """
    normalised = normalise_party_id(party_id)
    if normalised is None:
        raise ApplicationError("a party needs an id", code="invalid_party_id", field="party_id")
    party_id = normalised
    if not name or not name.strip():
        raise ApplicationError(f"party {party_id} has no name", code="invalid", field="name")
    values: dict[str, Any] = {"name": name.strip()}
    if short_name is not None:
        values["short_name"] = short_name.strip()
    if colour is not None:
        colour = colour.strip().upper()
        # Checked here as well as by the party_colour_format constraint, whose violation
        # would not name the field.
        if colour and not _COLOUR_RE.fullmatch(colour):
            raise ApplicationError(
                f"party {party_id}: {colour!r} is not a colour (expected #RRGGBB)",
                code="invalid", field="colour",
            )
        values["colour"] = colour
    existing = Party.objects.filter(party_id=party_id).first()
    if existing is None:
        return _create(Party, {"party_id": party_id, **values}), "created"
    if not overwrite_name:
        values.pop("name")
    return existing, _save_changes(existing, values)


def get_independent_party() -> Party:
    """Democracy Club's pseudo-party for independent candidates (created on first use)."""
    party, _ = upsert_party(party_id=INDEPENDENT_PARTY_ID, name="Independent",
                            short_name=None, colour=None, overwrite_name=False)
    return party


def upsert_election(
    *, election_id: str, council: Council, title: str | None = None, rehearsal: bool = False
) -> tuple[Election, Outcome]:
    """An organisation-level local election (``local.trafford.2024-05-02``).

    ``rehearsal`` marks generated or replayed elections. It is fixed when the election is
    created (a database trigger refuses changing it): asking for a rehearsal election where
    a real one is stored, or the reverse, raises ``ApplicationError`` (code
    ``rehearsal_mismatch``), so rehearsal and real results never mix.
    """
    parsed = ids.validate_local_election_id(election_id)
    if parsed.organisation != council.slug:
        raise ApplicationError(
            f"election {election_id} names organisation {parsed.organisation!r}, "
            f"but the council's slug is {council.slug!r}",
            code="council_mismatch", field="election_id",
        )
    values: dict[str, Any] = {"date": parsed.date, "council": council}
    if title:
        values["title"] = title
    existing = Election.objects.filter(election_id=election_id).first()
    if existing is None:
        # ``%-d`` is glibc-only; the day is formatted by hand so titles are the same everywhere.
        values.setdefault(
            "title", f"{council.name} local election {parsed.date.day} {parsed.date:%B %Y}"
        )
        return _create(Election, {"election_id": election_id, "rehearsal": rehearsal, **values}), "created"
    if existing.rehearsal != rehearsal:
        raise ApplicationError(
            f"{election_id} is stored as {'a rehearsal' if existing.rehearsal else 'a real election'}: "
            f"{'real' if existing.rehearsal else 'rehearsal'} data cannot be added to it",
            code="rehearsal_mismatch", field="rehearsal",
        )
    return existing, _save_changes(existing, values)


def _ballot_values(
    *, ballot_paper_id: str, election: Election, ward: Ward, seats_contested: int, voting_system: str | None
) -> dict[str, Any]:
    """The checked fields of a ballot (everything but the clash with another ballot)."""
    parsed = ids.validate_ballot_id(ballot_paper_id)
    if parsed.election_id != election.election_id:
        raise ApplicationError(
            f"ballot {ballot_paper_id} does not belong to election {election.election_id}",
            code="election_mismatch", field="ballot_paper_id",
        )
    if ward.boundary_set.council_id != election.council_id:
        raise ApplicationError(
            f"ward {ward.name} is not a ward of {election.council.name}",
            code="council_mismatch", field="ward",
        )
    if seats_contested < 1:
        raise ApplicationError(
            f"seats contested must be at least 1, not {seats_contested}",
            code="invalid", field="seats_contested",
        )
    if voting_system is None:
        voting_system = ids.default_voting_system(
            election.election_id, election.council.nation
        )
    if voting_system not in VotingSystem.values:
        raise ApplicationError(
            f"voting system {voting_system!r} is not one of {', '.join(VotingSystem.values)}",
            code="invalid", field="voting_system",
        )
    return {
        "election": election,
        "ward": ward,
        "seats_contested": seats_contested,
        "voting_system": voting_system,
        "by_election": parsed.by_election,
    }


def _duplicate_ballot(ward: Ward, by_election: bool, other_id: str, election: Election) -> ApplicationError:
    # Two ids for one ward usually mean a GSS code pointing at the wrong ward.
    return ApplicationError(
        f"ward {ward.name} already has the {'by-election ' if by_election else ''}"
        f"ballot {other_id} in {election.election_id}",
        code="duplicate_ballot", field="ward",
    )


def upsert_ballot(
    *,
    ballot_paper_id: str,
    election: Election,
    ward: Ward,
    seats_contested: int,
    voting_system: str | None = None,
    cancelled: bool | None = None,
    uncontested: bool | None = None,
) -> tuple[Ballot, Outcome]:
    """A ward's contest. The by-election flag comes from the id; the voting system defaults to
    uk-election-ids' default for the council's nation (STV in Scotland and Northern Ireland)."""
    values = _ballot_values(
        ballot_paper_id=ballot_paper_id, election=election, ward=ward,
        seats_contested=seats_contested, voting_system=voting_system,
    )
    clash = (
        Ballot.objects.filter(election=election, ward=ward, by_election=values["by_election"])
        .exclude(ballot_paper_id=ballot_paper_id)
        .first()
    )
    if clash is not None:
        raise _duplicate_ballot(ward, values["by_election"], clash.ballot_paper_id, election)
    if cancelled is not None:
        values["cancelled"] = cancelled
    if uncontested is not None:
        values["uncontested"] = uncontested
    existing = Ballot.objects.filter(ballot_paper_id=ballot_paper_id).first()
    if existing is None:
        return _create(Ballot, {"ballot_paper_id": ballot_paper_id, **values}), "created"
    return existing, _save_changes(existing, values)


@dataclass(frozen=True)
class NewBallot:
    """A ballot for ``create_ballots``; fields as ``upsert_ballot`` takes them."""

    ballot_paper_id: str
    ward: Ward
    seats_contested: int
    voting_system: str | None = None
    uncontested: bool = False


def create_ballots(*, election: Election, ballots: Sequence[NewBallot]) -> list[Ballot]:
    """New ballots of ``election``, each checked as ``upsert_ballot`` checks it, in one
    statement; returns them in the order given.

    For bulk loads (a generated rehearsal night). Raises ``ApplicationError`` naming the
    field, and stores nothing, when any is invalid, when an id is already stored, or when a
    ward would have two ordinary (or two by-election) ballots in the election.
    """
    rows: list[Ballot] = []
    taken = {
        (ward_id, by): ballot_id
        for ward_id, by, ballot_id in Ballot.objects.filter(election=election).values_list(
            "ward_id", "by_election", "ballot_paper_id"
        )
    }
    stored = set(
        Ballot.objects.filter(ballot_paper_id__in=[b.ballot_paper_id for b in ballots]).values_list(
            "ballot_paper_id", flat=True
        )
    )
    for new in ballots:
        if new.ballot_paper_id in stored:
            raise ApplicationError(
                f"ballot {new.ballot_paper_id} is already stored", code="duplicate_ballot",
                field="ballot_paper_id",
            )
        values = _ballot_values(
            ballot_paper_id=new.ballot_paper_id, election=election, ward=new.ward,
            seats_contested=new.seats_contested, voting_system=new.voting_system,
        )
        key = (new.ward.pk, values["by_election"])
        if key in taken:
            raise _duplicate_ballot(new.ward, values["by_election"], taken[key], election)
        taken[key] = new.ballot_paper_id
        rows.append(Ballot(ballot_paper_id=new.ballot_paper_id, uncontested=new.uncontested, **values))
    return Ballot.objects.bulk_create(rows)


def upsert_candidacy(
    *,
    ballot: Ballot,
    person_name: str,
    party: Party,
    person_id: str = "",
    description: str | None = None,
) -> tuple[Candidacy, Outcome]:
    """A candidacy on a ballot, matched by Democracy Club person id when both sides have one,
    otherwise by name and party.

    A stored candidacy carrying a different person id is never taken over by a name match:
    two people of the same name are two candidacies (and the database refuses the second if
    they also share the party).
    """
    person_name = " ".join(person_name.split())
    if not person_name:
        raise ApplicationError("a candidate has no name", code="invalid", field="person_name")
    person_id = (person_id or "").strip()
    existing = None
    if person_id:
        existing = Candidacy.objects.filter(ballot=ballot, person_id=person_id).first()
    if existing is None:
        by_name = Candidacy.objects.filter(
            ballot=ballot, person_name__iexact=person_name, party=party
        )
        if person_id:
            by_name = by_name.filter(person_id__in=["", person_id])
        existing = by_name.first()
    variant = False
    if existing is None:
        existing = _spelling_variant(ballot, person_name, party, person_id)
        variant = existing is not None
    values: dict[str, Any] = {"person_name": person_name, "party": party}
    if person_id:
        values["person_id"] = person_id
    if description is not None and (existing is None or not existing.description):
        # The first description stored stays: sources word the same ballot-paper line
        # differently ("The Conservative Party Candidate" / "Conservative Party Candidate"),
        # and letting each overwrite the other would make every re-import a change.
        values["description"] = description.strip()
    if existing is None:
        return _create(Candidacy, {"ballot": ballot, **values}), "created"
    if variant or existing.person_name.casefold() == person_name.casefold():
        # Case and spelling differences between sources: the first spelling stored wins.
        values["person_name"] = existing.person_name
    return existing, _save_changes(existing, values)


def create_candidacies(
    *, ballot: Ballot, candidacies: Sequence[tuple[str, Party, str]]
) -> list[Candidacy]:
    """Every candidacy of a ballot that has none yet, as (person name, party, description),
    in one statement; returns them in the order given.

    For bulk loads of new ballots (a generated rehearsal night), where the matching that
    ``upsert_candidacy`` does would find nothing at the cost of several queries each.
    Raises ``ApplicationError`` naming the field for an empty name, the same name and party
    twice, or a ballot that already has candidacies (use ``upsert_candidacy`` there).
    """
    if Candidacy.objects.filter(ballot=ballot).exists():
        raise ApplicationError(
            f"ballot {ballot.ballot_paper_id} already has candidacies: add them one by one",
            code="candidacies_exist", field="candidacies",
        )
    rows, seen = [], set()
    for person_name, party, description in candidacies:
        name = " ".join(person_name.split())
        if not name:
            raise ApplicationError("a candidate has no name", code="invalid", field="person_name")
        if (name.casefold(), party.pk) in seen:
            raise ApplicationError(
                f"{name} ({party.name}) is given twice on {ballot.ballot_paper_id}",
                code="duplicate_candidacy", field="person_name",
            )
        seen.add((name.casefold(), party.pk))
        rows.append(Candidacy(ballot=ballot, person_name=name, party=party, description=description.strip()))
    return Candidacy.objects.bulk_create(rows)


def _name_key(name: str) -> str:
    return " ".join(name.casefold().split())


def _edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (small strings: names)."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


# Names this close are one person spelt two ways ("Aiden"/"Aidan"); relatives standing
# together differ by far more ("John Richard Reilly"/"June Irene Reilly").
_SPELLING_VARIANT_MAX_EDITS = 2


def _spelling_variant(ballot: Ballot, person_name: str, party: Party, person_id: str) -> Candidacy | None:
    """The one candidacy on the ballot for the same party, with the same surname and a name
    at most two letters different, when there is exactly one: sources spell forenames
    differently (Trafford's "Aiden" is Democracy Club's "Aidan"). Never across different
    person ids."""
    key = _name_key(person_name)
    surname = key.rsplit(" ", 1)[-1]
    matches = [
        c for c in Candidacy.objects.filter(ballot=ballot, party=party)
        if _name_key(c.person_name).rsplit(" ", 1)[-1] == surname
        and _edit_distance(_name_key(c.person_name), key) <= _SPELLING_VARIANT_MAX_EDITS
        and (not person_id or c.person_id in ("", person_id))
    ]
    return matches[0] if len(matches) == 1 else None


def prune_candidacies(*, ballot: Ballot, keep: Iterable[Candidacy]) -> int:
    """Delete the ballot's candidacies that are not in ``keep``; return how many went.

    Used by importers whose source lists every candidate of a ballot (a candidate withdrawn
    before nominations closed disappears from Democracy Club's list). A candidacy that
    already has figures recorded against it is protected by the results tables: that
    raises ``ApplicationError`` and nothing is deleted.
    """
    stale = Candidacy.objects.filter(ballot=ballot).exclude(pk__in=[c.pk for c in keep])
    names = sorted(c.person_name for c in stale)
    if not names:
        return 0
    try:
        stale.delete()
    except models.ProtectedError as exc:
        raise ApplicationError(
            f"ballot {ballot.ballot_paper_id}: {', '.join(names)} no longer stand(s), but "
            "results are recorded for them; correct the result before removing a candidate",
            code="candidacy_has_results", field="candidacies",
        ) from exc
    return len(names)


def record_ward_seats(*, ward: Ward, seats: int) -> Outcome:
    """Record how many councillors a ward elects (learnt from an all-out election), and keep
    the council's total in step with its current wards."""
    if ward.seats == seats:
        return "unchanged"
    ward.seats = seats
    ward.save(update_fields=["seats"])
    council = ward.boundary_set.council
    if ward.boundary_set.valid_to is None:
        total = (
            Ward.objects.filter(boundary_set=ward.boundary_set).aggregate(n=models.Sum("seats"))["n"]
            or 0
        )
        if council.total_seats != total:
            council.total_seats = total
            council.save(update_fields=["total_seats"])
    return "updated"


def election_date_of(election_id: str) -> dt.date:
    return ids.validate_local_election_id(election_id).date
