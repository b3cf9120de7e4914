"""The request bodies of the ActivitySmith API as typed, immutable, validated values.

Each class declares its fields once, as ``name: type = field(check=...)``; construction
(keyword-only), ``to_json()`` and ``from_json()`` are all derived from that one list by
``model.Model``. A bad value raises ``ValidationError`` naming the field before any request is
sent, and ``X.from_json(x.to_json()) == x``. Error fields are dotted paths relative to the object
being built or parsed (``"content_state.current_step"``, ``"actions[2].url"``).

Where a field travels on the wire is part of its declaration; these are the API's quirks:

- ``AS_TARGET``: ``channels=[...]`` is sent as ``"target": {"channels": [...]}`` (push, start,
  badge) ...
- ``AS_STREAM_CHANNELS``: ... except on a stream PUT, where it is sent as ``channels`` (and
  ``target.channels`` is accepted on input too; if both come, they must match).
- ``IN_CONTENT_STATE``: ``auto_dismiss_minutes`` / ``auto_dismiss_seconds`` belong to the end
  and stream requests but travel inside their ``content_state``.
- ``AS_VALUE``: ``value_text`` (the ``value`` type's text readout, newer surface) is sent as
  ``value``; a JSON string under ``value`` is read back into it, a number into ``value``.
- ``NOT_SENT``: a permission the caller grants (``allow_http``), never on the wire.

And one naming quirk: ``ContentState.metrics`` and ``ContentState.value`` are fields, so their
factories are ``for_metrics`` and ``for_value``.

Two surfaces. By default everything here follows the published OpenAPI spec. The newer surface
that SDK 1.14 speaks (``tags``, ``metadata``, a push's ``icon`` and ``interruption_level``, the
``value`` activity type, ``http://`` open-url and redirection links, ``PushReplace``) is opt-in:
it is only ever sent when the caller names it, ``check_published()`` refuses it, and
``from_json()`` accepts it only with ``newer=True``.

Nothing here knows about HTTP.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, Callable

from livebar._wire import checks as checks
from livebar._wire.checks import COLORS
from livebar._wire.errors import ValidationError
from livebar._wire.model import (
    AS_STREAM_CHANNELS,
    AS_TARGET,
    AS_VALUE,
    IN_CONTENT_STATE,
    NOT_SENT,
    Many,
    Model,
    One,
    field,
)

if TYPE_CHECKING:
    import datetime

__all__ = [
    "ACTION_TYPES",
    "COLORS",
    "CONTENT_TYPES",
    "INTERRUPTION_LEVELS",
    "NEWER_CONTENT_TYPES",
    "WEBHOOK_METHODS",
    "Action",
    "Alert",
    "Badge",
    "BadgeCount",
    "ContentState",
    "EndActivity",
    "Icon",
    "Metric",
    "MetricValue",
    "PushNotification",
    "PushReplace",
    "StartActivity",
    "StreamEnd",
    "StreamUpdate",
    "UpdateActivity",
    "validate_metric_key",
    "validate_notification_id",
    "validate_stream_key",
]

CONTENT_TYPES = ("segmented_progress", "progress", "metrics", "stats", "alert", "timer")
"""The Live Activity types of the published spec."""
NEWER_CONTENT_TYPES = ("value",)
"""Types the newer surface adds (``value``: one prominent readout, text or number)."""
ACTION_TYPES = ("open_url", "webhook")
WEBHOOK_METHODS = ("GET", "POST")
INTERRUPTION_LEVELS = ("passive", "active", "time-sensitive")

MAX_METRICS = 8
MAX_METRIC_TEXT = 64
MAX_PUSH_ACTIONS = 4
MAX_STREAM_KEY = 255
MAX_NOTIFICATION_ID = 255
MAX_BADGE_COUNT = 2_147_483_647
MAX_METRIC_KEY = 64


# Field checks built from the shared single-value checks.

_text = checks.string
_non_empty = partial(checks.string, min_length=1)
_words = checks.text
"""Text a person reads on the phone: made sendable (``checks.sendable``) at this boundary."""
_some_words = partial(checks.text, min_length=1)
_count = partial(checks.integer, minimum=0)


def _https(value: object, name: str) -> str:
    return checks.url(value, name, ("https",))


def _choice(choices: Sequence[str]) -> Callable[[object, str], str]:
    return partial(checks.choice, choices=choices)


def _colors(value: object, name: str) -> tuple[str, ...]:
    colors = checks.array(value, name)
    for i, color in enumerate(colors):
        checks.color(color, f"{name}[{i}]")
    return colors


def _text_or_number(*, minimum: float | None = None) -> Callable[[object, str], float | str]:
    def check(value: object, name: str) -> float | str:
        if isinstance(value, str):
            return checks.text(value, name, min_length=1, max_length=MAX_METRIC_TEXT)
        return checks.number(value, name, minimum=minimum)

    return check


def _push_icon(value: object, name: str) -> str:
    return checks.url_without_credentials(value, name, ("https",))


def _tags() -> Any:
    return field(check=checks.tags, default=None, newer=True)


def _metadata() -> Any:
    return field(check=checks.metadata, default=None, newer=True)


def _allow_http() -> Any:
    return field(check=checks.boolean, default=False, wire=NOT_SENT, compare=False)


def _link_schemes(allow_http: bool) -> tuple[str, ...]:
    """Where an open-url button or a push's tap may lead (http:// only when allowed)."""
    return ("https", "shortcuts", "http") if allow_http else ("https", "shortcuts")


