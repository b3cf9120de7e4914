"""Watching in the sqlite ledger: the statements ``SqliteBackend``'s watch calls run, each inside
the one ``BEGIN IMMEDIATE`` transaction of its call (so, atomic across the machine's processes).

Table ``marks``: one row per activity some process has shown as not responding (its record id,
who marked it, when). A row is the claim: ``INSERT OR IGNORE`` lets one of two racing markers
have it; the owner deletes its rows when it is back, a watch drops rows whose activity is gone.
"""

from __future__ import annotations

import json
import sqlite3

from livebar._ledger.backend import Watched
from livebar._ledger.owner import Owner

__all__ = ["SCHEMA", "mark", "take_marks", "watch"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS marks (id TEXT PRIMARY KEY, marked_by TEXT NOT NULL, at REAL NOT NULL);
"""


def watch(db: sqlite3.Connection, now: float, me: Owner, stale_after: float) -> list[Watched]:
    """``Backend.watch``."""
    db.execute("DELETE FROM marks WHERE id NOT IN (SELECT id FROM activities)")
    owners = {
        token: (Owner(host, pid, start, hostname), beat)
        for token, host, pid, start, hostname, beat in db.execute(
            "SELECT token, host, pid, start, hostname, heartbeat FROM owners"
        )
    }
    marked = {ident for (ident,) in db.execute("SELECT id FROM marks")}
    found: list[Watched] = []
    rows = db.execute(
        "SELECT id, owner, title, stream_key, activity_id, started_at, updated_at, state "
        "FROM activities WHERE owner != ? AND active = 1 AND claimed_by IS NULL "
        "AND (stream_key IS NOT NULL OR activity_id IS NOT NULL)",
        (me.token,),
    ).fetchall()
    for ident, token, title, stream, activity, started, updated, state in rows:
        owner, beat = owners.get(token, (Owner.from_token(token), updated))
        silent = now - max(beat, updated)
        found.append(
            Watched(
                id=ident,
                owner=owner,
                alive=owner.alive(me, heartbeat_age=silent, stale_after=stale_after),
                same_host=owner.host == me.host,
                title=title,
                stream_key=stream,
                activity_id=activity,
                started_at=started if started is not None else updated,
                recorded_at=updated,
                silent_for=silent,
                state=json.loads(state) if state else None,
                marked=ident in marked,
            )
        )
    return found


def mark(db: sqlite3.Connection, now: float, record: str, me: Owner, marked: bool) -> bool:
    """``Backend.mark``."""
    if marked:
        cursor = db.execute(
            "INSERT OR IGNORE INTO marks SELECT id, ?, ? FROM activities WHERE id = ?",
            (me.token, now, record),
        )
    else:
        cursor = db.execute("DELETE FROM marks WHERE id = ?", (record,))
    return cursor.rowcount > 0


def take_marks(db: sqlite3.Connection, me: Owner) -> tuple[str, ...]:
    """``Backend.take_marks``."""
    rows = db.execute(
        "SELECT marks.id, activities.key FROM marks JOIN activities ON marks.id = activities.id "
        "WHERE activities.owner = ?",
        (me.token,),
    ).fetchall()
    db.executemany("DELETE FROM marks WHERE id = ?", [(ident,) for ident, _key in rows])
    return tuple(key for _ident, key in rows)
