"""The account's Live Activities: both lifecycles (start / update / end, and the stream's PUT
and DELETE), and what iOS shows of each (``_model``'s ``LiveActivityModel``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from livebar._wire.errors import ValidationError
from livebar._wire.model import Model
from livebar._wire.payload import (
    EndActivity,
    StartActivity,
    StreamEnd,
    StreamUpdate,
    UpdateActivity,
)
from livebar.simulator._account import Account, KeyScope
from livebar.simulator._answers import JSON, Reply, forbidden, iso, outside_scope
from livebar.simulator._model import LiveActivityModel

_P = TypeVar("_P", bound=Model)

SERVER_AUTO_DISMISS_MINUTES = 3
"""What the end schema documents when ``auto_dismiss_minutes`` is absent."""
LONGEST_DISMISS = 10**9
"""Seconds: any auto-dismiss beyond this (decades) is the same to the iOS model, which keeps an
ended card a few hours at most; clamping first keeps a huge integer from overflowing a float."""
ACTIVITY_LIMIT_MESSAGE = "Only {limit} concurrent Live Activities are allowed per account"
CARRIED_FIELDS = ("type", "number_of_steps", "upper_limit", "duration_seconds", "counts_down")
"""Content-state fields an update or end may omit to keep their current value."""


@dataclass
class Activity:
    """One Live Activity: what it holds, what the phone displays, and its history."""

    activity_id: str
    stream_key: str | None
    content_state: JSON
    action: JSON | None
    secondary_action: JSON | None
    alert: JSON | None
    devices: list[str]
    effective_channel_slugs: list[str] | None
    ios: LiveActivityModel
    displayed: JSON
    displayed_action: JSON | None
    displayed_secondary_action: JSON | None
    tags: list[str] | None = None
    metadata: JSON | None = None
    auto_dismiss_minutes: int | None = None
    previous_activity_id: str | None = None
    next_activity_id: str | None = None
    history: list[JSON] = field(default_factory=list)
    shown: list[JSON] = field(default_factory=list)

    def display(self) -> None:
        """The phone shows what the activity holds now."""
        self.displayed = self.content_state
        self.displayed_action = self.action
        self.displayed_secondary_action = self.secondary_action

    def record(self, now: float, kind: str, state: JSON, *, displayed: bool) -> None:
        """Add a request (or iOS's doing) to the history, and to what was shown if it was."""
        event = {"t": now, "at": iso(now), "kind": kind, "content_state": state}
        self.history.append(dict(event, displayed=displayed))
        if displayed:
            self.shown.append(event)

    def label(self, tags: Sequence[str] | None, metadata: Mapping[str, Any] | None) -> None:
        """Replace the tags and metadata given (left out: kept; empty: cleared)."""
        if tags is not None:
            self.tags = list(tags)
        if metadata is not None:
            self.metadata = dict(metadata)


@dataclass
class Stream:
    """A stream key and the activity it drives now (None: ended)."""

    activity_id: str | None = None


class Activities:
    """Every Live Activity of the account and every stream key, by id."""

    def __init__(self, account: Account) -> None:
        self._account = account
        self.by_id: dict[str, Activity] = {}
        self._streams: dict[str, Stream] = {}

    def open_count(self, now: float) -> int:
        """How many activities count against the concurrent limit now."""
        return sum(1 for activity in self.by_id.values() if activity.ios.is_open(now))

    # The manual lifecycle.

    def start(self, now: float, scope: KeyScope, data: JSON) -> Reply:
        """``POST /live-activity/start``."""
        request = self._account.parse(StartActivity, data)
        resolved = self._account.recipients(scope, request.channels, what="Live Activity devices")
        if isinstance(resolved, Reply):
            return resolved
        created = self._create(
            now,
            resolved,
            stream_key=None,
            request=request,
            content_state=request.content_state.to_json(),
            tags=_listed(request.tags),
            metadata=_mapped(request.metadata),
        )
        if isinstance(created, Reply):
            return created
        body: JSON = {
            "success": True,
            "devices_notified": len(created.devices),
            "users_notified": 1,
            "activity_id": created.activity_id,
            "effective_channel_slugs": created.effective_channel_slugs,
            "timestamp": iso(now),
        }
        return Reply(200, self._account.newer(body, tags=created.tags))

    def update(self, now: float, scope: KeyScope, data: JSON) -> Reply:
        """``POST /live-activity/update``: 403 for an ended activity."""
        addressed = self._addressed(scope, data, UpdateActivity, "update")
        if isinstance(addressed, Reply):
            return addressed
        activity, request = addressed
        if activity.ios.ended_at is not None:
            return forbidden("update")
        warning = self._apply_update(now, activity, request)
        activity.label(request.tags, request.metadata)
        body = _delivered(activity, now)
        if warning is not None:
            body["warning"] = warning
        return Reply(200, self._account.newer(body, tags=activity.tags))

    def end(self, now: float, scope: KeyScope, data: JSON) -> Reply:
        """``POST /live-activity/end``: an ended activity answers 200 and changes nothing."""
        addressed = self._addressed(scope, data, EndActivity, "end")
        if isinstance(addressed, Reply):
            return addressed
        activity, request = addressed
        body = _delivered(activity, now)
        if activity.ios.ended_at is not None:
            return Reply(
                200,
                self._account.newer(
                    body, ignored=True, message="This Live Activity has already ended"
                ),
            )
        self._finish(now, activity, request)
        activity.label(request.tags, request.metadata)
        return Reply(200, body)

    def _addressed(
        self, scope: KeyScope, data: JSON, cls: type[_P], verb: str
    ) -> Reply | tuple[Activity, _P]:
        """The activity an update or end names and the parsed request, or the answer instead:
        400 for the body first, then 403 for an id this key may not touch."""
        activity_id = data.get("activity_id")
        activity = self.by_id.get(activity_id) if isinstance(activity_id, str) else None
        request = self._account.parse(cls, self._with_current_type(data, activity))
        if activity is None or not scope.covers(activity.effective_channel_slugs):
            return forbidden(verb)
        return activity, request

    # The stream lifecycle.

    def stream(self, now: float, scope: KeyScope, data: JSON, *, stream_key: str) -> Reply:
        """``PUT /live-activity/stream/{stream_key}``: starts (or rotates) the stream's activity,
        or updates it (``noop`` when nothing changes)."""
        stream = self._streams.get(stream_key)
        current = None
        if stream is not None and stream.activity_id is not None:
            current = self.by_id[stream.activity_id]
            if current.ios.ended_at is not None:  # ended through /live-activity/end
                current = None
        request = self._account.parse(StreamUpdate, self._with_current_type(data, current))
        if request.channels is not None and not scope.covers(request.channels):
            return outside_scope()
        if current is not None and not scope.covers(current.effective_channel_slugs):
            return forbidden("update")
        body: JSON = {"success": True, "stream_key": stream_key}
        rotate_after = self._account.config.stream_rotate_after
        if current is None or current.ios.needs_rotation(now, rotate_after):
            refused = self._stream_start(now, scope, stream_key, request, current, body)
            if refused is not None:
                return refused
        else:
            self._stream_update(now, current, request, body)
        body["timestamp"] = iso(now)
        return Reply(200, body)

    def _stream_start(
        self,
        now: float,
        scope: KeyScope,
        key: str,
        request: StreamUpdate,
        current: Activity | None,
        body: JSON,
    ) -> Reply | None:
        """Start the stream's activity, or replace ``current`` (a rotation); fill the answer's
        ``body``, or return the refusal."""
        content_state = request.content_state.to_json()
        if current is None:
            recipients = self._account.recipients(
                scope, request.channels, what="Live Activity devices"
            )
            if isinstance(recipients, Reply):
                return recipients
            tags, metadata = _listed(request.tags), _mapped(request.metadata)
        else:
            recipients = (current.effective_channel_slugs, current.devices)
            content_state = _carry_over(current.content_state, content_state)
            tags = current.tags if request.tags is None else list(request.tags)
            metadata = current.metadata if request.metadata is None else dict(request.metadata)
        _check_start_rules(content_state)
        created = self._create(
            now,
            recipients,
            stream_key=key,
            request=request,
            content_state=content_state,
            tags=tags,
            metadata=metadata,
            replacing=current,
        )
        if isinstance(created, Reply):
            return created
        self._streams[key] = Stream(created.activity_id)
        body.update(
            operation="started" if current is None else "rotated",
            activity_id=created.activity_id,
            devices_notified=len(created.devices),
            users_notified=1,
            effective_channel_slugs=created.effective_channel_slugs,
        )
        if current is not None:
            body["previous_activity_id"] = current.activity_id
        self._account.newer(body, tags=created.tags)
        return None

    def _stream_update(
        self, now: float, current: Activity, request: StreamUpdate, body: JSON
    ) -> None:
        """Update the stream's activity (``noop`` if nothing would change); fill ``body``."""
        unchanged = (
            _carry_over(current.content_state, request.content_state.to_json())
            == current.content_state
            and _to_json(request.action) == current.action
            and _to_json(request.secondary_action) == current.secondary_action
            and (request.tags is None or list(request.tags) == current.tags)
            and (request.metadata is None or dict(request.metadata) == current.metadata)
        )
        if unchanged:
            body.update(operation="noop", activity_id=current.activity_id)
            self._account.newer(body, ignored=True)
            current.record(now, "noop", current.content_state, displayed=False)
            return
        warning = self._apply_update(now, current, request)
        current.label(request.tags, request.metadata)
        body.update(
            operation="updated",
            activity_id=current.activity_id,
            devices_notified=len(current.devices),
        )
        if warning is not None:
            body["warning"] = warning
        self._account.newer(body, tags=current.tags)

    def stream_end(
        self, now: float, scope: KeyScope, data: JSON | None, *, stream_key: str
    ) -> Reply:
        """``DELETE /live-activity/stream/{stream_key}``: 404 for a key never seen, 200 with
        ``activity_id: null`` for a stream already ended."""
        request = None if data is None else self._account.parse(StreamEnd, data)
        stream = self._streams.get(stream_key)
        if stream is None:
            return Reply(
                404,
                {
                    "error": "Live Activity stream not found",
                    "message": f"No Live Activity stream found for stream_key: {stream_key}",
                },
            )
        activity = None if stream.activity_id is None else self.by_id[stream.activity_id]
        if activity is not None and not scope.covers(activity.effective_channel_slugs):
            return forbidden("end")
        stream.activity_id = None
        body: JSON = {"success": True, "operation": "ended", "stream_key": stream_key}
        if activity is None or activity.ios.ended_at is not None:
            body.update(activity_id=None, timestamp=iso(now))
            return Reply(200, self._account.newer(body, ignored=True))
        self._finish(now, activity, request)
        if request is not None:
            activity.label(request.tags, request.metadata)
        body.update(
            activity_id=activity.activity_id,
            devices_queued=len(activity.devices),
            timestamp=iso(now),
        )
        return Reply(200, body)

    # What both lifecycles do to an activity.

    def _create(
        self,
        now: float,
        recipients: tuple[list[str] | None, list[str]],
        *,
        stream_key: str | None,
        request: StartActivity | StreamUpdate,
        content_state: JSON,
        tags: list[str] | None,
        metadata: JSON | None,
        replacing: Activity | None = None,
    ) -> Reply | Activity:
        """A new activity (replacing ``replacing``: a rotation), or 429 at the concurrent
        limit."""
        effective, devices = recipients
        active = self.open_count(now)
        if replacing is not None and replacing.ios.is_open(now):
            active -= 1
        limit = self._account.config.max_activities
        if active >= limit:
            return Reply(
                429,
                {
                    "error": "Live Activity limit reached",
                    "message": ACTIVITY_LIMIT_MESSAGE.format(limit=limit),
                    "limit": limit,
                    "active": active,
                },
            )
        action = _to_json(request.action)
        secondary_action = _to_json(request.secondary_action)
        activity = Activity(
            activity_id=self._account.new_id(),
            stream_key=stream_key,
            content_state=content_state,
            action=action,
            secondary_action=secondary_action,
            alert=_to_json(request.alert),
            devices=devices,
            effective_channel_slugs=effective,
            ios=LiveActivityModel(now, self._account.config.ios_limits),
            displayed=content_state,
            displayed_action=action,
            displayed_secondary_action=secondary_action,
            tags=tags,
            metadata=metadata,
        )
        if replacing is not None:
            replacing.ios.replaced(now)
            replacing.next_activity_id = activity.activity_id
            activity.previous_activity_id = replacing.activity_id
            replacing.record(now, "rotated", replacing.content_state, displayed=False)
        self.by_id[activity.activity_id] = activity
        activity.record(now, "start", content_state, displayed=True)
        return activity

    def _with_current_type(self, data: JSON, activity: Activity | None) -> JSON:
        """An update of a ``value`` activity that omits ``type`` is read as type ``value``."""
        state = data.get("content_state")
        if (
            activity is None
            or self._account.config.strict
            or activity.content_state.get("type") != "value"
            or not isinstance(state, dict)
            or "type" in state
        ):
            return data
        return {**data, "content_state": {**state, "type": "value"}}

    def _apply_update(
        self, now: float, activity: Activity, request: UpdateActivity | StreamUpdate
    ) -> str | None:
        """Apply an update (its state carried over); the server's ``warning``, if it warns."""
        activity.content_state = _carry_over(
            activity.content_state, request.content_state.to_json()
        )
        activity.action = _to_json(request.action)
        activity.secondary_action = _to_json(request.secondary_action)
        verdict = activity.ios.update(now)
        if verdict.shown:
            activity.display()
        activity.record(now, "update", activity.content_state, displayed=verdict.shown)
        if not verdict.warned:
            return None
        elapsed = now - activity.ios.started_at
        interval = self._account.config.ios_budget_interval
        return (
            f"This Live Activity has received {activity.ios.updates} updates in "
            f"{elapsed / 60:.1f} minutes. iOS throttles Live Activities updated more often than "
            f"once every {interval / 60:g} minutes on average; "
            "new states may not appear on devices."
        )

    def _finish(
        self, now: float, activity: Activity, request: EndActivity | StreamEnd | None
    ) -> None:
        """End ``activity`` with what ``request`` (None: a DELETE without a body) gives."""
        minutes = seconds = None
        if request is not None:
            if request.content_state is not None:
                state = request.content_state.to_json()
                activity.content_state = _carry_over(activity.content_state, state)
            if request.action is not None:
                activity.action = request.action.to_json()
            if request.secondary_action is not None:
                activity.secondary_action = request.secondary_action.to_json()
            minutes = request.auto_dismiss_minutes
            if isinstance(request, StreamEnd):
                seconds = request.auto_dismiss_seconds
        activity.auto_dismiss_minutes = minutes
        shown = activity.ios.end(now, _dismiss_after(minutes, seconds))
        if shown:
            activity.display()
        activity.record(now, "end", activity.content_state, displayed=shown)


def _dismiss_after(minutes: int | None, seconds: int | None) -> float:
    """Seconds an ended card stays: iOS keeps one a few hours at most, so a larger value (even
    one too large for a float, which the spec allows) is only "as long as iOS keeps it"."""
    if seconds is not None:
        return float(min(seconds, LONGEST_DISMISS))
    if minutes is not None:
        return min(minutes, LONGEST_DISMISS // 60) * 60.0
    return SERVER_AUTO_DISMISS_MINUTES * 60.0


def _carry_over(current: JSON, new: JSON) -> JSON:
    state = dict(new)
    for name in CARRIED_FIELDS:
        if name not in state and name in current:
            state[name] = current[name]
    return state


def _check_start_rules(content_state: JSON) -> None:
    """A stream PUT that starts an activity obeys /live-activity/start's rules (400 otherwise)."""
    if "type" not in content_state:
        raise ValidationError(
            "content_state.type", "required", "is required to start a new stream activity"
        )
    StartActivity.from_json({"content_state": content_state}, newer=True)


def _delivered(activity: Activity, now: float) -> JSON:
    """The answer to a manual update or end: sent straight to every device."""
    return {
        "success": True,
        "activity_id": activity.activity_id,
        "devices_notified": len(activity.devices),
        "devices_queued": 0,
        "timestamp": iso(now),
    }


def _listed(values: Sequence[str] | None) -> list[str] | None:
    return None if values is None else list(values)


def _mapped(values: Mapping[str, Any] | None) -> JSON | None:
    return None if values is None else dict(values)


def _to_json(value: Model | None) -> JSON | None:
    return None if value is None else value.to_json()