# Parts of a content state.


class Icon(Model):
    """An SF Symbol shown on the activity (``symbol`` like ``"arrow.triangle.2.circlepath"``)."""

    symbol: str = field(check=_non_empty)
    color: str | None = field(check=checks.color, default=None)


class Badge(Model):
    """A short label on the activity (alert, progress, segmented_progress and value types)."""

    title: str = field(check=_some_words)
    color: str | None = field(check=checks.color, default=None)


class Metric(Model):
    """One value of a metrics/stats activity: a number >= 0 or a text of 1..64 characters."""

    label: str = field(check=_some_words)
    value: float | str = field(check=_text_or_number(minimum=0))
    unit: str | None = field(check=_words, default=None)
    color: str | None = field(check=checks.color, default=None)


class Alert(Model):
    """The alert that accompanies a start or stream update (lights the screen, may sound)."""

    title: str | None = field(check=_words, default=None)
    body: str | None = field(check=_words, default=None)


class Action(Model):
    """A button: ``open_url`` opens an https:// or shortcuts:// URL on the phone, ``webhook``
    makes ActivitySmith call an https:// URL (``method`` GET or POST, optional JSON ``body``).

    ``allow_http=True`` lets an ``open_url`` button open an ``http://`` URL (newer surface).
    """

    title: str = field(check=_words)
    type: str = field(check=_choice(ACTION_TYPES))
    url: str = field(check=_text)  # its schemes depend on type and allow_http: see _validate
    method: str | None = field(check=_choice(WEBHOOK_METHODS), default=None)
    body: Mapping[str, Any] | None = field(check=checks.json_object, default=None)
    allow_http: bool = _allow_http()

    def _validate(self) -> None:
        schemes = ("https",) if self.type == "webhook" else _link_schemes(self.allow_http)
        checks.url(self.url, "url", schemes)

    def _check_published_values(self) -> None:
        if self.type == "open_url":
            checks.url(self.url, "url", _link_schemes(allow_http=False))

    @classmethod
    def open_url(cls, title: str, url: str, *, allow_http: bool = False) -> Action:
        """A button that opens ``url`` (https:// or shortcuts://run-shortcut?name=...)."""
        return cls(title=title, type="open_url", url=url, allow_http=allow_http)

    @classmethod
    def webhook(
        cls, title: str, url: str, method: str = "POST", body: Mapping[str, Any] | None = None
    ) -> Action:
        """A button that makes ActivitySmith call ``url`` (https://) with ``method``/``body``."""
        return cls(title=title, type="webhook", url=url, method=method, body=body)


