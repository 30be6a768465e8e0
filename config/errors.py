"""The error type every service and importer raises for a user's mistake.

Each carries a stable machine-readable ``code``, the ``field`` it concerns (when one does)
and a message a person can act on. Views map it to a 400/409; commands to ``CommandError``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class ApplicationError(Exception):
    """A refused request. ``problems`` lists every failure found, not only the first."""

    status_code = 400

    def __init__(
        self,
        message: str,
        *,
        code: str = "invalid",
        field: str | None = None,
        problems: list[Problem] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.field = field
        self.problems = problems or []
        self.extra = extra or {}

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field:
            body["field"] = self.field
        if self.problems:
            body["problems"] = [p.as_dict() for p in self.problems]
        body.update(self.extra)
        return body


class ConflictError(ApplicationError):
    """The state changed since the caller looked (a stale version)."""

    status_code = 409


@dataclass(frozen=True)
class Problem:
    """One failed check: ``severity`` is ``error`` (refused) or ``warning`` (needs confirming)."""

    code: str
    field: str
    message: str
    severity: str = "error"
    numbers: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "field": self.field,
            "message": self.message,
            "severity": self.severity,
            "numbers": self.numbers,
        }
