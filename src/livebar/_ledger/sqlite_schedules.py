"""Schedules in the sqlite ledger (``livebar._ledger.schedules``): one row per job name, each
call one ``BEGIN IMMEDIATE`` transaction (atomic across the machine's processes)."""

from __future__ import annotations

import sqlite3
from typing import Any, Callable

from livebar._ledger.schedules import Schedule, ScheduleStore

__all__ = ["SCHEMA", "SqliteSchedules"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS schedules (
    name TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    expect_every REAL NOT NULL,
    grace REAL NOT NULL,
    last_start REAL NOT NULL,
    last_end REAL,
    outcome TEXT,
    missed INTEGER NOT NULL DEFAULT 0
);
"""

Transaction = Callable[[Callable[[sqlite3.Connection, float], Any]], Any]


class SqliteSchedules(ScheduleStore):
    """The schedules of one sqlite ledger, through its backend's ``transaction``."""

    def __init__(self, transaction: Transaction) -> None:
        self._transaction = transaction

    def started(
        self, name: str, wall: float, *, title: str, expect_every: float, grace: float
    ) -> None:
        self._transaction(
            lambda db, _now: db.execute(
                "INSERT INTO schedules (name, title, expect_every, grace, last_start) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET title = excluded.title, "
                "expect_every = excluded.expect_every, grace = excluded.grace, "
                "last_start = excluded.last_start, missed = 0",
                (name, title, expect_every, grace, wall),
            )
        )

    def ended(self, name: str, wall: float, *, outcome: str) -> None:
        self._transaction(
            lambda db, _now: db.execute(
                "UPDATE schedules SET last_end = ?, outcome = ? WHERE name = ?",
                (wall, outcome, name),
            )
        )

    def read(self) -> list[Schedule]:
        rows = self._transaction(
            lambda db, _now: db.execute(
                "SELECT name, title, expect_every, grace, last_start, last_end, outcome, missed "
                "FROM schedules ORDER BY name"
            ).fetchall()
        )
        return [Schedule(*row) for row in rows]

    def claim_missed(self, name: str, period: int, last_start: float) -> bool:
        cursor = self._transaction(
            lambda db, _now: db.execute(
                "UPDATE schedules SET missed = ? WHERE name = ? AND missed < ? AND last_start = ?",
                (period, name, period, last_start),
            )
        )
        return bool(cursor.rowcount > 0)

    def forget(self, name: str) -> bool:
        cursor = self._transaction(
            lambda db, _now: db.execute("DELETE FROM schedules WHERE name = ?", (name,))
        )
        return bool(cursor.rowcount > 0)