class ContentState(Model):
    """What the activity shows. ``type`` is required to start an activity, optional afterwards.

    Prefer the factories: ``ContentState.segmented_progress(...)``, ``.progress(...)``,
    ``.for_metrics(...)``, ``.stats(...)``, ``.alert(...)``, ``.timer(...)`` and, on the
    newer surface, ``.for_value(...)``. When ``type`` is set, the fields that type needs are
    required (``current_step``; ``percentage`` or ``value`` with ``upper_limit``; ``metrics``;
    ``message``; ``value``).
    """

    title: str = field(check=_words)
    type: str | None = field(check=_choice(CONTENT_TYPES + NEWER_CONTENT_TYPES), default=None)
    subtitle: str | None = field(check=_words, default=None)
    number_of_steps: int | None = field(check=partial(checks.integer, minimum=1), default=None)
    current_step: int | None = field(check=_count, default=None)
    percentage: float | None = field(
        check=partial(checks.number, minimum=0, maximum=100), default=None
    )
    value: float | None = field(check=checks.number, default=None)
    value_text: str | None = field(check=_words, default=None, wire=AS_VALUE, newer=True)
    upper_limit: float | None = field(
        check=partial(checks.number, exclusive_minimum=0), default=None
    )
    duration_seconds: float | None = field(
        check=partial(checks.number, exclusive_minimum=0), default=None
    )
    counts_down: bool | None = field(check=checks.boolean, default=None)
    is_running: bool | None = field(check=checks.boolean, default=None)
    metrics: Sequence[Metric] | None = field(
        check=Many(Metric, min_items=1, max_items=MAX_METRICS), default=None
    )
    message: str | None = field(check=_some_words, default=None)
    icon: Icon | None = field(check=One(Icon), default=None)
    badge: Badge | None = field(check=One(Badge), default=None)
    color: str | None = field(check=checks.color, default=None)
    step_color: str | None = field(check=checks.color, default=None)
    step_colors: Sequence[str] | None = field(check=_colors, default=None)

    def _validate(self) -> None:
        kind = self.type
        if self.value_text is not None:
            if self.value is not None:
                raise ValidationError("value", "not", "is either a number or value_text")
            if kind != "value":
                raise ValidationError("value", "type", "must be a number (text needs type value)")
        if self.value is not None and self.upper_limit is None and kind != "value":
            raise ValidationError("upper_limit", "dependentRequired", "is required with value")
        if self.upper_limit is not None and self.value is None:
            raise ValidationError("value", "dependentRequired", "is required with upper_limit")
        if (
            self.current_step is not None
            and self.number_of_steps is not None
            and self.current_step > self.number_of_steps
        ):
            raise ValidationError(
                "current_step", "maximum", f"must be <= number_of_steps ({self.number_of_steps})"
            )
        if kind == "segmented_progress" and self.current_step is None:
            raise ValidationError("current_step", "required", "is required for segmented_progress")
        if kind == "progress" and self.percentage is None and self.value is None:
            raise ValidationError(
                "percentage", "required", "progress needs percentage, or value with upper_limit"
            )
        if kind in ("metrics", "stats") and self.metrics is None:
            raise ValidationError("metrics", "required", f"is required for {kind}")
        if kind == "alert" and self.message is None:
            raise ValidationError("message", "required", "is required for alert")
        if kind == "value" and self.value is None and self.value_text is None:
            raise ValidationError("value", "required", "is required for value")

    def _check_published_values(self) -> None:
        if self.type in NEWER_CONTENT_TYPES:
            raise ValidationError("type", "enum", f"must be one of {', '.join(CONTENT_TYPES)}")

    def fraction(self) -> float | None:
        """The share of the bar this state shows (``None``: no bar, e.g. a metrics card)."""
        return state_fraction(self.__dict__)

    @classmethod
    def segmented_progress(
        cls, title: str, *, number_of_steps: int, current_step: int = 0, **common: Any
    ) -> ContentState:
        """Steps: ``current_step`` of ``number_of_steps`` complete (0 = started, none done)."""
        return cls(
            title=title,
            type="segmented_progress",
            number_of_steps=number_of_steps,
            current_step=current_step,
            **common,
        )

    @classmethod
    def progress(
        cls,
        title: str,
        *,
        percentage: float | None = None,
        value: float | None = None,
        upper_limit: float | None = None,
        **common: Any,
    ) -> ContentState:
        """A bar: ``percentage`` (0-100), or ``value`` out of ``upper_limit``."""
        return cls(
            title=title,
            type="progress",
            percentage=percentage,
            value=value,
            upper_limit=upper_limit,
            **common,
        )

    @classmethod
    def for_metrics(cls, title: str, *, metrics: Sequence[Metric], **common: Any) -> ContentState:
        """Up to 8 labelled values (type ``metrics``)."""
        return cls(title=title, type="metrics", metrics=metrics, **common)

    @classmethod
    def stats(cls, title: str, *, metrics: Sequence[Metric], **common: Any) -> ContentState:
        """Up to 8 labelled values shown as stats (type ``stats``)."""
        return cls(title=title, type="stats", metrics=metrics, **common)

    @classmethod
    def alert(cls, title: str, *, message: str, **common: Any) -> ContentState:
        """A message (type ``alert``)."""
        return cls(title=title, type="alert", message=message, **common)

    @classmethod
    def timer(
        cls,
        title: str,
        *,
        duration_seconds: float | None = None,
        counts_down: bool | None = None,
        is_running: bool | None = None,
        **common: Any,
    ) -> ContentState:
        """A countdown of ``duration_seconds``, or an elapsed timer with ``counts_down=False``."""
        return cls(
            title=title,
            type="timer",
            duration_seconds=duration_seconds,
            counts_down=counts_down,
            is_running=is_running,
            **common,
        )

    @classmethod
    def for_value(cls, title: str, *, value: float | str, **common: Any) -> ContentState:
        """One prominent readout (type ``value``, newer surface): a number, or a text that keeps
        its formatting (``"$1,240"``, sent as ``value`` and kept in ``value_text``)."""
        if isinstance(value, str):
            return cls(title=title, type="value", value_text=value, **common)
        return cls(title=title, type="value", value=value, **common)


