"""The figures of one declared result, as keyed or imported: the input of ``submit_result``.

Plain frozen dataclasses so the form, the API, importers and replay build the same thing.
``canonical()`` is the comparison form: two keyings are identical when it is identical.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import orjson

REJECTED_HEADINGS: tuple[str, ...] = (
    "official_mark",  # want of an official mark
    "multiple_vote",  # voting for more candidates than entitled to
    "identification",  # writing or mark by which the voter could be identified
    "in_part",  # rejected in part (multi-member wards)
    "unmarked",  # unmarked or void for uncertainty
)


@dataclass(frozen=True)
class CandidateFigures:
    """One candidate's votes. ``votes`` is None only for an uncontested ballot.

    ``elected`` is what the source says (imports, STV keying); for FPTP the platform derives
    the winners itself and refuses figures whose stated winners disagree with the votes.
    """

    candidacy_id: int
    votes: int | None
    won_by_lot: bool = False
    elected: bool | None = None


@dataclass(frozen=True)
class StvStageFigures:
    """Running totals (and optionally transfers) of every candidate after one stage."""

    number: int
    totals: dict[int, Decimal]
    transfers: dict[int, Decimal] = field(default_factory=dict)
    non_transferable: Decimal | None = None


@dataclass(frozen=True)
class ResultFigures:
    candidates: tuple[CandidateFigures, ...]
    electorate: int | None = None
    ballot_papers_issued: int | None = None
    ballot_papers_counted: int | None = None
    valid_papers: int | None = None
    rejected_total: int | None = None
    rejected: dict[str, int | None] = field(default_factory=dict)
    turnout_pct: Decimal | None = None
    declared_at: dt.datetime | None = None
    stv_quota: int | None = None
    stv_valid_poll: int | None = None
    stv_stages: tuple[StvStageFigures, ...] = ()

    def votes_by_candidacy(self) -> dict[int, int | None]:
        return {c.candidacy_id: c.votes for c in self.candidates}

    @property
    def rejected_sum(self) -> int | None:
        """The rejected total: as given, else the sum of the headings given."""
        if self.rejected_total is not None:
            return self.rejected_total
        given = [v for v in self.rejected.values() if v is not None]
        return sum(given) if given else None

    @property
    def effective_valid_papers(self) -> int | None:
        """Valid papers as given, else counted minus rejected when both are known."""
        if self.valid_papers is not None:
            return self.valid_papers
        rejected = self.rejected_sum
        if self.ballot_papers_counted is not None and rejected is not None:
            return self.ballot_papers_counted - rejected
        return None

    def canonical(self) -> dict[str, Any]:
        """Order-independent, JSON-safe form of the figures (declaration time excluded: two
        correspondents keying the same declaration note slightly different times)."""
        return {
            "candidates": sorted(
                (
                    {
                        "candidacy_id": c.candidacy_id,
                        "votes": c.votes,
                        "won_by_lot": c.won_by_lot,
                        **({"elected": c.elected} if c.elected is not None else {}),
                    }
                    for c in self.candidates
                ),
                key=lambda c: c["candidacy_id"],
            ),
            "electorate": self.electorate,
            "ballot_papers_issued": self.ballot_papers_issued,
            "ballot_papers_counted": self.ballot_papers_counted,
            "valid_papers": self.valid_papers,
            "rejected_total": self.rejected_total,
            "rejected": {k: self.rejected.get(k) for k in REJECTED_HEADINGS},
            "turnout_pct": _dec(self.turnout_pct),
            "stv": None
            if self.stv_quota is None and not self.stv_stages
            else {
                "quota": self.stv_quota,
                "valid_poll": self.stv_valid_poll,
                "stages": [
                    {
                        "number": s.number,
                        "totals": {str(k): _dec(v) for k, v in sorted(s.totals.items())},
                        "transfers": {str(k): _dec(v) for k, v in sorted(s.transfers.items())},
                        "non_transferable": _dec(s.non_transferable),
                    }
                    for s in sorted(self.stv_stages, key=lambda s: s.number)
                ],
            },
        }

    def fingerprint(self) -> str:
        return hashlib.sha256(
            orjson.dumps(self.canonical(), option=orjson.OPT_SORT_KEYS)
        ).hexdigest()

    @classmethod
    def from_canonical(cls, data: dict[str, Any]) -> ResultFigures:
        """Rebuild figures from a stored ``Submission.figures``."""
        stv = data.get("stv") or {}
        return cls(
            candidates=tuple(
                CandidateFigures(
                    candidacy_id=c["candidacy_id"], votes=c["votes"],
                    won_by_lot=c.get("won_by_lot", False), elected=c.get("elected"),
                )
                for c in data["candidates"]
            ),
            electorate=data.get("electorate"),
            ballot_papers_issued=data.get("ballot_papers_issued"),
            ballot_papers_counted=data.get("ballot_papers_counted"),
            valid_papers=data.get("valid_papers"),
            rejected_total=data.get("rejected_total"),
            rejected=dict(data.get("rejected") or {}),
            turnout_pct=_undec(data.get("turnout_pct")),
            stv_quota=stv.get("quota"),
            stv_valid_poll=stv.get("valid_poll"),
            stv_stages=tuple(
                StvStageFigures(
                    number=s["number"],
                    totals={int(k): Decimal(v) for k, v in s["totals"].items()},
                    transfers={int(k): Decimal(v) for k, v in s["transfers"].items()},
                    non_transferable=_undec(s.get("non_transferable")),
                )
                for s in stv.get("stages", [])
            ),
        )


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else format(value.normalize(), "f")


def _undec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)
