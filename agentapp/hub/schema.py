"""The hub's schema and its versions: `schema.sql` makes schema 5, and each `upgrade-N.sql`
takes a hub from N-1 to N. A new hub gets schema.sql and every upgrade in one transaction; an
older hub gets the upgrades it lacks (`agentapp hub upgrade`), in one transaction with the
version's change, so that a new hub and an upgraded one are the same by construction.

Both need a role that may act as agentapp_owner (the trial hub's owner, or a superuser).

Threading: plain functions on the caller's connection.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from agentapp.hub.connect import HubError, first_line
from agentapp.i18n import _

HERE = Path(__file__).parent
SCHEMA_FILE = HERE / "schema.sql"
BASE_VERSION = 5  # what schema.sql makes


def upgrades() -> dict[int, Path]:
    """The upgrade scripts shipped, by the version each makes (consecutive from 6)."""
    found = {int(m[1]): p for p in HERE.glob("upgrade-*.sql")
             if (m := re.fullmatch(r"upgrade-(\d{1,3})\.sql", p.name))}  # fmt: skip
    return {v: found[v] for v in range(BASE_VERSION + 1, BASE_VERSION + 1 + len(found))}


def latest() -> int:
    return BASE_VERSION + len(upgrades())


def apply_schema(db: Any, timezone: str, owner: str | None = None) -> None:
    """A new hub's tables, roles and functions (schema.sql and every upgrade), in one
    transaction."""
    import psycopg

    try:
        db.execute(SCHEMA_FILE.read_text(encoding="utf-8"))
        for path in upgrades().values():
            db.execute(path.read_text(encoding="utf-8"))
        db.execute("SET ROLE agentapp_owner")
        db.execute(
            "INSERT INTO agentapp.hub_settings VALUES ('schema', %s), ('timezone', %s)",
            (str(latest()), timezone),
        )
        if owner:  # a trial hub: its owner is also its IT (publish, purge over the socket)
            db.execute("INSERT INTO agentapp.people VALUES (%s, %s, 'admin')", (owner, owner))
        db.execute("RESET ROLE")
        db.commit()
    except psycopg.errors.DuplicateSchema:
        raise HubError(_("this database has a hub schema already")) from None
    except psycopg.Error as exc:
        raise HubError(_("the hub schema was refused: {why}").format(why=first_line(exc))) from None


def upgrade(db: Any) -> tuple[int, int]:
    """The upgrades this hub lacks, applied in one transaction with the version's change
    (the version row locked meanwhile: two upgrades at once wait for each other); (from, to).
    Refused in one line, nothing changed, for a hub newer than this program or one whose
    version cannot be read."""
    import psycopg

    try:
        db.execute("SET ROLE agentapp_owner")
        row = db.execute(
            "SELECT value FROM agentapp.hub_settings WHERE key = 'schema' FOR UPDATE"
        ).fetchone()
        db.execute("RESET ROLE")
        have = int(row[0]) if row and str(row[0]).isdigit() else None
        if have is None or have < BASE_VERSION:
            raise HubError(
                _("this hub's schema ({v}) is older than any upgrade: make a new hub").format(
                    v=row[0] if row else "?"
                )
            )
        if have > latest():
            raise HubError(
                _("this hub has schema {have}, newer than this agentapp knows ({known})").format(
                    have=have, known=latest()
                )
            )
        for v, path in upgrades().items():
            if v > have:
                db.execute(path.read_text(encoding="utf-8"))
        db.execute("SET ROLE agentapp_owner")
        db.execute(
            "UPDATE agentapp.hub_settings SET value = %s WHERE key = 'schema'", (str(latest()),)
        )
        db.execute("RESET ROLE")
        db.commit()
    except psycopg.Error as exc:
        db.rollback()
        raise HubError(_("the hub was not upgraded: {why}").format(why=first_line(exc))) from None
    except HubError:
        db.rollback()
        raise
    return have, latest()