# Requests.


def _action() -> Any:
    return field(check=One(Action), default=None)


def _dismiss() -> Any:
    return field(check=_count, default=None, wire=IN_CONTENT_STATE)


class _PushContent(Model):
    """What a push notification shows; shared by a new push and its replacement."""

    title: str = field(check=_words)
    message: str | None = field(check=_words, default=None)
    subtitle: str | None = field(check=_words, default=None)
    payload: Mapping[str, Any] | None = field(check=checks.json_object, default=None)
    badge: int | None = field(check=checks.integer, default=None)
    media: str | None = field(check=_https, default=None)
    redirection: str | None = field(check=_text, default=None)  # checked in _validate
    actions: Sequence[Action] = field(check=Many(Action, max_items=MAX_PUSH_ACTIONS), default=())
    icon: str | None = field(check=_push_icon, default=None, newer=True)
    tags: Sequence[str] | None = _tags()
    metadata: Mapping[str, str | float | bool] | None = _metadata()
    allow_http: bool = _allow_http()

    def _validate(self) -> None:
        checks.optional(checks.url, self.redirection, "redirection", _link_schemes(self.allow_http))
        if self.media is not None and self.actions:
            raise ValidationError("media", "not", "cannot be combined with actions")

    def _check_published_values(self) -> None:
        checks.optional(checks.url, self.redirection, "redirection", _link_schemes(False))


