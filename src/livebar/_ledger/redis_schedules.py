"""Schedules in the Redis ledger (``livebar._ledger.schedules``): one hash, job name → JSON,
each write one Lua script (atomic across every host on the Redis).

``livebar:{<account>}:schedules``; it expires a month after its last write.
"""

from __future__ import annotations

import json
from typing import Any, Callable

import redis

from livebar._ledger.backend import LedgerUnavailable
from livebar._ledger.schedules import Schedule, ScheduleStore

__all__ = ["RedisSchedules"]

_TTL_MS = 31 * 24 * 3600 * 1000

# KEYS: schedules. ARGV: name, title, expect_every, grace, wall.
_STARTED = """
local raw = redis.call('HGET', KEYS[1], ARGV[1])
local s = raw and cjson.decode(raw) or {}
s.title = ARGV[2]
s.expect_every = tonumber(ARGV[3])
s.grace = tonumber(ARGV[4])
s.last_start = tonumber(ARGV[5])
s.missed = 0
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(s))
redis.call('PEXPIRE', KEYS[1], TTL_MS)
return 1
""".replace("TTL_MS", str(_TTL_MS))

# KEYS: schedules. ARGV: name, wall, outcome.
_ENDED = """
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return 0 end
local s = cjson.decode(raw)
s.last_end = tonumber(ARGV[2])
s.outcome = ARGV[3]
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(s))
return 1
"""

# KEYS: schedules. ARGV: name, period, last_start (as written by _STARTED).
_CLAIM = """
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return 0 end
local s = cjson.decode(raw)
if (s.missed or 0) >= tonumber(ARGV[2]) then return 0 end
if string.format('%.6f', s.last_start) ~= string.format('%.6f', tonumber(ARGV[3])) then
  return 0
end
s.missed = tonumber(ARGV[2])
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(s))
return 1
"""


class RedisSchedules(ScheduleStore):
    """The schedules of one Redis ledger, on its connection."""

    def __init__(
        self, client: redis.Redis, prefix: str, run: Callable[[Any, list[str], list[Any]], Any]
    ) -> None:
        self._redis = client
        self._run = run
        self._key = prefix + "schedules"
        self._started = client.register_script(_STARTED)
        self._ended = client.register_script(_ENDED)
        self._claim = client.register_script(_CLAIM)

    def started(
        self, name: str, wall: float, *, title: str, expect_every: float, grace: float
    ) -> None:
        args = [name, title, repr(expect_every), repr(grace), repr(wall)]
        self._run(self._started, [self._key], args)

    def ended(self, name: str, wall: float, *, outcome: str) -> None:
        self._run(self._ended, [self._key], [name, repr(wall), outcome])

    def read(self) -> list[Schedule]:
        try:
            raw: dict[str, str] = self._redis.hgetall(self._key)  # type: ignore[assignment]
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise LedgerUnavailable(str(exc)) from exc
        found = []
        for name, text in sorted(raw.items()):
            s = json.loads(text)
            found.append(
                Schedule(
                    name=str(name),
                    title=str(s.get("title", name)),
                    expect_every=float(s["expect_every"]),
                    grace=float(s.get("grace", 0.0)),
                    last_start=float(s["last_start"]),
                    last_end=None if s.get("last_end") is None else float(s["last_end"]),
                    outcome=s.get("outcome"),
                    missed=int(s.get("missed", 0)),
                )
            )
        return found

    def claim_missed(self, name: str, period: int, last_start: float) -> bool:
        return bool(self._run(self._claim, [self._key], [name, period, repr(last_start)]))

    def forget(self, name: str) -> bool:
        try:
            return bool(self._redis.hdel(self._key, name))
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise LedgerUnavailable(str(exc)) from exc
