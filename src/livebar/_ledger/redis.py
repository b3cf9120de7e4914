"""The ledger shared across machines: one Redis (the ``redis`` extra, ``LIVEBAR_LEDGER=redis://``).

Every operation is one Lua script, so it is atomic however many processes on however many hosts
call it, and costs one round trip. Scripts read the server's clock (``TIME``), not the caller's:
hosts' clocks disagree, the server's is the only one every process sees. Redis 5 or newer
(scripts replicate their effects, so reading the clock in a script is allowed).

Keys (all under one hash tag, so the account lives in one Redis Cluster slot):

* ``livebar:{<account id>}:sent`` sorted set: ticket → time of each request in the window;
* ``…:seq`` counter for tickets and the start queue's order;
* ``…:owners`` hash: owner token → JSON (host, pid, start, hostname); ``…:beats`` hash: owner
  token → last heartbeat (server time, as text);
* ``…:acts`` hash: record id → JSON (owner, key, seq, active, title, stream_key, activity_id,
  started_at, updated_at, claimed_by); ``…:states`` hash: record id → last content state JSON,
  kept as an opaque string (Lua's JSON would turn an empty list into an object).

Claiming orphans is two steps: read everything, decide who is gone in Python (an owner on this
host is probed by pid and start time, any other by its heartbeat's age on the server clock),
then one script claims each candidate only if nothing it was judged on has changed (its claim,
its owner's and its claimer's heartbeats). Of several processes racing, exactly one wins each.
"""

from __future__ import annotations

import json
from typing import Any

import redis

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
from livebar._ledger.owner import Owner
from livebar._ledger.redis_fleets import RedisFleets
from livebar._ledger.redis_schedules import RedisSchedules
from livebar._ledger.redis_watch import RedisWatch
from livebar._wire.account import Account

__all__ = ["DEFAULT_REDIS_TIMEOUT", "RedisBackend"]

DEFAULT_REDIS_TIMEOUT = 0.25
"""Longest one call waits for Redis (connect, send, answer), in seconds."""
_TTL_MS = 7 * 24 * 3600 * 1000
"""Keys of an account nobody uses any more disappear after a week."""

_PRELUDE = """
local function clock()
  if ARGV[1] ~= '' then return tonumber(ARGV[1]) end
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local function fmt(x) return string.format('%.6f', x) end
local function touch(key) redis.call('PEXPIRE', key, TTL_MS) end
""".replace("TTL_MS", str(_TTL_MS))

# KEYS: sent, seq. ARGV: now, window, room.
_ACQUIRE = (
    _PRELUDE
    + """
local now = clock()
local window = tonumber(ARGV[2])
local room = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '(' .. fmt(now + window), '+inf')
local used = redis.call('ZCARD', KEYS[1])
if used < room then
  local ticket = redis.call('INCR', KEYS[2])
  redis.call('ZADD', KEYS[1], now, ticket)
  redis.call('PEXPIRE', KEYS[1], math.ceil(window * 2000))
  touch(KEYS[2])
  return {1, used + 1, '0', ticket, fmt(now)}
end
if room <= 0 then return {0, used, fmt(window), 0, fmt(now)} end
local at = redis.call('ZRANGE', KEYS[1], used - room, used - room, 'WITHSCORES')
return {0, used, fmt(math.max(tonumber(at[2]) + window - now, 0)), 0, fmt(now)}
"""
)

# KEYS: sent. ARGV: now, ticket.
_LANDED = (
    _PRELUDE
    + """
redis.call('ZADD', KEYS[1], 'XX', clock(), ARGV[2])
return 1
"""
)

# KEYS: sent. ARGV: now, window.
_USED = (
    _PRELUDE
    + """
local now = clock()
local window = tonumber(ARGV[2])
return redis.call('ZCOUNT', KEYS[1], '(' .. fmt(now - window), fmt(now + window))
"""
)

# KEYS: acts, seq. ARGV: now, id, max_active, record JSON (owner, key, title, stream_key).
_REQUEST_SLOT = (
    _PRELUDE
    + """
local now = clock()
local id = ARGV[2]
local max_active = tonumber(ARGV[3])
local records = redis.call('HGETALL', KEYS[1])
local mine = nil
local active = 0
local decoded = {}
for i = 1, #records, 2 do
  local r = cjson.decode(records[i + 1])
  decoded[records[i]] = r
  if r.active == 1 then active = active + 1 end
end
mine = decoded[id]
if mine == nil then
  mine = cjson.decode(ARGV[4])
  mine.seq = redis.call('INCR', KEYS[2])
  mine.active = 0
  mine.updated_at = now
  touch(KEYS[2])
elseif mine.active == 1 then
  return {1, active, 0}
end
local ahead = 0
for other_id, r in pairs(decoded) do
  if r.active ~= 1 and r.seq < mine.seq then ahead = ahead + 1 end
end
local granted = 0
if active + ahead < max_active then
  mine.active = 1
  mine.started_at = now
  active = active + 1
  granted = 1
  ahead = 0
end
redis.call('HSET', KEYS[1], id, cjson.encode(mine))
touch(KEYS[1])
return {granted, active, ahead}
"""
)

