"""What the account sends that is not a Live Activity: push notifications (and their silent
replacements), the app icon's badge count and widget metrics."""

from __future__ import annotations

from livebar._wire.payload import BadgeCount, MetricValue, PushNotification, PushReplace
from livebar.simulator._account import Account, KeyScope
from livebar.simulator._answers import JSON, Reply, iso

PUSH_CONTENT = (
    "title",
    "message",
    "subtitle",
    "payload",
    "badge",
    "media",
    "redirection",
    "actions",
    "icon",
)
"""What a replacement replaces as a whole (tags and metadata only when given)."""


class Notifications:
    """The pushes the phone received, each device's badge count and each metric's value."""

    def __init__(self, account: Account) -> None:
        self._account = account
        self.pushes: list[JSON] = []
        self.badges: dict[str, int] = {}
        self.metrics: dict[str, JSON] = {}

    def push(self, now: float, scope: KeyScope, data: JSON) -> Reply:
        """``POST /push-notification``."""
        account = self._account
        request = account.parse(PushNotification, data)
        resolved = account.recipients(scope, request.channels, what="devices")
        if isinstance(resolved, Reply):
            return resolved
        effective, devices = resolved
        notification = request.to_json()
        notification.pop("target", None)
        notification["id"] = len(self.pushes) + 1
        notification["notification_id"] = account.new_id()
        notification["received_at"] = now
        notification["devices"] = devices
        notification["effective_channel_slugs"] = effective
        notification["replaced"] = 0
        self.pushes.append(notification)
        body: JSON = {
            "success": True,
            "devices_notified": len(devices),
            "users_notified": 1,
            "effective_channel_slugs": effective,
            "timestamp": iso(now),
        }
        return Reply(
            200,
            account.newer(body, notification_id=notification["notification_id"], tags=request.tags),
        )

    def replace(self, now: float, scope: KeyScope, data: JSON, *, notification_id: str) -> Reply:
        """``PUT /push-notification/{notification_id}`` (newer surface)."""
        request = self._account.parse(PushReplace, data)
        found = [push for push in self.pushes if push["notification_id"] == notification_id]
        if not found:
            return Reply(
                404,
                {
                    "error": "Push notification not found",
                    "message": f"No push notification found for notification_id: {notification_id}",
                },
            )
        push = found[0]
        if not scope.covers(push["effective_channel_slugs"]):
            return Reply(
                403,
                {
                    "error": "Forbidden",
                    "message": "This API key cannot replace this Push Notification",
                },
            )
        for name in PUSH_CONTENT:  # replaced as a whole; tags and metadata only when given
            push.pop(name, None)
        push.update(request.to_json())
        push["received_at"] = now
        push["replaced"] += 1
        body: JSON = {
            "success": True,
            "notification_id": notification_id,
            "devices_notified": len(push["devices"]),
            "users_notified": 1,
            "effective_channel_slugs": push["effective_channel_slugs"],
            "timestamp": iso(now),
        }
        return Reply(200, self._account.newer(body, tags=push.get("tags")))

    def badge(self, now: float, scope: KeyScope, data: JSON) -> Reply:
        """``POST /badge``: scoped and targeted like a push."""
        request = self._account.parse(BadgeCount, data)
        resolved = self._account.recipients(scope, request.channels, what="devices")
        if isinstance(resolved, Reply):
            return resolved
        effective, devices = resolved
        for device in devices:
            self.badges[device] = request.badge
        body: JSON = {
            "success": True,
            "badge": request.badge,
            "devices_notified": len(devices),
            "users_notified": 1,
            "effective_channel_slugs": effective,
            "timestamp": iso(now),
        }
        if not self._account.config.strict:  # SDK 1.14 needs these names, and a list
            body.update(
                devices_updated=len(devices),
                users_updated=1,
                effective_channel_slugs=effective or [],
            )
        return Reply(200, body)

    def metric(self, now: float, scope: KeyScope, data: JSON, *, key: str) -> Reply:
        """``POST /metrics/{key}/value``: only the keys the account has (any, when None)."""
        request = self._account.parse(MetricValue, data)
        known = self._account.config.metrics
        if known is not None and key not in known:
            return Reply(
                404, {"error": "Metric not found", "message": f"No metric with key: {key}"}
            )
        previous = self.metrics.get(key)
        self.metrics[key] = {
            "value": request.value,
            "timestamp": request.timestamp if request.timestamp is not None else iso(now),
            "received_at": iso(now),
            "updates": 1 if previous is None else previous["updates"] + 1,
        }
        return Reply(200, {"success": True})