class PushNotification(_PushContent):
    """``POST /push-notification``. ``channels`` targets channel slugs (``target.channels``).

    Newer surface: ``icon`` (an https:// image URL), ``interruption_level`` (``passive``,
    ``active``, ``time-sensitive``), ``tags``, ``metadata``, and ``http://`` redirection with
    ``allow_http=True``; the answer's ``notification_id`` lets ``PushReplace`` replace it.
    """

    sound: str | None = field(check=_text, default=None)
    channels: Sequence[str] | None = field(check=checks.channels, default=None, wire=AS_TARGET)
    interruption_level: str | None = field(
        check=_choice(INTERRUPTION_LEVELS), default=None, newer=True
    )


class PushReplace(_PushContent):
    """``PUT /push-notification/{notification_id}`` (newer surface): silently replace a sent
    push. Its content is replaced as a whole; ``tags`` and ``metadata`` left unset keep theirs.
    It goes to the original's recipients, so it has no ``channels``."""


class StartActivity(Model):
    """``POST /live-activity/start`` (manual lifecycle). ``content_state.type`` is required.

    Not idempotent: a start whose response was lost may have created an activity.
    """

    content_state: ContentState = field(check=One(ContentState))
    action: Action | None = _action()
    secondary_action: Action | None = _action()
    alert: Alert | None = field(check=One(Alert), default=None)
    channels: Sequence[str] | None = field(check=checks.channels, default=None, wire=AS_TARGET)
    tags: Sequence[str] | None = _tags()
    metadata: Mapping[str, str | float | bool] | None = _metadata()

    def _validate(self) -> None:
        state = self.content_state
        if state.type is None:
            raise ValidationError("content_state.type", "required", "is required to start")
        if state.type == "segmented_progress" and state.number_of_steps is None:
            raise ValidationError(
                "content_state.number_of_steps", "required", "is required to start"
            )
        if (
            state.type == "timer"
            and state.duration_seconds is None
            and state.counts_down is not False
        ):
            raise ValidationError(
                "content_state.duration_seconds",
                "required",
                "is required to start a countdown (or set counts_down=False)",
            )


class UpdateActivity(Model):
    """``POST /live-activity/update`` (manual lifecycle)."""

    activity_id: str = field(check=_non_empty)
    content_state: ContentState = field(check=One(ContentState))
    action: Action | None = _action()
    secondary_action: Action | None = _action()
    tags: Sequence[str] | None = _tags()
    metadata: Mapping[str, str | float | bool] | None = _metadata()


class EndActivity(Model):
    """``POST /live-activity/end`` (manual lifecycle).

    ``auto_dismiss_minutes`` (0 = at once) travels inside ``content_state`` on the wire. The
    API's default for it is unreliable, so callers should always set it.
    """

    activity_id: str = field(check=_non_empty)
    content_state: ContentState = field(check=One(ContentState))
    auto_dismiss_minutes: int | None = _dismiss()
    action: Action | None = _action()
    secondary_action: Action | None = _action()
    tags: Sequence[str] | None = _tags()
    metadata: Mapping[str, str | float | bool] | None = _metadata()


class StreamUpdate(Model):
    """``PUT /live-activity/stream/{stream_key}``: starts or updates the stream's activity.

    Set ``content_state.type`` on the first PUT (and whenever the server may have to start a
    fresh activity). ``channels`` is sent as the stream's ``channels`` field. The auto-dismiss
    fields are accepted because the spec allows them here; they matter only on ``StreamEnd``.
    """

    content_state: ContentState = field(check=One(ContentState))
    action: Action | None = _action()
    secondary_action: Action | None = _action()
    alert: Alert | None = field(check=One(Alert), default=None)
    channels: Sequence[str] | None = field(
        check=checks.channels, default=None, wire=AS_STREAM_CHANNELS
    )
    auto_dismiss_minutes: int | None = _dismiss()
    auto_dismiss_seconds: int | None = _dismiss()
    tags: Sequence[str] | None = _tags()
    metadata: Mapping[str, str | float | bool] | None = _metadata()


