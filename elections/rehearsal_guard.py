"""A database trigger that fixes ``Election.rehearsal`` when the election is created.

``wipe_rehearsal`` deletes everything under elections marked ``rehearsal``; if the flag
could be switched on later, a real election could be wiped with it (or switched off,
rehearsal figures passed off as real). The database refuses any change of the flag, from
the ORM, the admin or raw SQL. Installed by migration ``elections.0003``.

On SQLite, a migration that rebuilds ``elections_election`` (Django's way of altering a
table there) drops the trigger: such a migration must call ``install`` again.
"""

from __future__ import annotations

from typing import Any

TABLE = "elections_election"
TRIGGER = "elections_election_rehearsal_fixed"
MESSAGE = "elections_election.rehearsal is fixed when the election is created"


def install(connection: Any) -> None:
    """Create the trigger (idempotent)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"""
                CREATE OR REPLACE FUNCTION {TRIGGER}() RETURNS trigger AS $$
                BEGIN
                    IF NEW.rehearsal IS DISTINCT FROM OLD.rehearsal THEN
                        RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'integrity_constraint_violation';
                    END IF;
                    RETURN NEW;
                END;
                $$ LANGUAGE plpgsql;
                """
            )
            cursor.execute(
                f"CREATE OR REPLACE TRIGGER {TRIGGER} BEFORE UPDATE OF rehearsal ON {TABLE} "
                f"FOR EACH ROW EXECUTE FUNCTION {TRIGGER}();"
            )
        elif connection.vendor == "sqlite":
            cursor.execute(
                f"CREATE TRIGGER IF NOT EXISTS {TRIGGER} BEFORE UPDATE OF rehearsal ON {TABLE} "
                f"WHEN NEW.rehearsal IS NOT OLD.rehearsal "
                f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END;"
            )


def uninstall(connection: Any) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"DROP TRIGGER IF EXISTS {TRIGGER} ON {TABLE};")
            cursor.execute(f"DROP FUNCTION IF EXISTS {TRIGGER}();")
        elif connection.vendor == "sqlite":
            cursor.execute(f"DROP TRIGGER IF EXISTS {TRIGGER};")
