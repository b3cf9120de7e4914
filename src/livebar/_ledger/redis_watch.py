"""Watching in the Redis ledger: the not-responding marks, one hash beside the records.

``livebar:{<account>}:marks`` hash: record id → the marker's owner token. ``HSETNX`` is the
claim (of two racing markers one sets it), ``HDEL`` clears it (and says whether it was there);
the owner takes its own marks back in one script. Liveness is judged in Python from one
transaction's read, as for orphans (an owner on this host by pid, any other by its heartbeat's
age on the server clock).
"""

from __future__ import annotations

import json
from typing import Any, Callable

import redis

from livebar._ledger.backend import LedgerUnavailable, Watched
from livebar._ledger.owner import Owner

__all__ = ["RedisWatch"]

# KEYS: marks, acts. ARGV: owner token.
_TAKE = """
local taken = {}
local marks = redis.call('HKEYS', KEYS[1])
for _, id in ipairs(marks) do
  local raw = redis.call('HGET', KEYS[2], id)
  if not raw then
    redis.call('HDEL', KEYS[1], id)
  else
    local r = cjson.decode(raw)
    if r.owner == ARGV[1] then
      redis.call('HDEL', KEYS[1], id)
      table.insert(taken, r.key)
    end
  end
end
return taken
"""

# KEYS: marks, acts. ARGV: id, marker token.
_MARK = """
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 0 then return 0 end
local set = redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], 604800000)
return set
"""


class RedisWatch:
    """The watch calls of ``RedisBackend``, on its connection and keys."""

    def __init__(
        self, client: redis.Redis, prefix: str, run: Callable[[Any, list[str], list[Any]], Any]
    ) -> None:
        self._redis = client
        self._run = run
        self._marks = prefix + "marks"
        self._acts, self._states = prefix + "acts", prefix + "states"
        self._owners, self._beats = prefix + "owners", prefix + "beats"
        self._take = client.register_script(_TAKE)
        self._mark = client.register_script(_MARK)

    def watch(
        self, me: Owner, now: float | None, stale_after: float, owner_of: Callable[[str], Owner]
    ) -> list[Watched]:
        try:
            with self._redis.pipeline(transaction=True) as pipe:
                pipe.time()
                pipe.hgetall(self._owners)
                pipe.hgetall(self._beats)
                pipe.hgetall(self._acts)
                pipe.hgetall(self._states)
                pipe.hgetall(self._marks)
                (seconds, micros), owners, beats, acts, states, marks = pipe.execute()
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise LedgerUnavailable(str(exc)) from exc
        clock = float(seconds) + float(micros) / 1e6 if now is None else now
        found: list[Watched] = []
        for ident, raw in acts.items():
            r = json.loads(raw)
            token = r["owner"]
            if token == me.token or r.get("claimed_by") or r.get("active") != 1:
                continue
            if not (r.get("stream_key") or r.get("activity_id")):
                continue
            owner = owner_of(owners[token]) if token in owners else Owner.from_token(token)
            updated = float(r.get("updated_at") or 0.0)
            beat = float(beats.get(token) or updated)
            silent = clock - max(beat, updated)
            state = states.get(ident)
            found.append(
                Watched(
                    id=ident,
                    owner=owner,
                    alive=token in owners
                    and owner.alive(me, heartbeat_age=silent, stale_after=stale_after),
                    same_host=owner.host == me.host,
                    title=r.get("title", ""),
                    stream_key=r.get("stream_key"),
                    activity_id=r.get("activity_id"),
                    started_at=float(r.get("started_at") or updated),
                    recorded_at=updated,
                    silent_for=silent,
                    state=json.loads(state) if state else None,
                    marked=ident in marks,
                )
            )
        return found

    def mark(self, record: str, me: Owner, marked: bool) -> bool:
        if marked:
            return bool(self._run(self._mark, [self._marks, self._acts], [record, me.token]))
        try:
            return bool(self._redis.hdel(self._marks, record))
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise LedgerUnavailable(str(exc)) from exc

    def take_marks(self, me: Owner) -> tuple[str, ...]:
        return tuple(self._run(self._take, [self._marks, self._acts], [me.token]))