# KEYS: acts. ARGV: now, id.
_YIELD = (
    _PRELUDE
    + """
local raw = redis.call('HGET', KEYS[1], ARGV[2])
if not raw then return 0 end
local r = cjson.decode(raw)
r.active = 0
redis.call('HSET', KEYS[1], ARGV[2], cjson.encode(r))
return 1
"""
)

# KEYS: acts, states, beats. ARGV: now, id, activity_id or '', state JSON or '', owner token.
_RECORD_STATE = (
    _PRELUDE
    + """
local now = clock()
redis.call('HSET', KEYS[3], ARGV[5], fmt(now))
local raw = redis.call('HGET', KEYS[1], ARGV[2])
if not raw then return 0 end
local r = cjson.decode(raw)
if ARGV[3] ~= '' then r.activity_id = ARGV[3] end
r.updated_at = now
redis.call('HSET', KEYS[1], ARGV[2], cjson.encode(r))
if ARGV[4] ~= '' then
  redis.call('HSET', KEYS[2], ARGV[2], ARGV[4])
  touch(KEYS[2])
end
touch(KEYS[1])
return 1
"""
)

# KEYS: acts, states. ARGV: now, id.
_CLOSE_ACTIVITY = """
redis.call('HDEL', KEYS[1], ARGV[2])
redis.call('HDEL', KEYS[2], ARGV[2])
return 1
"""

# KEYS: owners, beats, acts. ARGV: now, owner token, owner JSON.
_HEARTBEAT = (
    _PRELUDE
    + """
local now = clock()
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
redis.call('HSET', KEYS[2], ARGV[2], fmt(now))
touch(KEYS[1])
touch(KEYS[2])
local reaped = {}
local records = redis.call('HGETALL', KEYS[3])
for i = 1, #records, 2 do
  local r = cjson.decode(records[i + 1])
  if r.owner == ARGV[2] and r.claimed_by and r.claimed_by ~= ARGV[2] then
    table.insert(reaped, r.key)
  end
end
return reaped
"""
)

# KEYS: acts, states, owners, beats. ARGV: now, claimer token, then per candidate 5 values:
# id, action ('claim' | 'drop'), expected claimed_by (or ''), owner's heartbeat as read (or ''),
# claimer's heartbeat as read (or ''). Then per gone owner 2 values: token, heartbeat as read.
_CLAIM = (
    _PRELUDE
    + """
local me = ARGV[2]
local n = tonumber(ARGV[3])
local won = {}
local function beat(token)
  if token == nil or token == '' then return '' end
  return redis.call('HGET', KEYS[4], token) or ''
end
local i = 4
for c = 1, n do
  local id, action, by, owner_beat, by_beat = ARGV[i], ARGV[i+1], ARGV[i+2], ARGV[i+3], ARGV[i+4]
  i = i + 5
  local raw = redis.call('HGET', KEYS[1], id)
  if raw then
    local r = cjson.decode(raw)
    local current_by = r.claimed_by or ''
    if current_by == by and beat(r.owner) == owner_beat and beat(by) == by_beat then
      if action == 'drop' then
        redis.call('HDEL', KEYS[1], id)
        redis.call('HDEL', KEYS[2], id)
      else
        r.claimed_by = me
        redis.call('HSET', KEYS[1], id, cjson.encode(r))
        table.insert(won, id)
      end
    end
  end
end
local gone = {}
while i <= #ARGV do
  gone[ARGV[i]] = ARGV[i + 1]
  i = i + 2
end
local referenced = {}
local records = redis.call('HGETALL', KEYS[1])
for j = 1, #records, 2 do
  local r = cjson.decode(records[j + 1])
  referenced[r.owner] = true
  if r.claimed_by then referenced[r.claimed_by] = true end
end
for token, seen in pairs(gone) do
  if not referenced[token] and beat(token) == seen then
    redis.call('HDEL', KEYS[3], token)
    redis.call('HDEL', KEYS[4], token)
  end
end
return won
"""
)

