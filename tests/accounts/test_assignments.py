"""Assignments: the CSV command, the services behind it and what each role may touch."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from accounts import permissions
from accounts.models import Assignment, Role
from accounts.services import assign_role, create_integration_token, find_integration_token
from config.errors import ApplicationError
from tests.factories.councils import make_council
from tests.factories.keying import make_admin, make_keying_ballot, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def councils():
    trafford = make_council(name="Trafford", slug="trafford")
    barnsley = make_council(name="Barnsley", slug="barnsley")
    return {
        "trafford": make_keying_ballot(council=trafford),
        "barnsley": make_keying_ballot(council=barnsley),
    }


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "assignments.csv"
    path.write_text(text, encoding="utf-8")
    return path


def run(path: Path, *args: str) -> str:
    out = StringIO()
    call_command("import_assignments", str(path), *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_csv_assigns_correspondents_and_reviewers(tmp_path, councils):
    make_user("x", email="Ann@Example.org")
    path = write(
        tmp_path,
        (
            "email,council,date,role\n"
            "ann@example.org,trafford,2026-05-07,correspondent\n"
            "ann@example.org,Barnsley,2026-05-07,\n"
            "rev@example.org,trafford,,reviewer\n"
            "chief@example.org,,,reviewer\n"
        ),
    )
    with pytest.raises(CommandError) as exc:
        run(path)
    assert "row 4, field 'email'" in str(exc.value) and not Assignment.objects.exists()
    assert "created 4" in run(path, "--create-users")
    ann = get_user_model().objects.get(email__iexact="ann@example.org")
    assert {a.election.election_id for a in Assignment.objects.filter(user=ann)} == {
        "local.trafford.2026-05-07",
        "local.barnsley.2026-05-07",
    }
    assert permissions.can_key(ann, councils["trafford"]) and permissions.can_key(ann, councils["barnsley"])
    reviewer = get_user_model().objects.get(email="rev@example.org")
    assert not reviewer.has_usable_password()
    assert permissions.can_review(reviewer, councils["trafford"])
    assert not permissions.can_review(reviewer, councils["barnsley"])
    assert not permissions.can_key(reviewer, councils["trafford"])
    chief = get_user_model().objects.get(email="chief@example.org")
    assert permissions.can_review(chief, councils["barnsley"])
    assert "created 0, unchanged 4" in run(path)  # running it again changes nothing


def test_a_bad_file_is_refused_whole_naming_each_row(tmp_path, councils):
    path = write(
        tmp_path,
        (
            "Email,Council,Date,Role\n"
            "a@example.org,trafford,2026-05-07,correspondent\n"
            "b@example.org,nowhere,2026-05-07,correspondent\n"
            "c@example.org,trafford,2025-01-01,correspondent\n"
            "d@example.org,trafford,,correspondent\n"
            "e@example.org,trafford,07/05/2026,correspondent\n"
            "not-an-email,trafford,2026-05-07,\n"
            "f@example.org,trafford,2026-05-07,admin\n"
        ),
    )
    with pytest.raises(CommandError) as exc:
        run(path, "--create-users")
    message = str(exc.value)
    for line, field in ((3, "council"), (4, "date"), (5, "date"), (6, "date"), (7, "email"), (8, "role")):
        assert f"row {line}, field '{field}'" in message
    assert "row 2," not in message
    assert not Assignment.objects.exists() and not get_user_model().objects.exists()


def test_missing_columns_and_dry_run(tmp_path, councils):
    with pytest.raises(CommandError, match="missing column"):
        run(write(tmp_path, "email,date\na@example.org,2026-05-07\n"))
    path = write(tmp_path, "email,council,date\na@example.org,trafford,2026-05-07\n")
    assert "dry run: would have assignments created 1" in run(path, "--create-users", "--dry-run")
    assert not Assignment.objects.exists() and not get_user_model().objects.exists()


def test_assignment_rules_are_enforced(councils):
    user = make_user()
    trafford = councils["trafford"].election
    with pytest.raises(ApplicationError):
        assign_role(user=user, role=Role.CORRESPONDENT, council=trafford.council)  # no election
    with pytest.raises(ApplicationError):
        assign_role(
            user=user,
            role=Role.CORRESPONDENT,
            council=councils["barnsley"].election.council,
            election=trafford,
        )
    with pytest.raises(ApplicationError):
        assign_role(user=user, role="superhero", council=None)
    assert assign_role(user=user, role=Role.REVIEWER, council=None)[1] == "created"
    assert assign_role(user=user, role=Role.REVIEWER, council=None)[1] == "unchanged"


def test_per_election_scope_of_a_correspondent(councils):
    trafford = councils["trafford"]
    later = make_keying_ballot(
        council=trafford.election.council, date=trafford.election.date.replace(year=2027)
    )
    user = make_user()
    assign_role(
        user=user, role=Role.CORRESPONDENT, council=trafford.election.council, election=trafford.election
    )
    assert permissions.can_key(user, trafford) and not permissions.can_key(user, later)
    assert list(permissions.keyable_ballots(user)) == [trafford]


def test_administrators_and_inactive_users():
    ballot = make_keying_ballot()
    admin = make_admin()
    assert permissions.can_key(admin, ballot) and permissions.can_review(admin, ballot)
    admin.is_active = False
    assert not permissions.can_key(admin, ballot)


def test_integration_tokens_are_stored_hashed():
    user = make_user()
    token, key = create_integration_token(user=user, name="Council feed")
    assert key not in token.key_hash and token.prefix == key[:8]
    assert find_integration_token(key) == token
    assert find_integration_token(key + "x") is None
    out = StringIO()
    call_command("accounts_create_token", user.email, "Second feed", stdout=out)
    printed = out.getvalue().rsplit(": ", 1)[1].strip()
    assert find_integration_token(printed).name == "Second feed"
