"""The database itself refuses to change custody entries (and, on PostgreSQL, to delete them).

SQLite refuses updates only: Django's test runner empties tables with DELETE
there (PostgreSQL uses TRUNCATE, which row triggers do not see); the ORM
refuses deletes on both.
"""

from django.db import migrations

TABLE = "evidence_custodyentry"

SQLITE_UP = [
    f"CREATE TRIGGER custody_no_update BEFORE UPDATE ON {TABLE} "
    "BEGIN SELECT RAISE(ABORT, 'custody entries are append-only'); END;",
]
SQLITE_DOWN = ["DROP TRIGGER IF EXISTS custody_no_update;"]
POSTGRES_UP = [
    "CREATE OR REPLACE FUNCTION custody_append_only() RETURNS trigger AS $$ "
    "BEGIN RAISE EXCEPTION 'custody entries are append-only'; END; $$ LANGUAGE plpgsql;",
    f"CREATE TRIGGER custody_no_change BEFORE UPDATE OR DELETE ON {TABLE} "
    "FOR EACH ROW EXECUTE FUNCTION custody_append_only();",
]
POSTGRES_DOWN = [
    f"DROP TRIGGER IF EXISTS custody_no_change ON {TABLE};",
    "DROP FUNCTION IF EXISTS custody_append_only();",
]


def _run(statements: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    def run(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
        for sql in statements.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("evidence", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE_UP, "postgresql": POSTGRES_UP}),
            _run({"sqlite": SQLITE_DOWN, "postgresql": POSTGRES_DOWN}),
        )
    ]
