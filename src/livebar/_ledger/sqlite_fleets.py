"""Fleets in the sqlite ledger: the statements ``SqliteBackend``'s fleet calls run, each inside
the one ``BEGIN IMMEDIATE`` transaction of its call (so, atomic across the machine's processes).

Tables: ``fleet_current`` (a fleet's current counted run), ``fleet_runs`` (one row per run: what
its first member wrote, its deadline, the card, the sender's lease as holder and expiry) and
``fleet_members`` (one row per member of a run: its state as JSON, its owner, its last and first
write). The lease is ``SET NX PX`` in SQL: taken when nobody holds it or it has expired, renewed
only by its holder, released only by its holder. Runs older than ``KEEP_RUNS`` are dropped.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from typing import Any

from livebar._ledger.backend import (
    FleetEntry,
    FleetJoin,
    FleetRecord,
    FleetReport,
    fleet_run_name,
    may_join,
)

__all__ = ["SCHEMA", "card", "join", "read", "report"]

KEEP_RUNS = 7 * 24 * 3600.0
"""Runs of fleets are forgotten a week after they began (as Redis keys expire)."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS fleet_current (fleet TEXT PRIMARY KEY, run INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS fleet_runs (
    run TEXT PRIMARY KEY,
    created REAL NOT NULL,
    deadline REAL,
    join_until REAL,
    meta TEXT NOT NULL,
    over INTEGER NOT NULL DEFAULT 0,
    card TEXT,
    holder TEXT,
    lease_until REAL NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS fleet_members (
    run TEXT NOT NULL,
    member TEXT NOT NULL,
    state TEXT NOT NULL,
    owner TEXT NOT NULL,
    beat REAL NOT NULL,
    started REAL NOT NULL,
    PRIMARY KEY (run, member)
);
"""


def join(db: sqlite3.Connection, now: float, fleet: str, member: str, join: FleetJoin) -> str:
    """``Backend.fleet_join``."""
    _forget_old(db, now)
    run, deadline = join.run, join.deadline
    if run is None:
        row = db.execute("SELECT run FROM fleet_current WHERE fleet = ?", (fleet,)).fetchone()
        number = row[0] if row is not None else 0
        name = fleet_run_name(fleet, number)
        found = db.execute(
            "SELECT over, join_until FROM fleet_runs WHERE run = ?", (name,)
        ).fetchone()
        entry = _entry(db, name, member)
        if found is None or not may_join(
            over=bool(found[0]),
            join_until=found[1],
            now=now,
            entry=entry,
            lost_after=join.lost_after,
        ):
            number += 1
            db.execute("INSERT OR REPLACE INTO fleet_current VALUES (?, ?)", (fleet, number))
        name = fleet_run_name(fleet, number)
    else:
        name = fleet_run_name(fleet, run)
    at = None if deadline is None else now + deadline
    until = at if at is not None else (now + join.join_window if run is None else None)
    db.execute(
        "INSERT OR IGNORE INTO fleet_runs (run, created, deadline, join_until, meta) "
        "VALUES (?, ?, ?, ?, ?)",
        (name, now, at, until, json.dumps(dict(join.meta), separators=(",", ":"))),
    )
    return name


def report(
    db: sqlite3.Connection, now: float, run: str, member: str, owner: str, report: FleetReport
) -> bool:
    """``Backend.fleet_report``."""
    found = db.execute(
        "SELECT over, holder, lease_until FROM fleet_runs WHERE run = ?", (run,)
    ).fetchone()
    if found is None:
        return False
    db.execute(
        "INSERT INTO fleet_members VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (run, member) DO UPDATE "
        "SET state = excluded.state, owner = excluded.owner, beat = excluded.beat",
        (run, member, json.dumps(dict(report.state), separators=(",", ":")), owner, now, now),
    )
    over, current, until = found
    free = current is None or until <= now
    lease_until = now + report.lease
    if current == report.holder and not free:
        if report.release:
            db.execute("UPDATE fleet_runs SET holder = NULL WHERE run = ?", (run,))
            return False
        db.execute("UPDATE fleet_runs SET lease_until = ? WHERE run = ?", (lease_until, run))
        return True
    if free and report.lead and not report.release and not over:
        db.execute(
            "UPDATE fleet_runs SET holder = ?, lease_until = ? WHERE run = ?",
            (report.holder, lease_until, run),
        )
        return True
    return False


def read(db: sqlite3.Connection, now: float, run: str) -> FleetRecord | None:
    """``Backend.fleet_read``."""
    found = db.execute(
        "SELECT created, deadline, meta, over, card, holder, lease_until FROM fleet_runs "
        "WHERE run = ?",
        (run,),
    ).fetchone()
    if found is None:
        return None
    created, deadline, meta, over, card, holder, until = found
    members = {
        member: FleetEntry(json.loads(state), owner, beat, started)
        for member, state, owner, beat, started in db.execute(
            "SELECT member, state, owner, beat, started FROM fleet_members WHERE run = ?", (run,)
        )
    }
    return FleetRecord(
        run=run,
        now=now,
        created=created,
        deadline=deadline,
        meta=json.loads(meta),
        members=members,
        over=bool(over),
        card=json.loads(card) if card else None,
        leader=holder if holder is not None and until > now else None,
    )


def card(
    db: sqlite3.Connection,
    now: float,
    run: str,
    *,
    holder: str,
    card: Mapping[str, Any] | None,
    over: bool,
) -> bool:
    """``Backend.fleet_card``."""
    encoded = None if card is None else json.dumps(dict(card), separators=(",", ":"))
    cursor = db.execute(
        "UPDATE fleet_runs SET card = coalesce(?, card), over = max(over, ?) "
        "WHERE run = ? AND holder = ? AND lease_until > ?",
        (encoded, int(over), run, holder, now),
    )
    return cursor.rowcount > 0


def _entry(db: sqlite3.Connection, run: str, member: str) -> FleetEntry | None:
    row = db.execute(
        "SELECT state, owner, beat, started FROM fleet_members WHERE run = ? AND member = ?",
        (run, member),
    ).fetchone()
    return None if row is None else FleetEntry(json.loads(row[0]), row[1], row[2], row[3])


def _forget_old(db: sqlite3.Connection, now: float) -> None:
    old = [
        run
        for (run,) in db.execute("SELECT run FROM fleet_runs WHERE created < ?", (now - KEEP_RUNS,))
    ]
    for run in old:
        db.execute("DELETE FROM fleet_members WHERE run = ?", (run,))
        db.execute("DELETE FROM fleet_runs WHERE run = ?", (run,))