# KEYS: acts, states. ARGV: now, id, me, ended ('1' | '0').
_SETTLE = """
local raw = redis.call('HGET', KEYS[1], ARGV[2])
if not raw then return 0 end
local r = cjson.decode(raw)
if r.claimed_by ~= ARGV[3] then return 0 end
if ARGV[4] == '1' then
  redis.call('HDEL', KEYS[1], ARGV[2])
  redis.call('HDEL', KEYS[2], ARGV[2])
else
  r.claimed_by = nil
  redis.call('HSET', KEYS[1], ARGV[2], cjson.encode(r))
end
return 1
"""

# KEYS: acts, states, owners, beats, sent, seq. ARGV: now, token, owner JSON, window, count,
# then per record: id, record JSON, state JSON or '', started age or ''; then request ages.
_RESTORE = (
    _PRELUDE
    + """
local now = clock()
local token = ARGV[2]
redis.call('HSET', KEYS[3], token, ARGV[3])
redis.call('HSET', KEYS[4], token, fmt(now))
local window = tonumber(ARGV[4])
local n = tonumber(ARGV[5])
local keep = {}
local i = 6
for c = 1, n do keep[ARGV[i]] = true; i = i + 4 end
local records = redis.call('HGETALL', KEYS[1])
local seqs = {}
for j = 1, #records, 2 do
  local r = cjson.decode(records[j + 1])
  if r.owner == token and not keep[records[j]] then
    redis.call('HDEL', KEYS[1], records[j])
    redis.call('HDEL', KEYS[2], records[j])
  end
  seqs[records[j]] = r.seq
end
i = 6
for c = 1, n do
  local id, raw, state, age = ARGV[i], ARGV[i+1], ARGV[i+2], ARGV[i+3]
  i = i + 4
  local r = cjson.decode(raw)
  r.seq = seqs[id] or redis.call('INCR', KEYS[6])
  r.updated_at = now
  if age ~= '' then r.started_at = now - tonumber(age) end
  redis.call('HSET', KEYS[1], id, cjson.encode(r))
  if state ~= '' then redis.call('HSET', KEYS[2], id, state) end
end
while i <= #ARGV do
  local ticket = redis.call('INCR', KEYS[6])
  redis.call('ZADD', KEYS[5], now - tonumber(ARGV[i]), ticket)
  i = i + 1
end
redis.call('PEXPIRE', KEYS[5], math.ceil(window * 2000))
for k = 1, 4 do touch(KEYS[k]) end
touch(KEYS[6])
return 1
"""
)

# KEYS: acts, states, owners, beats. ARGV: now, token.
_CLOSE = """
local records = redis.call('HGETALL', KEYS[1])
for j = 1, #records, 2 do
  local r = cjson.decode(records[j + 1])
  if r.owner == ARGV[2] then
    redis.call('HDEL', KEYS[1], records[j])
    redis.call('HDEL', KEYS[2], records[j])
  end
end
redis.call('HDEL', KEYS[3], ARGV[2])
redis.call('HDEL', KEYS[4], ARGV[2])
return 1
"""