class StreamEnd(Model):
    """``DELETE /live-activity/stream/{stream_key}``: ends the stream's activity.

    Without ``content_state`` the server ends it with the latest known state. The auto-dismiss
    fields travel inside ``content_state``, so setting one requires a ``content_state``.
    """

    content_state: ContentState | None = field(check=One(ContentState), default=None)
    auto_dismiss_minutes: int | None = _dismiss()
    action: Action | None = _action()
    secondary_action: Action | None = _action()
    alert: Alert | None = field(check=One(Alert), default=None)
    auto_dismiss_seconds: int | None = _dismiss()
    tags: Sequence[str] | None = _tags()
    metadata: Mapping[str, str | float | bool] | None = _metadata()

    def _validate(self) -> None:
        if self.content_state is None:
            for name in ("auto_dismiss_minutes", "auto_dismiss_seconds"):
                if getattr(self, name) is not None:
                    raise ValidationError(
                        name, "dependentRequired", "needs a content_state to travel in"
                    )


class BadgeCount(Model):
    """``POST /badge``: the number on the ActivitySmith app icon (0 clears it).

    ``channels`` targets channel slugs (``target.channels``), as for a push.
    """

    badge: int = field(check=partial(checks.integer, minimum=0, maximum=MAX_BADGE_COUNT))
    channels: Sequence[str] | None = field(check=checks.channels, default=None, wire=AS_TARGET)


class MetricValue(Model):
    """``POST /metrics/{key}/value``: the latest value of a widget metric.

    ``value`` is a finite number or a text of 1..64 characters. ``timestamp`` (when the value was
    measured; the server's receive time if unset) is an RFC 3339 string or an aware
    ``datetime``, stored as the string sent.
    """

    value: float | str = field(check=_text_or_number())
    timestamp: str | datetime.datetime | None = field(check=checks.date_time, default=None)


def validate_stream_key(key: object) -> str:
    """Return ``key`` if it is a valid stream key (``^[A-Za-z0-9_-]+$``, at most 255 chars)."""
    return _path_key(
        key, "stream_key", MAX_STREAM_KEY, "[A-Za-z0-9_-]+", "letters, digits, '_' and '-'"
    )


def validate_metric_key(key: object) -> str:
    """Return ``key`` if it is a valid metric key (``^[a-z0-9][a-z0-9_.-]{0,63}$``)."""
    text = _path_key(key, "key", MAX_METRIC_KEY, "[a-z0-9_.-]+", "a-z, 0-9, '_', '.' and '-'")
    if not text[0].isalnum():
        raise ValidationError("key", "pattern", "must start with a-z or 0-9")
    return text


def validate_notification_id(notification_id: object) -> str:
    """Return ``notification_id`` (from a push's answer) if it can name a push in a URL path:
    1..255 of the characters a path segment holds unescaped."""
    return _path_key(
        notification_id,
        "notification_id",
        MAX_NOTIFICATION_ID,
        "[A-Za-z0-9._~-]+",
        "letters, digits, '.', '_', '~' and '-'",
    )


def _path_key(value: object, name: str, max_length: int, pattern: str, allowed: str) -> str:
    checks.string(value, name, min_length=1, max_length=max_length)
    return checks.matches(value, name, pattern, f"may hold only {allowed}")


def state_fraction(state: Mapping[str, Any]) -> float | None:
    """The share of the bar a content state shows, from its fields (or its JSON): steps done of
    the steps, the percentage, or value of upper limit; ``None`` when it shows no bar."""
    real = checks.finite_float
    steps, current = real(state.get("number_of_steps")), real(state.get("current_step"))
    if current is not None and steps is not None and steps > 0:
        return min(max(current / steps, 0.0), 1.0)
    percentage = real(state.get("percentage"))
    if percentage is not None:
        return min(max(percentage / 100, 0.0), 1.0)
    value, upper = real(state.get("value")), real(state.get("upper_limit"))
    if value is not None and upper is not None and upper > 0:
        return min(max(value / upper, 0.0), 1.0)
    return None
