"""The ledger shared by every livebar process on one machine: one sqlite file per account.

Standard library only. The file is in WAL mode (readers never wait for the writer) with
``synchronous=NORMAL`` (a commit is not flushed to disk: the ledger only has to survive its
processes, not a power cut), and every operation is one ``BEGIN IMMEDIATE`` transaction, so it
is atomic across processes. The busy timeout is short (``DEFAULT_BUSY_TIMEOUT``): a call that
cannot get the write lock in time raises ``LedgerUnavailable`` and the wrapper answers "not
now". Times are the machine's monotonic clock (``time.monotonic``: ``CLOCK_MONOTONIC`` on
Linux), which every process on the machine shares whatever their wall clocks say (an NTP step,
a container with a clock of its own: two processes whose wall clocks differed by two minutes
each filled their own window). The file records the boot it was written in (Linux's boot id):
after a reboot the monotonic clock starts again, so the old boot's request times are dropped.

The file holds no secret (its name is the account's hash), but it names jobs, so it and its
directory are private to the user (0600 / 0700).
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any, Callable

from livebar._ledger import sqlite_fleets, sqlite_schedules, sqlite_watch
from livebar._ledger.backend import (
    Backend,
    FleetJoin,
    FleetRecord,
    FleetReport,
    LedgerUnavailable,
    Orphan,
    SlotGrant,
    Tracked,
    Watched,
    _Grant,
)
from livebar._ledger.owner import Owner, boot_id

__all__ = ["DEFAULT_BUSY_TIMEOUT", "SCHEMA_VERSION", "SqliteBackend"]

DEFAULT_BUSY_TIMEOUT = 0.01
SETUP_BUSY_TIMEOUT = 2.0
"""How long opening (creating, switching to WAL) may wait for other processes doing the same."""
"""Longest one call waits for another process's transaction (seconds)."""
SCHEMA_VERSION = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sent (ticket INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS sent_by_time ON sent (at);
CREATE TABLE IF NOT EXISTS owners (
    token TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    start INTEGER NOT NULL,
    hostname TEXT NOT NULL,
    heartbeat REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS activities (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    key TEXT NOT NULL,
    seq INTEGER NOT NULL,
    active INTEGER NOT NULL,
    title TEXT NOT NULL,
    stream_key TEXT,
    activity_id TEXT,
    started_at REAL,
    updated_at REAL NOT NULL,
    state TEXT,
    claimed_by TEXT
);
"""


class SqliteBackend(Backend):
    """The ledger in the sqlite file ``path`` (created with its directory if missing).

    Raises at construction when the file cannot be used (unwritable directory, not a
    database, another schema); ``open_ledger`` then logs once and falls back to memory.
    """

    name = "sqlite"

    def __init__(
        self,
        path: Path | str,
        *,
        window: float,
        owner: Owner,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not window > 0:
            raise ValueError("window must be positive")
        self.path = Path(path)
        self.window = window
        self.owner = owner
        self.clock = self._wall = clock
        self._pid = os.getpid()
        self._closed = False
        self.schedules = sqlite_schedules.SqliteSchedules(self._transaction)
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not self.path.exists():
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        self._db = sqlite3.connect(
            str(self.path), timeout=busy_timeout, isolation_level=None, check_same_thread=False
        )
        try:
            # Setting up may race other processes opening the same new file: wait longer for
            # it than for one request (the engine opens a ledger once, on its own thread).
            self._db.execute(f"PRAGMA busy_timeout = {int(SETUP_BUSY_TIMEOUT * 1000)}")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._transaction(self._create)
            self._db.execute(f"PRAGMA busy_timeout = {max(int(busy_timeout * 1000), 1)}")
        except BaseException:
            self._db.close()
            raise

    def __repr__(self) -> str:
        return f"SqliteBackend({str(self.path)!r})"

    # -- plumbing -----------------------------------------------------------------------------

    def _create(self, db: sqlite3.Connection, now: float) -> None:
        for statement in (
            _SCHEMA + sqlite_fleets.SCHEMA + sqlite_watch.SCHEMA + sqlite_schedules.SCHEMA
        ).split(";"):
            if statement.strip():
                db.execute(statement)
        db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
        (version,) = db.execute("SELECT value FROM meta WHERE name = 'schema'").fetchone()
        if version != SCHEMA_VERSION:
            raise sqlite3.DatabaseError(f"ledger schema {version!r}, expected {SCHEMA_VERSION}")
        boot = db.execute("SELECT value FROM meta WHERE name = 'boot'").fetchone()
        if boot is None or boot[0] != boot_id():
            db.execute("DELETE FROM sent")  # times of another boot's monotonic clock
            db.execute("INSERT OR REPLACE INTO meta VALUES ('boot', ?)", (boot_id(),))
        self._register(db, now)

    def _transaction(self, work: Callable[[sqlite3.Connection, float], Any]) -> Any:
        """``work(db, now)`` in one write transaction; ``now`` is read once the lock is held,
        so the order of the times written is the order of the transactions."""
        if os.getpid() != self._pid:
            raise LedgerUnavailable("the ledger was opened before a fork; reopen it")
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise LedgerUnavailable(str(exc)) from exc
        try:
            result = work(db, self._wall())
        except BaseException:
            db.execute("ROLLBACK")
            raise
        try:
            db.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            db.execute("ROLLBACK")
            raise LedgerUnavailable(str(exc)) from exc
        return result

    def _register(self, db: sqlite3.Connection, now: float) -> None:
        o = self.owner
        db.execute(
            "INSERT INTO owners VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (token) DO UPDATE SET heartbeat = excluded.heartbeat",
            (o.token, o.host, o.pid, o.start, o.hostname, now),
        )

    def _id(self, key: str) -> str:
        return f"{self.owner.token}/{key}"

    # -- the request window -------------------------------------------------------------------

    def acquire(self, now: float, *, limit: int, floor: int) -> _Grant:
        room = limit - floor

        def work(db: sqlite3.Connection, now: float) -> _Grant:
            db.execute("DELETE FROM sent WHERE at <= ?", (now - self.window,))
            db.execute("DELETE FROM sent WHERE at > ?", (now + self.window,))
            (used,) = db.execute("SELECT count(*) FROM sent").fetchone()
            if used < room:
                cursor = db.execute("INSERT INTO sent (at) VALUES (?)", (now,))
                return _Grant(True, used + 1, 0.0, cursor.lastrowid, now)
            if room <= 0:
                return _Grant(False, used, self.window, None, now)
            (at,) = db.execute(
                "SELECT at FROM sent ORDER BY at LIMIT 1 OFFSET ?", (used - room,)
            ).fetchone()
            return _Grant(False, used, max(at + self.window - now, 0.0), None, now)

        grant: _Grant = self._transaction(work)
        return grant

    def refund(self, ticket: int) -> None:
        self._transaction(
            lambda db, _now: db.execute("DELETE FROM sent WHERE ticket = ?", (ticket,))
        )

    def landed(self, ticket: int, now: float) -> None:
        self._transaction(
            lambda db, now: db.execute("UPDATE sent SET at = ? WHERE ticket = ?", (now, ticket))
        )

    def used(self, now: float) -> int:
        if os.getpid() != self._pid:
            raise LedgerUnavailable("the ledger was opened before a fork; reopen it")
        (count,) = self._db.execute(
            "SELECT count(*) FROM sent WHERE at > ? AND at <= ?",
            (self._wall() - self.window, self._wall() + self.window),
        ).fetchone()
        return int(count)

    # -- activities ---------------------------------------------------------------------------

    def request_slot(
        self, key: str, now: float, *, max_active: int, title: str, stream_key: str | None
    ) -> SlotGrant:
        ident = self._id(key)

        def work(db: sqlite3.Connection, now: float) -> SlotGrant:
            row = db.execute("SELECT seq, active FROM activities WHERE id = ?", (ident,)).fetchone()
            (active,) = db.execute("SELECT count(*) FROM activities WHERE active = 1").fetchone()
            if row is None:
                (seq,) = db.execute("SELECT coalesce(max(seq), 0) + 1 FROM activities").fetchone()
                db.execute(
                    "INSERT INTO activities (id, owner, key, seq, active, title, stream_key, "
                    "updated_at) VALUES (?, ?, ?, ?, 0, ?, ?, ?)",
                    (ident, self.owner.token, key, seq, title, stream_key, now),
                )
            elif row[1]:
                return SlotGrant(True, active, 0)
            else:
                seq = row[0]
            (ahead,) = db.execute(
                "SELECT count(*) FROM activities WHERE active = 0 AND seq < ?", (seq,)
            ).fetchone()
            if active + ahead >= max_active:
                return SlotGrant(False, active, ahead)
            db.execute(
                "UPDATE activities SET active = 1, started_at = ?, updated_at = ? WHERE id = ?",
                (now, now, ident),
            )
            return SlotGrant(True, active + 1, 0)

        grant: SlotGrant = self._transaction(work)
        return grant

    def yield_slot(self, key: str) -> None:
        self._transaction(
            lambda db, _now: db.execute(
                "UPDATE activities SET active = 0 WHERE id = ?", (self._id(key),)
            )
        )

    def record_state(
        self, key: str, now: float, *, activity_id: str | None, state: dict[str, Any] | None
    ) -> None:
        encoded = None if state is None else json.dumps(state, separators=(",", ":"))

        def work(db: sqlite3.Connection, now: float) -> None:
            db.execute(
                "UPDATE activities SET activity_id = coalesce(?, activity_id), "
                "state = coalesce(?, state), updated_at = ? WHERE id = ?",
                (activity_id, encoded, now, self._id(key)),
            )
            db.execute("UPDATE owners SET heartbeat = ? WHERE token = ?", (now, self.owner.token))

        self._transaction(work)

    def close_activity(self, key: str) -> None:
        self._transaction(
            lambda db, _now: db.execute("DELETE FROM activities WHERE id = ?", (self._id(key),))
        )

    # -- owners and orphans -------------------------------------------------------------------

    def heartbeat(self, now: float) -> tuple[str, ...]:
        def work(db: sqlite3.Connection, now: float) -> tuple[str, ...]:
            self._register(db, now)
            rows = db.execute(
                "SELECT key FROM activities WHERE owner = ? AND claimed_by IS NOT NULL "
                "AND claimed_by != owner",
                (self.owner.token,),
            ).fetchall()
            return tuple(key for (key,) in rows)

        keys: tuple[str, ...] = self._transaction(work)
        return keys

    def claim_orphans(self, now: float, *, stale_after: float) -> list[Orphan]:
        me = self.owner

        def work(db: sqlite3.Connection, now: float) -> list[Orphan]:
            owners: dict[str, tuple[Owner, float]] = {
                token: (Owner(host, pid, start, hostname), heartbeat)
                for token, host, pid, start, hostname, heartbeat in db.execute(
                    "SELECT token, host, pid, start, hostname, heartbeat FROM owners"
                )
            }
            verdicts: dict[str, bool] = {}

            def gone(token: str | None) -> bool:
                if token is None:
                    return True
                if token not in verdicts:
                    known = owners.get(token)
                    verdicts[token] = known is None or not known[0].alive(
                        me, heartbeat_age=now - known[1], stale_after=stale_after
                    )
                return verdicts[token]

            claimed: list[Orphan] = []
            rows = db.execute(
                "SELECT id, owner, active, title, stream_key, activity_id, started_at, "
                "updated_at, state, claimed_by FROM activities WHERE owner != ?",
                (me.token,),
            ).fetchall()
            for ident, token, active, title, stream, activity, started, updated, state, by in rows:
                if not gone(token) or not gone(by):
                    continue
                if not active or (stream is None and activity is None):
                    # Never on the phone, or started without an answer: nothing to end.
                    db.execute("DELETE FROM activities WHERE id = ?", (ident,))
                    continue
                db.execute("UPDATE activities SET claimed_by = ? WHERE id = ?", (me.token, ident))
                owner, heartbeat = owners.get(token, (Owner.from_token(token), updated))
                claimed.append(
                    Orphan(
                        id=ident,
                        owner=owner,
                        same_host=owner.host == me.host,
                        title=title,
                        stream_key=stream,
                        activity_id=activity,
                        started_at=started if started is not None else updated,
                        last_seen=max(heartbeat, updated),
                        state=json.loads(state) if state else None,
                    )
                )
            _forget_gone_owners(db, [t for t in owners if t != me.token and gone(t)])
            return claimed

        orphans: list[Orphan] = self._transaction(work)
        return orphans

    def settle_orphan(self, orphan_id: str, *, ended: bool) -> None:
        if ended:
            sql = "DELETE FROM activities WHERE id = ? AND claimed_by = ?"
        else:
            sql = "UPDATE activities SET claimed_by = NULL WHERE id = ? AND claimed_by = ?"
        self._transaction(lambda db, _now: db.execute(sql, (orphan_id, self.owner.token)))

    def restore(self, tracked: list[Tracked], ages: list[float], now: float) -> None:
        def work(db: sqlite3.Connection, now: float) -> None:
            self._register(db, now)
            keep = {self._id(t.key) for t in tracked}
            for (ident,) in db.execute(
                "SELECT id FROM activities WHERE owner = ?", (self.owner.token,)
            ).fetchall():
                if ident not in keep:
                    db.execute("DELETE FROM activities WHERE id = ?", (ident,))
            for t in tracked:
                state = None if t.state is None else json.dumps(t.state, separators=(",", ":"))
                ident = self._id(t.key)
                row = db.execute("SELECT seq FROM activities WHERE id = ?", (ident,)).fetchone()
                if row is None:
                    (seq,) = db.execute(
                        "SELECT coalesce(max(seq), 0) + 1 FROM activities"
                    ).fetchone()
                else:
                    seq = row[0]
                db.execute(
                    "INSERT OR REPLACE INTO activities (id, owner, key, seq, active, title, "
                    "stream_key, activity_id, started_at, updated_at, state) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        ident,
                        self.owner.token,
                        t.key,
                        seq,
                        int(t.active),
                        t.title,
                        t.stream_key,
                        t.activity_id,
                        t.started_at,
                        now,
                        state,
                    ),
                )
            db.executemany(
                "INSERT INTO sent (at) VALUES (?)", [(now - age,) for age in ages if age >= 0]
            )

        self._transaction(work)

    # -- watching (``livebar._ledger.sqlite_watch``) ---------------------------------------------

    def watch(self, now: float, *, stale_after: float) -> list[Watched]:
        me = self.owner
        found: list[Watched] = self._transaction(
            lambda db, now: sqlite_watch.watch(db, now, me, stale_after)
        )
        return found

    def mark(self, record: str, now: float, *, marked: bool) -> bool:
        me = self.owner
        changed: bool = self._transaction(
            lambda db, now: sqlite_watch.mark(db, now, record, me, marked)
        )
        return changed

    def take_marks(self, now: float) -> tuple[str, ...]:
        me = self.owner
        keys: tuple[str, ...] = self._transaction(lambda db, _now: sqlite_watch.take_marks(db, me))
        return keys

    # -- fleets (``livebar._ledger.sqlite_fleets``) ---------------------------------------------

    def fleet_join(self, fleet: str, member: str, now: float, join: FleetJoin) -> str:
        name: str = self._transaction(
            lambda db, now: sqlite_fleets.join(db, now, fleet, member, join)
        )
        return name

    def fleet_report(self, run: str, member: str, now: float, report: FleetReport) -> bool:
        token = self.owner.token
        leads: bool = self._transaction(
            lambda db, now: sqlite_fleets.report(db, now, run, member, token, report)
        )
        return leads

    def fleet_read(self, run: str, now: float) -> FleetRecord | None:
        record: FleetRecord | None = self._transaction(
            lambda db, now: sqlite_fleets.read(db, now, run)
        )
        return record

    def fleet_card(self, run: str, now: float, **options: Any) -> bool:
        written: bool = self._transaction(
            lambda db, now: sqlite_fleets.card(db, now, run, **options)
        )
        return written

    def close(self) -> None:
        if os.getpid() != self._pid or self._closed:
            return  # a forked child must not touch its parent's connection
        self._closed = True
        try:
            self._transaction(
                lambda db, _now: (
                    db.execute("DELETE FROM activities WHERE owner = ?", (self.owner.token,)),
                    db.execute("DELETE FROM owners WHERE token = ?", (self.owner.token,)),
                )
            )
        finally:
            self._db.close()


def _forget_gone_owners(db: sqlite3.Connection, tokens: list[str]) -> None:
    """Owners that are gone and hold nothing more leave the table."""
    for token in tokens:
        db.execute(
            "DELETE FROM owners WHERE token = ? AND NOT EXISTS "
            "(SELECT 1 FROM activities WHERE owner = ? OR claimed_by = ?)",
            (token, token, token),
        )