class RedisBackend(Backend):
    """The ledger of ``account`` in the Redis at ``url``.

    Raises at construction when the server cannot be reached; ``open_ledger`` then logs once and
    falls back to memory. ``client`` replaces the connection built from ``url`` (tests).
    ``server_time=False`` makes the scripts use the ``now`` the caller passes instead of the
    server's clock (a fake clock in tests; every process must then share that clock).
    """

    name = "redis"

    def __init__(
        self,
        url: str,
        *,
        account: Account,
        window: float,
        owner: Owner,
        timeout: float = DEFAULT_REDIS_TIMEOUT,
        client: redis.Redis | None = None,
        server_time: bool = True,
    ) -> None:
        if not window > 0:
            raise ValueError("window must be positive")
        self.window = window
        self.owner = owner
        self._server_time = server_time
        self._closed = False
        self._redis = (
            client
            if client is not None
            else redis.Redis.from_url(
                url,
                socket_timeout=timeout,
                socket_connect_timeout=timeout,
                retry_on_timeout=False,
                decode_responses=True,
            )
        )
        prefix = f"livebar:{{{account.id}}}:"
        self._sent, self._seq = prefix + "sent", prefix + "seq"
        self._owners, self._beats = prefix + "owners", prefix + "beats"
        self._acts, self._states = prefix + "acts", prefix + "states"
        r = self._redis
        self._acquire = r.register_script(_ACQUIRE)
        self._used = r.register_script(_USED)
        self._landed = r.register_script(_LANDED)
        self._request_slot = r.register_script(_REQUEST_SLOT)
        self._yield = r.register_script(_YIELD)
        self._record_state = r.register_script(_RECORD_STATE)
        self._close_activity = r.register_script(_CLOSE_ACTIVITY)
        self._heartbeat = r.register_script(_HEARTBEAT)
        self._claim = r.register_script(_CLAIM)
        self._settle = r.register_script(_SETTLE)
        self._restore = r.register_script(_RESTORE)
        self._close = r.register_script(_CLOSE)
        self._fleets = RedisFleets(r, prefix, _PRELUDE, self._run)
        self._watch = RedisWatch(r, prefix, self._run)
        self.schedules = RedisSchedules(r, prefix, self._run)
        self._owner_json = json.dumps(
            {"host": owner.host, "pid": owner.pid, "start": owner.start, "hostname": owner.hostname}
        )
        self.heartbeat(0.0)  # registers the owner; raises if the server is not there

    def __repr__(self) -> str:
        return f"RedisBackend({self._sent.rsplit(':', 1)[0]!r})"

    def _run(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        try:
            return script(keys=keys, args=args)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise LedgerUnavailable(str(exc)) from exc

    def _now(self, now: float) -> str:
        return "" if self._server_time else repr(float(now))

    def _id(self, key: str) -> str:
        return f"{self.owner.token}/{key}"

    # -- the request window -------------------------------------------------------------------

    def acquire(self, now: float, *, limit: int, floor: int) -> _Grant:
        admitted, used, wait, ticket, at = self._run(
            self._acquire, [self._sent, self._seq], [self._now(now), self.window, limit - floor]
        )
        ticket = int(ticket) if admitted else None
        return _Grant(bool(admitted), int(used), float(wait), ticket, float(at))

    def refund(self, ticket: int) -> None:
        try:
            self._redis.zrem(self._sent, str(ticket))
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise LedgerUnavailable(str(exc)) from exc

    def landed(self, ticket: int, now: float) -> None:
        self._run(self._landed, [self._sent], [self._now(now), str(ticket)])

    def used(self, now: float) -> int:
        return int(self._run(self._used, [self._sent], [self._now(now), self.window]))

    # -- activities ---------------------------------------------------------------------------

    def request_slot(
        self, key: str, now: float, *, max_active: int, title: str, stream_key: str | None
    ) -> SlotGrant:
        record = {"owner": self.owner.token, "key": key, "title": title}
        if stream_key is not None:
            record["stream_key"] = stream_key
        granted, active, ahead = self._run(
            self._request_slot,
            [self._acts, self._seq],
            [self._now(now), self._id(key), max_active, json.dumps(record)],
        )
        return SlotGrant(bool(granted), int(active), int(ahead))

    def yield_slot(self, key: str) -> None:
        self._run(self._yield, [self._acts], ["", self._id(key)])

    def record_state(
        self, key: str, now: float, *, activity_id: str | None, state: dict[str, Any] | None
    ) -> None:
        encoded = "" if state is None else json.dumps(state, separators=(",", ":"))
        self._run(
            self._record_state,
            [self._acts, self._states, self._beats],
            [self._now(now), self._id(key), activity_id or "", encoded, self.owner.token],
        )

    def close_activity(self, key: str) -> None:
        self._run(self._close_activity, [self._acts, self._states], ["", self._id(key)])

    # -- owners and orphans -------------------------------------------------------------------

    def heartbeat(self, now: float) -> tuple[str, ...]:
        keys = self._run(
            self._heartbeat,
            [self._owners, self._beats, self._acts],
            [self._now(now), self.owner.token, self._owner_json],
        )
        return tuple(keys)

    def claim_orphans(self, now: float, *, stale_after: float) -> list[Orphan]:
        me = self.owner
        try:
            with self._redis.pipeline(transaction=True) as pipe:
                pipe.time()
                pipe.hgetall(self._owners)
                pipe.hgetall(self._beats)
                pipe.hgetall(self._acts)
                pipe.hgetall(self._states)
                (seconds, micros), owners_raw, beats, acts, states = pipe.execute()
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise LedgerUnavailable(str(exc)) from exc
        server_now = float(seconds) + float(micros) / 1e6 if self._server_time else now
        owners = {token: _owner(json.loads(raw)) for token, raw in owners_raw.items()}
        verdicts: dict[str, bool] = {}

        def gone(token: str | None) -> bool:
            if not token:
                return True
            if token not in verdicts:
                known = owners.get(token)
                beat = beats.get(token)
                verdicts[token] = (
                    known is None
                    or beat is None
                    or not known.alive(
                        me, heartbeat_age=server_now - float(beat), stale_after=stale_after
                    )
                )
            return verdicts[token]

        args: list[Any] = []
        candidates: dict[str, tuple[dict[str, Any], Owner]] = {}
        for ident, raw in acts.items():
            record = json.loads(raw)
            token, by = record["owner"], record.get("claimed_by") or ""
            if token == me.token or not gone(token) or not gone(by):
                continue
            has_remote = record.get("stream_key") or record.get("activity_id")
            action = "claim" if record.get("active") == 1 and has_remote else "drop"
            args += [ident, action, by, beats.get(token, ""), beats.get(by, "") if by else ""]
            if action == "claim":
                candidates[ident] = (record, owners.get(token) or Owner.from_token(token))
        gone_owners = [t for t in owners if t != me.token and gone(t)]
        if not args and not gone_owners:
            return []
        count = len(args) // 5
        for token in gone_owners:
            args += [token, beats.get(token, "")]
        won = self._run(
            self._claim,
            [self._acts, self._states, self._owners, self._beats],
            [self._now(now), me.token, count, *args],
        )
        return [_orphan(ident, *candidates[ident], me, beats, states) for ident in won]

    def settle_orphan(self, orphan_id: str, *, ended: bool) -> None:
        self._run(
            self._settle,
            [self._acts, self._states],
            ["", orphan_id, self.owner.token, "1" if ended else "0"],
        )

    def restore(self, tracked: list[Tracked], ages: list[float], now: float) -> None:
        args: list[Any] = [self._now(now), self.owner.token, self._owner_json, self.window]
        args.append(len(tracked))
        for t in tracked:
            record: dict[str, Any] = {
                "owner": self.owner.token,
                "key": t.key,
                "title": t.title,
                "active": int(t.active),
            }
            if t.stream_key is not None:
                record["stream_key"] = t.stream_key
            if t.activity_id is not None:
                record["activity_id"] = t.activity_id
            state = "" if t.state is None else json.dumps(t.state, separators=(",", ":"))
            age = "" if t.started_at is None else repr(max(now - t.started_at, 0.0))
            args += [self._id(t.key), json.dumps(record), state, age]
        args += [repr(age) for age in ages if age >= 0]
        self._run(
            self._restore,
            [self._acts, self._states, self._owners, self._beats, self._sent, self._seq],
            args,
        )

    # -- watching (``livebar._ledger.redis_watch``) ----

    def watch(self, now: float, *, stale_after: float) -> list[Watched]:
        clock = None if self._server_time else now
        owners = lambda raw: _owner(json.loads(raw))  # noqa: E731
        return self._watch.watch(self.owner, clock, stale_after, owners)

    def mark(self, record: str, now: float, *, marked: bool) -> bool:
        return self._watch.mark(record, self.owner, marked)

    def take_marks(self, now: float) -> tuple[str, ...]:
        return self._watch.take_marks(self.owner)

    # -- fleets (``livebar._ledger.redis_fleets``) ----------------------------------------------

    def fleet_join(self, fleet: str, member: str, now: float, join: FleetJoin) -> str:
        return self._fleets.join(self._now(now), fleet, member, join)

    def fleet_report(self, run: str, member: str, now: float, report: FleetReport) -> bool:
        return self._fleets.report(self._now(now), run, member, self.owner.token, report)

    def fleet_read(self, run: str, now: float) -> FleetRecord | None:
        return self._fleets.read(run, None if self._server_time else now)

    def fleet_card(self, run: str, now: float, **options: Any) -> bool:
        return self._fleets.card(self._now(now), run, **options)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._run(
                self._close,
                [self._acts, self._states, self._owners, self._beats],
                ["", self.owner.token],
            )
        finally:
            self._redis.close()


def _owner(data: dict[str, Any]) -> Owner:
    return Owner(
        str(data.get("host", "")),
        int(data.get("pid", 0)),
        int(data.get("start", 0)),
        str(data.get("hostname", "")),
    )


def _orphan(
    ident: str,
    record: dict[str, Any],
    owner: Owner,
    me: Owner,
    beats: dict[str, str],
    states: dict[str, str],
) -> Orphan:
    """The orphan ``ident`` as this process claimed it, from its record and its owner's beat."""
    beat = beats.get(record["owner"])
    updated = float(record.get("updated_at") or 0.0)
    state = states.get(ident)
    return Orphan(
        id=ident,
        owner=owner,
        same_host=owner.host == me.host,
        title=record.get("title", ""),
        stream_key=record.get("stream_key"),
        activity_id=record.get("activity_id"),
        started_at=float(record.get("started_at") or updated),
        last_seen=max(updated, float(beat) if beat else 0.0),
        state=json.loads(state) if state else None,
    )
