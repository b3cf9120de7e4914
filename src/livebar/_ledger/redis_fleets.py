"""Fleets in the Redis ledger: one hash per run of a fleet, one Lua script per write.

Keys (under the account's hash tag, like the rest of the ledger, so one Cluster slot holds them;
the join script names the run's hash itself, from that prefix):

* ``livebar:{<account>}:fleet:<name>`` the fleet's current counted run (a counter);
* ``…:fleet:<name>#<n>`` or ``…:fleet:<name>@<run id>``, a hash: ``created``, ``deadline``,
  ``join_until``, ``meta`` (JSON), ``over``, ``card`` (JSON), and per member ``m:<member>``
  (its state, JSON), ``o:<member>`` (its owner), ``b:<member>`` (last write) and
  ``s:<member>`` (first write), all times on the server's clock;
* ``…:fleet:<name>#<n>:lease``: the sender's lease, ``SET NX PX`` by the member that takes it,
  renewed (``PEXPIRE``) and released (``DEL``) only by its holder, inside the same scripts.

Every key expires a week after its last write.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Callable

import redis

from livebar._ledger.backend import (
    FleetEntry,
    FleetJoin,
    FleetRecord,
    FleetReport,
    LedgerUnavailable,
)

__all__ = ["RedisFleets"]

# KEYS: current run counter. ARGV: now, key prefix, fleet, member, run id or '', meta JSON,
# deadline (seconds from now) or '', join window, lost after.
_JOIN = """
local now = clock()
local prefix, fleet, member, run = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local name
if run ~= '' then
  name = fleet .. '@' .. run
else
  local number = tonumber(redis.call('GET', KEYS[1]) or '0')
  local key = prefix .. fleet .. '#' .. number
  local join = number > 0 and redis.call('EXISTS', key) == 1
  if join then
    local until_ = tonumber(redis.call('HGET', key, 'join_until') or '')
    join = not redis.call('HGET', key, 'over') and (until_ == nil or now <= until_)
  end
  if join then
    local raw = redis.call('HGET', key, 'm:' .. member)
    if raw then
      local outcome = cjson.decode(raw).outcome
      local beat = tonumber(redis.call('HGET', key, 'b:' .. member) or '0')
      local running = outcome == nil or outcome == cjson.null or outcome == ''
      if running and now - beat <= tonumber(ARGV[9]) then join = false end
    end
  end
  if not join then number = redis.call('INCR', KEYS[1]) end
  touch(KEYS[1])
  name = fleet .. '#' .. number
end
local key = prefix .. name
if redis.call('HSETNX', key, 'created', fmt(now)) == 1 then
  redis.call('HSET', key, 'meta', ARGV[6])
  if ARGV[7] ~= '' then
    local at = fmt(now + tonumber(ARGV[7]))
    redis.call('HSET', key, 'deadline', at, 'join_until', at)
  elseif run == '' then
    redis.call('HSET', key, 'join_until', fmt(now + tonumber(ARGV[8])))
  end
end
touch(key)
return name
"""

# KEYS: run hash, lease. ARGV: now, member, state JSON, owner token, holder, lease ms,
# lead ('1'/'0'), release ('1'/'0').
_REPORT = """
local now = clock()
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local m = ARGV[2]
redis.call('HSET', KEYS[1], 'm:' .. m, ARGV[3], 'o:' .. m, ARGV[4], 'b:' .. m, fmt(now))
redis.call('HSETNX', KEYS[1], 's:' .. m, fmt(now))
touch(KEYS[1])
if redis.call('GET', KEYS[2]) == ARGV[5] then
  if ARGV[8] == '1' then
    redis.call('DEL', KEYS[2])
    return 0
  end
  redis.call('PEXPIRE', KEYS[2], ARGV[6])
  return 1
end
if ARGV[7] == '1' and ARGV[8] ~= '1' and not redis.call('HGET', KEYS[1], 'over') then
  if redis.call('SET', KEYS[2], ARGV[5], 'NX', 'PX', ARGV[6]) then return 1 end
end
return 0
"""

# KEYS: run hash, lease. ARGV: now, holder, card JSON or '', over ('1'/'0').
_CARD = """
if redis.call('GET', KEYS[2]) ~= ARGV[2] then return 0 end
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'card', ARGV[3]) end
if ARGV[4] == '1' then redis.call('HSET', KEYS[1], 'over', '1') end
return 1
"""

Run = Callable[[Any, "list[str]", "list[Any]"], Any]


class RedisFleets:
    """The fleet calls of one account's Redis ledger (``RedisBackend`` delegates to it)."""

    def __init__(self, client: redis.Redis, prefix: str, prelude: str, run: Run) -> None:
        self._redis = client
        self._prefix = prefix + "fleet:"
        self._run = run
        self._join = client.register_script(prelude + _JOIN)
        self._report = client.register_script(prelude + _REPORT)
        self._card = client.register_script(_CARD)

    def join(self, now: str, fleet: str, member: str, join: FleetJoin) -> str:
        args = [
            now,
            self._prefix,
            fleet,
            member,
            join.run or "",
            json.dumps(dict(join.meta), separators=(",", ":")),
            "" if join.deadline is None else repr(float(join.deadline)),
            repr(float(join.join_window)),
            repr(float(join.lost_after)),
        ]
        return str(self._run(self._join, [self._prefix + fleet], args))

    def report(self, now: str, run: str, member: str, owner: str, report: FleetReport) -> bool:
        key = self._prefix + run
        args = [
            now,
            member,
            json.dumps(dict(report.state), separators=(",", ":")),
            owner,
            report.holder,
            str(max(int(report.lease * 1000), 1)),
            "1" if report.lead else "0",
            "1" if report.release else "0",
        ]
        return bool(self._run(self._report, [key, key + ":lease"], args))

    def read(self, run: str, now: float | None) -> FleetRecord | None:
        key = self._prefix + run
        try:
            with self._redis.pipeline(transaction=True) as pipe:
                pipe.time()
                pipe.hgetall(key)
                pipe.get(key + ":lease")
                (seconds, micros), fields, leader = pipe.execute()
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise LedgerUnavailable(str(exc)) from exc
        if not fields:
            return None
        at = float(seconds) + float(micros) / 1e6 if now is None else now
        return _record(run, at, fields, leader)

    def card(
        self, now: str, run: str, *, holder: str, card: Mapping[str, Any] | None, over: bool
    ) -> bool:
        key = self._prefix + run
        encoded = "" if card is None else json.dumps(dict(card), separators=(",", ":"))
        args = [now, holder, encoded, "1" if over else "0"]
        return bool(self._run(self._card, [key, key + ":lease"], args))


def _record(run: str, now: float, fields: dict[str, str], leader: str | None) -> FleetRecord:
    members: dict[str, FleetEntry] = {}
    for field, raw in fields.items():
        if not field.startswith("m:"):
            continue
        name = field[2:]
        beat = float(fields.get("b:" + name) or 0.0)
        members[name] = FleetEntry(
            json.loads(raw),
            fields.get("o:" + name, ""),
            beat,
            float(fields.get("s:" + name) or beat),
        )
    deadline = fields.get("deadline")
    card = fields.get("card")
    return FleetRecord(
        run=run,
        now=now,
        created=float(fields.get("created") or now),
        deadline=float(deadline) if deadline else None,
        meta=json.loads(fields.get("meta") or "{}"),
        members=members,
        over=bool(fields.get("over")),
        card=json.loads(card) if card else None,
        leader=leader,
    )
