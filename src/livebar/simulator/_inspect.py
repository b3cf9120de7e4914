"""What tests and the lock-screen page see of the simulated account: the request log, the
activities with their histories, the phone, and the page's snapshot. Read-only views."""

from __future__ import annotations

import json
from typing import Any

from livebar.simulator._account import Account
from livebar.simulator._activities import Activities, Activity
from livebar.simulator._answers import JSON, iso
from livebar.simulator._faults import Faults
from livebar.simulator._model import ACTIVE, DISMISSED, EXPIRED
from livebar.simulator._notifications import Notifications

DISMISSING_SECONDS = 10.0
"""An ended activity this close to its dismissal is drawn as fading."""
LOG_LIMIT = 1000
"""Request log entries kept; older ones are forgotten."""
_TINY = 1e-9


class RequestLog:
    """Every API request, oldest first (at most ``LOG_LIMIT``), with what answered it."""

    def __init__(self) -> None:
        self.entries: list[JSON] = []
        self._count = 0

    def record(
        self,
        now: float,
        method: str,
        path: str,
        body: bytes,
        *,
        status: int | None,
        response: JSON | None,
        counted: bool,
        fault: str | None,
    ) -> None:
        """Log one request: ``counted`` by the rate limit or not, ``fault`` what a fault did."""
        self._count += 1
        self.entries.append(
            {
                "id": self._count,
                "t": now,
                "at": iso(now),
                "method": method,
                "path": path,
                "status": status,
                "body": loggable(body),
                "response": response,
                "counted": counted,
                "fault": fault,
            }
        )
        if len(self.entries) > LOG_LIMIT:
            del self.entries[: len(self.entries) - LOG_LIMIT]


def loggable(body: bytes) -> Any:
    """A body as the log shows it: its JSON, else its first 1000 bytes as text."""
    if not body:
        return None
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return body[:1000].decode("utf-8", "replace")


def lock_screen(now: float, activities: Activities, notifications: Notifications) -> JSON:
    """What the lock screen shows: Live Activities (newest first) and notifications."""
    cards = [
        card(activity, now)
        for activity in reversed(list(activities.by_id.values()))
        if activity.ios.phase(now) != DISMISSED
    ]
    return {
        "activities": cards,
        "notifications": [shown_push(push) for push in reversed(notifications.pushes[-5:])],
        "badges": dict(notifications.badges),
        "metrics": {key: dict(entry) for key, entry in notifications.metrics.items()},
    }


def page(
    now: float,
    account: Account,
    activities: Activities,
    notifications: Notifications,
    faults: Faults,
    log: RequestLog,
) -> JSON:
    """Everything the lock-screen page draws: the phone, the budget panel and the log."""
    config = account.config
    return {
        "now": iso(now),
        "phone": lock_screen(now, activities, notifications),
        "account": {
            "requests_in_window": account.window.count(now),
            "rate_limit": config.rate_limit,
            "rate_window": config.rate_window,
            "active_activities": activities.open_count(now),
            "max_activities": config.max_activities,
            "devices": {name: list(chs) for name, chs in config.devices.items()},
            "strict": config.strict,
            "billing_blocked": account.billing,
        },
        "budget": {
            "updates": config.ios_budget_updates,
            "interval": config.ios_budget_interval,
            "throttle_seconds": config.throttle_seconds,
            "max_age": config.activity_max_age,
        },
        "faults": faults.to_json(),
        "activities": [
            budget_row(activity, now) for activity in reversed(list(activities.by_id.values()))
        ],
        "requests": [dict(entry) for entry in log.entries[-40:]][::-1],
    }


def card(activity: Activity, now: float) -> JSON:
    """One Live Activity as the lock screen draws it."""
    dismiss_at = activity.ios.dismiss_at(now)
    return {
        "activity_id": activity.activity_id,
        "stream_key": activity.stream_key,
        "state": phase(activity, now),
        "content_state": activity.displayed,
        "action": activity.displayed_action,
        "secondary_action": activity.displayed_secondary_action,
        "dismiss_in": None if dismiss_at is None else dismiss_at - now,
        "ends_in": activity.ios.expires_at - now if activity.ios.is_open(now) else None,
        "rotated_from": activity.previous_activity_id,
    }


def budget_row(activity: Activity, now: float) -> JSON:
    """One activity's line of the budget panel: updates, warnings, throttles."""
    ios = activity.ios
    elapsed = (ios.ended_at if ios.ended_at is not None else now) - ios.started_at
    throttled_until = ios.throttled_until(now)
    return {
        "activity_id": activity.activity_id,
        "stream_key": activity.stream_key,
        "title": activity.content_state.get("title"),
        "state": phase(activity, now),
        "updates": ios.updates,
        "updates_per_minute": ios.updates / max(elapsed, _TINY) * 60.0 if ios.updates else 0.0,
        "dropped": ios.dropped,
        "warnings": ios.warnings,
        "throttled": throttled_until is not None,
        "throttled_for": None if throttled_until is None else throttled_until - now,
        "throttles": len(ios.throttles),
    }


def describe(activity: Activity, now: float) -> JSON:
    """Everything about one activity: its budget row, states, history and what was shown."""
    ios = activity.ios
    row = budget_row(activity, now)
    dismiss_at = ios.dismiss_at(now)
    row.update(
        started_at=iso(ios.started_at),
        ended_at=None if ios.ended_at is None else iso(ios.ended_at),
        ended_by=_ended_by(activity, now),
        expires_at=iso(ios.expires_at),
        dismissed_at=None if dismiss_at is None or now < dismiss_at else iso(dismiss_at),
        auto_dismiss_minutes=activity.auto_dismiss_minutes,
        content_state=activity.content_state,
        displayed=activity.displayed,
        action=activity.action,
        secondary_action=activity.secondary_action,
        alert=activity.alert,
        devices=list(activity.devices),
        effective_channel_slugs=activity.effective_channel_slugs,
        tags=activity.tags,
        metadata=activity.metadata,
        previous_activity_id=activity.previous_activity_id,
        next_activity_id=activity.next_activity_id,
        history=[dict(event) for event in activity.history],
        shown=[dict(event) for event in activity.shown],
    )
    return row


def phase(activity: Activity, now: float) -> str:
    """What the card shows: active, ended, dismissing, expired (ended by iOS) or dismissed."""
    current = activity.ios.phase(now)
    dismiss_at = activity.ios.dismiss_at(now)
    if current in (ACTIVE, DISMISSED, EXPIRED) or dismiss_at is None:
        return current
    return "dismissing" if dismiss_at - now <= DISMISSING_SECONDS else current


def _ended_by(activity: Activity, now: float) -> str | None:
    if activity.next_activity_id is not None:
        return "rotation"
    if activity.ios.expired(now):
        return "ios"
    return None if activity.ios.ended_at is None else "request"


def shown_push(push: JSON) -> JSON:
    """A push as the phone received it."""
    shown = dict(push, received_at=iso(push["received_at"]))
    shown.pop("effective_channel_slugs", None)
    return shown
