"""Database triggers that make submissions and result events append-only.

PostgreSQL gets a trigger function raising an exception on UPDATE, DELETE and TRUNCATE;
SQLite (the embedded default) gets triggers calling RAISE(ABORT). The ORM, the admin and
raw SQL are all refused. Installed by migration ``results.0002``; the test suite lifts them
around the table flush of transactional tests only (``tests/conftest.py``), and
``wipe_rehearsal`` inside its own transaction only (``deletes_allowed_in_this_transaction``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

APPEND_ONLY_TABLES = ("results_submission", "results_resultevent")


def install(connection: Any) -> None:
    """Create the triggers (idempotent)."""
    with connection.cursor() as cursor:
        for table in APPEND_ONLY_TABLES:
            if connection.vendor == "postgresql":
                # The body's % is PL/pgSQL's placeholder: no parameters, so the driver leaves it.
                cursor.execute(
                    f"""
                    CREATE OR REPLACE FUNCTION {table}_append_only() RETURNS trigger AS $$
                    BEGIN
                        RAISE EXCEPTION '{table} is append-only: % refused', TG_OP
                            USING ERRCODE = 'integrity_constraint_violation';
                    END;
                    $$ LANGUAGE plpgsql;
                    """
                )
                cursor.execute(
                    f"CREATE OR REPLACE TRIGGER {table}_no_update_delete BEFORE UPDATE OR DELETE "
                    f"ON {table} FOR EACH ROW EXECUTE FUNCTION {table}_append_only();"
                )
                cursor.execute(
                    f"CREATE OR REPLACE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                    f"FOR EACH STATEMENT EXECUTE FUNCTION {table}_append_only();"
                )
            elif connection.vendor == "sqlite":
                for op in ("UPDATE", "DELETE"):
                    cursor.execute(
                        f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON {table} "
                        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {op} refused'); END;"
                    )


def uninstall(connection: Any) -> None:
    """Drop the triggers (for reversing the migration and for test-database flushes)."""
    with connection.cursor() as cursor:
        for table in APPEND_ONLY_TABLES:
            if connection.vendor == "postgresql":
                cursor.execute(f"DROP TRIGGER IF EXISTS {table}_no_update_delete ON {table};")
                cursor.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table};")
                cursor.execute(f"DROP FUNCTION IF EXISTS {table}_append_only();")
            elif connection.vendor == "sqlite":
                for op in ("update", "delete"):
                    cursor.execute(f"DROP TRIGGER IF EXISTS {table}_no_{op};")


@contextmanager
def deletes_allowed_in_this_transaction(connection: Any) -> Iterator[None]:
    """Let the current transaction delete rows of the append-only tables. Dangerous: for
    ``results.rehearsal.wipe_rehearsal`` only, which deletes nothing but rehearsal rows.

    Must be entered inside ``transaction.atomic()``; the protection is back before the
    transaction commits, and a rollback restores it too, so no other transaction ever runs
    without it. PostgreSQL: ``ALTER TABLE … DISABLE TRIGGER`` on the row trigger (the
    TRUNCATE trigger stays), which takes a lock that holds other writers of the two tables
    until this transaction ends; deferred constraints are made immediate for the rest of
    the transaction (ALTER TABLE needs no checks pending). SQLite: the DELETE triggers are
    dropped and re-created in the transaction (its DDL is transactional and the write lock
    is held throughout).
    """
    if not connection.in_atomic_block:
        raise RuntimeError("deletes_allowed_in_this_transaction needs an open transaction")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # ALTER TABLE refuses a table with deferred foreign-key checks still pending in the
            # transaction: run them now, and from here on as each statement ends.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE;")
        for table in APPEND_ONLY_TABLES:
            if connection.vendor == "postgresql":
                cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {table}_no_update_delete;")
            elif connection.vendor == "sqlite":
                cursor.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete;")
    yield
    with connection.cursor() as cursor:
        for table in APPEND_ONLY_TABLES:
            if connection.vendor == "postgresql":
                cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {table}_no_update_delete;")
    if connection.vendor == "sqlite":
        install(connection)
