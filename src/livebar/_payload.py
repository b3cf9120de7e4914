"""The request bodies of the ActivitySmith API as typed, immutable, validated values.

Every class is a frozen dataclass built with keyword arguments and checked in ``__post_init__``
against the rules of the published OpenAPI spec (and the facts the spec leaves to prose), so a bad
value raises ``ValidationError`` naming the field before any request is sent. ``to_json()``
renders the wire form with unset fields omitted (no defaults are injected), and ``from_json()``
parses a raw JSON object, as a server receives it, into the same value with the same rules:
``X.from_json(x.to_json()) == x``. Error fields are dotted paths relative to the object being
built or parsed (``"content_state.current_step"``, ``"actions[2].url"``).

Nothing here knows about HTTP.
"""

from __future__ import annotations

import copy
import datetime
import json
import math
import re
import sys
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from livebar._errors import ValidationError

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = [
    "COLORS",
    "CONTENT_TYPES",
    "ACTION_TYPES",
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
    "StartActivity",
    "StreamEnd",
    "StreamUpdate",
    "UpdateActivity",
    "validate_metric_key",
    "validate_stream_key",
]

COLORS = (
    "lime",
    "green",
    "cyan",
    "blue",
    "purple",
    "magenta",
    "red",
    "orange",
    "yellow",
    "gray",
)
CONTENT_TYPES = ("segmented_progress", "progress", "metrics", "stats", "alert", "timer")
ACTION_TYPES = ("open_url", "webhook")
WEBHOOK_METHODS = ("GET", "POST")

MAX_METRICS = 8
MAX_METRIC_TEXT = 64
MAX_PUSH_ACTIONS = 4
MAX_STREAM_KEY = 255
MAX_BADGE_COUNT = 2_147_483_647
MAX_METRIC_KEY = 64
_STREAM_KEY = re.compile(r"[A-Za-z0-9_-]+")
_METRIC_KEY = re.compile(r"[a-z0-9][a-z0-9_.-]*")
_DATE_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))",
    re.ASCII,
)
_WHITESPACE = re.compile(r"\s")

_T = TypeVar("_T")

if TYPE_CHECKING:
    from typing_extensions import dataclass_transform

    @dataclass_transform(frozen_default=True, kw_only_default=True)
    def _model(cls: type[_T]) -> type[_T]: ...

else:
    # Keyword-only where the interpreter supports it (3.10+); field order keeps 3.9 working too.
    _MODEL_OPTIONS = {"frozen": True}
    if sys.version_info >= (3, 10):
        _MODEL_OPTIONS["kw_only"] = True

    def _model(cls):
        return dataclass(**_MODEL_OPTIONS)(cls)


# Checks of single values. Each returns the value in its stored form or raises ValidationError.


def _string(
    value: object, field: str, *, min_length: int = 0, max_length: int | None = None
) -> str:
    if not isinstance(value, str):
        raise ValidationError(field, "type", "must be a string")
    if len(value) < min_length:
        detail = "must not be empty" if min_length == 1 else f"needs {min_length}+ characters"
        raise ValidationError(field, "minLength", detail)
    if max_length is not None and len(value) > max_length:
        raise ValidationError(field, "maxLength", f"must be at most {max_length} characters")
    return value


def _optional_string(value: object, field: str, *, min_length: int = 0) -> str | None:
    return None if value is None else _string(value, field, min_length=min_length)


def _integer(value: object, field: str, *, minimum: int | None = None) -> int:
    # JSON Schema counts 3.0 as an integer; store it as 3. A bool is never a number.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValidationError(field, "type", "must be an integer")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValidationError(field, "type", "must be an integer")
        value = int(value)
    if minimum is not None and value < minimum:
        raise ValidationError(field, "minimum", f"must be >= {minimum}")
    return value


def _optional_integer(value: object, field: str, *, minimum: int | None = None) -> int | None:
    return None if value is None else _integer(value, field, minimum=minimum)


def _number(
    value: object,
    field: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    exclusive_minimum: float | None = None,
) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValidationError(field, "type", "must be a number")
    if not math.isfinite(value):
        raise ValidationError(field, "type", "must be a finite number")
    if minimum is not None and value < minimum:
        raise ValidationError(field, "minimum", f"must be >= {minimum:g}")
    if maximum is not None and value > maximum:
        raise ValidationError(field, "maximum", f"must be <= {maximum:g}")
    if exclusive_minimum is not None and value <= exclusive_minimum:
        raise ValidationError(field, "exclusiveMinimum", f"must be > {exclusive_minimum:g}")
    return value


def _date_time(value: object, field: str) -> str:
    """An RFC 3339 date-time (the spec's ``format: date-time``); an aware datetime becomes one."""
    if isinstance(value, datetime.datetime):
        if value.utcoffset() is None:
            raise ValidationError(field, "format", "must be a timezone-aware datetime")
        return value.isoformat()
    text = _string(value, field)
    match = _DATE_TIME.fullmatch(text)
    try:
        if match is None:
            raise ValueError(text)
        year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
        # RFC 3339 allows a leap second (:60); datetime does not.
        datetime.datetime(year, month, day, hour, minute, min(second, 59))
        offset_hours, offset_minutes = match.group(9), match.group(10)
        if second > 60 or (offset_hours is not None and int(offset_hours) > 23):
            raise ValueError(text)
        if offset_minutes is not None and int(offset_minutes) > 59:
            raise ValueError(text)
    except ValueError as exc:
        raise ValidationError(
            field, "format", "must be an RFC 3339 date-time like 2026-07-10T12:00:00Z"
        ) from exc
    return text


def _optional_number(
    value: object,
    field: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    exclusive_minimum: float | None = None,
) -> float | None:
    if value is None:
        return None
    return _number(
        value, field, minimum=minimum, maximum=maximum, exclusive_minimum=exclusive_minimum
    )


def _optional_boolean(value: object, field: str) -> bool | None:
    if value is not None and not isinstance(value, bool):
        raise ValidationError(field, "type", "must be true or false")
    return value


def _choice(value: object, field: str, choices: Sequence[str]) -> str:
    text = _string(value, field)
    if text not in choices:
        raise ValidationError(field, "enum", f"must be one of {', '.join(choices)}")
    return text


def _optional_choice(value: object, field: str, choices: Sequence[str]) -> str | None:
    return None if value is None else _choice(value, field, choices)


def _url(value: object, field: str, schemes: Sequence[str]) -> str:
    text = _string(value, field)
    prefixes = [f"{scheme}://" for scheme in schemes]
    prefix = next((p for p in prefixes if text.startswith(p)), None)
    if prefix is None:
        raise ValidationError(field, "pattern", f"must start with {' or '.join(prefixes)}")
    if len(text) == len(prefix) or _WHITESPACE.search(text):
        raise ValidationError(field, "format", "must be a URL without spaces")
    return text


def _optional_url(value: object, field: str, schemes: Sequence[str]) -> str | None:
    return None if value is None else _url(value, field, schemes)


def _json_object(value: object, field: str) -> dict[str, Any]:
    if not isinstance(value, Mapping) or not all(isinstance(key, str) for key in value):
        raise ValidationError(field, "type", "must be an object with string keys")
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValidationError(field, "type", "must hold JSON values only") from exc
    return copy.deepcopy(dict(value))


def _optional_json_object(value: object, field: str) -> dict[str, Any] | None:
    return None if value is None else _json_object(value, field)


def _array(value: object, field: str) -> tuple[Any, ...]:
    # A str is a sequence too, and channels="ops" is the classic mistake.
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise ValidationError(field, "type", "must be a list")
    return tuple(value)


def _channels(value: object, field: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    slugs = _array(value, field)
    if not slugs:
        raise ValidationError(field, "minItems", "must name at least one channel")
    return tuple(_string(slug, f"{field}[{i}]", min_length=1) for i, slug in enumerate(slugs))


def _instance(value: object, field: str, cls: type[_T]) -> _T:
    if not isinstance(value, cls):
        raise ValidationError(field, "type", f"must be a {cls.__name__}")
    return value


def _optional_instance(value: object, field: str, cls: type[_T]) -> _T | None:
    return None if value is None else _instance(value, field, cls)


def _compact(**fields: Any) -> dict[str, Any]:
    return {key: value for key, value in fields.items() if value is not None}


def _to_json(value: Any) -> Any:
    return None if value is None else value.to_json()


def _target(channels: Sequence[str] | None) -> dict[str, Any] | None:
    return None if channels is None else {"channels": list(channels)}


# Reading raw JSON.


class _Reader:
    """One JSON object being parsed: checks its shape, then hands out (nested) fields."""

    def __init__(
        self, data: object, *, allowed: Collection[str], required: Collection[str] = ()
    ) -> None:
        if not isinstance(data, dict):
            raise ValidationError("", "type", "must be a JSON object")
        unknown = sorted(key for key in data if key not in allowed)
        if unknown:
            raise ValidationError(str(unknown[0]), "additionalProperties", "is not a known field")
        for key in required:
            if key not in data:
                raise ValidationError(key, "required", "is required")
        for key, value in data.items():
            if value is None:
                raise ValidationError(key, "type", "must not be null")
        self.data: dict[str, Any] = data

    def get(self, key: str) -> Any:
        return self.data.get(key)

    def nested(self, key: str, parse: Callable[[object], _T]) -> _T | None:
        if key not in self.data:
            return None
        return _within(key, parse, self.data[key])

    def nested_list(self, key: str, parse: Callable[[object], _T]) -> tuple[_T, ...] | None:
        if key not in self.data:
            return None
        items = _array(self.data[key], key)
        return tuple(_within(f"{key}[{i}]", parse, item) for i, item in enumerate(items))


def _within(path: str, parse: Callable[[object], _T], data: object) -> _T:
    try:
        return parse(data)
    except ValidationError as exc:
        raise exc.within(path) from exc


def _parse_target(data: object) -> tuple[str, ...] | None:
    reader = _Reader(data, allowed=("channels",), required=("channels",))
    return _channels(reader.get("channels"), "channels")


_DISMISS_FIELDS = ("auto_dismiss_minutes", "auto_dismiss_seconds")


def _split_dismiss(raw_state: object, names: Sequence[str]) -> tuple[object, dict[str, int | None]]:
    """Take the auto-dismiss fields out of a raw end content state (they live on the request)."""
    found: dict[str, int | None] = dict.fromkeys(names)
    if not isinstance(raw_state, dict):
        return raw_state, found
    rest = dict(raw_state)
    for name in names:
        if name in rest:
            found[name] = _integer(rest.pop(name), f"content_state.{name}", minimum=0)
    return rest, found


# Parts of a content state.


@_model
class Icon:
    """An SF Symbol shown on the activity (``symbol`` like ``"arrow.triangle.2.circlepath"``)."""

    symbol: str
    color: str | None = None

    def __post_init__(self) -> None:
        _string(self.symbol, "symbol", min_length=1)
        _optional_choice(self.color, "color", COLORS)

    def to_json(self) -> dict[str, Any]:
        return _compact(symbol=self.symbol, color=self.color)

    @classmethod
    def from_json(cls, data: object) -> Self:
        reader = _Reader(data, allowed=("symbol", "color"), required=("symbol",))
        return cls(symbol=reader.get("symbol"), color=reader.get("color"))


@_model
class Badge:
    """A short label on the activity (alert, progress and segmented_progress types)."""

    title: str
    color: str | None = None

    def __post_init__(self) -> None:
        _string(self.title, "title", min_length=1)
        _optional_choice(self.color, "color", COLORS)

    def to_json(self) -> dict[str, Any]:
        return _compact(title=self.title, color=self.color)

    @classmethod
    def from_json(cls, data: object) -> Self:
        reader = _Reader(data, allowed=("title", "color"), required=("title",))
        return cls(title=reader.get("title"), color=reader.get("color"))


@_model
class Metric:
    """One value of a metrics/stats activity: a number >= 0 or a text of 1..64 characters."""

    label: str
    value: float | str
    unit: str | None = None
    color: str | None = None

    def __post_init__(self) -> None:
        _string(self.label, "label", min_length=1)
        if isinstance(self.value, str):
            _string(self.value, "value", min_length=1, max_length=MAX_METRIC_TEXT)
        else:
            _number(self.value, "value", minimum=0)
        _optional_string(self.unit, "unit")
        _optional_choice(self.color, "color", COLORS)

    def to_json(self) -> dict[str, Any]:
        return _compact(label=self.label, value=self.value, unit=self.unit, color=self.color)

    @classmethod
    def from_json(cls, data: object) -> Self:
        reader = _Reader(
            data, allowed=("label", "value", "unit", "color"), required=("label", "value")
        )
        return cls(
            label=reader.get("label"),
            value=reader.get("value"),
            unit=reader.get("unit"),
            color=reader.get("color"),
        )


@_model
class Alert:
    """The alert that accompanies a start or stream update (lights the screen, may sound)."""

    title: str | None = None
    body: str | None = None

    def __post_init__(self) -> None:
        _optional_string(self.title, "title")
        _optional_string(self.body, "body")

    def to_json(self) -> dict[str, Any]:
        return _compact(title=self.title, body=self.body)

    @classmethod
    def from_json(cls, data: object) -> Self:
        reader = _Reader(data, allowed=("title", "body"))
        return cls(title=reader.get("title"), body=reader.get("body"))


@_model
class Action:
    """A button: ``open_url`` opens an https:// or shortcuts:// URL on the phone, ``webhook``
    makes ActivitySmith call an https:// URL (``method`` GET or POST, optional JSON ``body``)."""

    title: str
    type: str
    url: str
    method: str | None = None
    body: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        _string(self.title, "title")
        kind = _choice(self.type, "type", ACTION_TYPES)
        _url(self.url, "url", ("https", "shortcuts") if kind == "open_url" else ("https",))
        _optional_choice(self.method, "method", WEBHOOK_METHODS)
        object.__setattr__(self, "body", _optional_json_object(self.body, "body"))

    @classmethod
    def open_url(cls, title: str, url: str) -> Action:
        """A button that opens ``url`` (https:// or shortcuts://run-shortcut?name=...)."""
        return cls(title=title, type="open_url", url=url)

    @classmethod
    def webhook(
        cls, title: str, url: str, method: str = "POST", body: Mapping[str, Any] | None = None
    ) -> Action:
        """A button that makes ActivitySmith call ``url`` (https://) with ``method``/``body``."""
        return cls(title=title, type="webhook", url=url, method=method, body=body)

    def to_json(self) -> dict[str, Any]:
        body = None if self.body is None else copy.deepcopy(dict(self.body))
        return _compact(
            title=self.title, type=self.type, url=self.url, method=self.method, body=body
        )

    @classmethod
    def from_json(cls, data: object) -> Self:
        reader = _Reader(
            data,
            allowed=("title", "type", "url", "method", "body"),
            required=("title", "type", "url"),
        )
        return cls(
            title=reader.get("title"),
            type=reader.get("type"),
            url=reader.get("url"),
            method=reader.get("method"),
            body=reader.get("body"),
        )


_STATE_FIELDS = (
    "title",
    "type",
    "subtitle",
    "number_of_steps",
    "current_step",
    "percentage",
    "value",
    "upper_limit",
    "duration_seconds",
    "counts_down",
    "is_running",
    "metrics",
    "message",
    "icon",
    "badge",
    "color",
    "step_color",
    "step_colors",
)


@_model
class ContentState:
    """What the activity shows. ``type`` is required to start an activity, optional afterwards.

    Prefer the factories: ``ContentState.segmented_progress(...)``, ``.progress(...)``,
    ``.for_metrics(...)``, ``.stats(...)``, ``.alert(...)``, ``.timer(...)``. When ``type`` is
    set, the fields that type needs are required (``current_step``; ``percentage`` or ``value``
    with ``upper_limit``; ``metrics``; ``message``).
    """

    title: str
    type: str | None = None
    subtitle: str | None = None
    number_of_steps: int | None = None
    current_step: int | None = None
    percentage: float | None = None
    value: float | None = None
    upper_limit: float | None = None
    duration_seconds: float | None = None
    counts_down: bool | None = None
    is_running: bool | None = None
    metrics: Sequence[Metric] | None = None
    message: str | None = None
    icon: Icon | None = None
    badge: Badge | None = None
    color: str | None = None
    step_color: str | None = None
    step_colors: Sequence[str] | None = None

    def __post_init__(self) -> None:
        _string(self.title, "title")
        _optional_choice(self.type, "type", CONTENT_TYPES)
        _optional_string(self.subtitle, "subtitle")
        steps = _optional_integer(self.number_of_steps, "number_of_steps", minimum=1)
        current = _optional_integer(self.current_step, "current_step", minimum=0)
        object.__setattr__(self, "number_of_steps", steps)
        object.__setattr__(self, "current_step", current)
        _optional_number(self.percentage, "percentage", minimum=0, maximum=100)
        _optional_number(self.value, "value")
        _optional_number(self.upper_limit, "upper_limit", exclusive_minimum=0)
        _optional_number(self.duration_seconds, "duration_seconds", exclusive_minimum=0)
        _optional_boolean(self.counts_down, "counts_down")
        _optional_boolean(self.is_running, "is_running")
        if self.metrics is not None:
            metrics = _array(self.metrics, "metrics")
            if not metrics:
                raise ValidationError("metrics", "minItems", "must hold at least one metric")
            if len(metrics) > MAX_METRICS:
                raise ValidationError("metrics", "maxItems", f"must hold at most {MAX_METRICS}")
            for i, metric in enumerate(metrics):
                _instance(metric, f"metrics[{i}]", Metric)
            object.__setattr__(self, "metrics", metrics)
        _optional_string(self.message, "message", min_length=1)
        _optional_instance(self.icon, "icon", Icon)
        _optional_instance(self.badge, "badge", Badge)
        _optional_choice(self.color, "color", COLORS)
        _optional_choice(self.step_color, "step_color", COLORS)
        if self.step_colors is not None:
            colors = _array(self.step_colors, "step_colors")
            for i, color in enumerate(colors):
                _choice(color, f"step_colors[{i}]", COLORS)
            object.__setattr__(self, "step_colors", colors)
        self._check_together()

    def _check_together(self) -> None:
        if self.value is not None and self.upper_limit is None:
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
        if self.type == "segmented_progress" and self.current_step is None:
            raise ValidationError("current_step", "required", "is required for segmented_progress")
        if self.type == "progress" and self.percentage is None and self.value is None:
            raise ValidationError(
                "percentage", "required", "progress needs percentage, or value with upper_limit"
            )
        if self.type in ("metrics", "stats") and self.metrics is None:
            raise ValidationError("metrics", "required", f"is required for {self.type}")
        if self.type == "alert" and self.message is None:
            raise ValidationError("message", "required", "is required for alert")

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

    def to_json(self) -> dict[str, Any]:
        return _compact(
            title=self.title,
            type=self.type,
            subtitle=self.subtitle,
            number_of_steps=self.number_of_steps,
            current_step=self.current_step,
            percentage=self.percentage,
            value=self.value,
            upper_limit=self.upper_limit,
            duration_seconds=self.duration_seconds,
            counts_down=self.counts_down,
            is_running=self.is_running,
            metrics=None if self.metrics is None else [m.to_json() for m in self.metrics],
            message=self.message,
            icon=_to_json(self.icon),
            badge=_to_json(self.badge),
            color=self.color,
            step_color=self.step_color,
            step_colors=None if self.step_colors is None else list(self.step_colors),
        )

    @classmethod
    def from_json(cls, data: object) -> Self:
        reader = _Reader(data, allowed=_STATE_FIELDS, required=("title",))
        nested: dict[str, Any] = {
            "metrics": reader.nested_list("metrics", Metric.from_json),
            "icon": reader.nested("icon", Icon.from_json),
            "badge": reader.nested("badge", Badge.from_json),
        }
        flat = {key: reader.get(key) for key in _STATE_FIELDS if key not in nested}
        return cls(**flat, **nested)


def _state_json(state: ContentState | None, **extra: int | None) -> dict[str, Any] | None:
    if state is None:
        return None
    return {**state.to_json(), **_compact(**extra)}


def _check_actions(action: object, secondary_action: object) -> None:
    _optional_instance(action, "action", Action)
    _optional_instance(secondary_action, "secondary_action", Action)


# Requests.


@_model
class PushNotification:
    """``POST /push-notification``. ``channels`` targets channel slugs (``target.channels``)."""

    title: str
    message: str | None = None
    subtitle: str | None = None
    payload: Mapping[str, Any] | None = None
    badge: int | None = None
    sound: str | None = None
    media: str | None = None
    redirection: str | None = None
    actions: Sequence[Action] = ()
    channels: Sequence[str] | None = None

    def __post_init__(self) -> None:
        _string(self.title, "title")
        _optional_string(self.message, "message")
        _optional_string(self.subtitle, "subtitle")
        object.__setattr__(self, "payload", _optional_json_object(self.payload, "payload"))
        object.__setattr__(self, "badge", _optional_integer(self.badge, "badge"))
        _optional_string(self.sound, "sound")
        _optional_url(self.media, "media", ("https",))
        _optional_url(self.redirection, "redirection", ("https", "shortcuts"))
        actions = _array(self.actions, "actions")
        if len(actions) > MAX_PUSH_ACTIONS:
            raise ValidationError("actions", "maxItems", f"must hold at most {MAX_PUSH_ACTIONS}")
        for i, action in enumerate(actions):
            _instance(action, f"actions[{i}]", Action)
        object.__setattr__(self, "actions", actions)
        if self.media is not None and actions:
            raise ValidationError("media", "not", "cannot be combined with actions")
        object.__setattr__(self, "channels", _channels(self.channels, "channels"))

    def to_json(self) -> dict[str, Any]:
        payload = None if self.payload is None else copy.deepcopy(dict(self.payload))
        return _compact(
            title=self.title,
            message=self.message,
            subtitle=self.subtitle,
            media=self.media,
            redirection=self.redirection,
            actions=[a.to_json() for a in self.actions] or None,
            payload=payload,
            badge=self.badge,
            sound=self.sound,
            target=_target(self.channels),
        )

    @classmethod
    def from_json(cls, data: object) -> Self:
        simple = (
            "title",
            "message",
            "subtitle",
            "media",
            "redirection",
            "payload",
            "badge",
            "sound",
        )
        reader = _Reader(data, allowed=(*simple, "actions", "target"), required=("title",))
        return cls(
            **{key: reader.get(key) for key in simple},
            actions=reader.nested_list("actions", Action.from_json) or (),
            channels=reader.nested("target", _parse_target),
        )


@_model
class StartActivity:
    """``POST /live-activity/start`` (manual lifecycle). ``content_state.type`` is required.

    Not idempotent: a start whose response was lost may have created an activity.
    """

    content_state: ContentState
    action: Action | None = None
    secondary_action: Action | None = None
    alert: Alert | None = None
    channels: Sequence[str] | None = None

    def __post_init__(self) -> None:
        state = _instance(self.content_state, "content_state", ContentState)
        _check_actions(self.action, self.secondary_action)
        _optional_instance(self.alert, "alert", Alert)
        object.__setattr__(self, "channels", _channels(self.channels, "channels"))
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

    def to_json(self) -> dict[str, Any]:
        return _compact(
            content_state=self.content_state.to_json(),
            action=_to_json(self.action),
            secondary_action=_to_json(self.secondary_action),
            alert=_to_json(self.alert),
            target=_target(self.channels),
        )

    @classmethod
    def from_json(cls, data: object) -> Self:
        reader = _Reader(
            data,
            allowed=("content_state", "action", "secondary_action", "alert", "target"),
            required=("content_state",),
        )
        return cls(
            content_state=_within(
                "content_state", ContentState.from_json, reader.get("content_state")
            ),
            action=reader.nested("action", Action.from_json),
            secondary_action=reader.nested("secondary_action", Action.from_json),
            alert=reader.nested("alert", Alert.from_json),
            channels=reader.nested("target", _parse_target),
        )


@_model
class UpdateActivity:
    """``POST /live-activity/update`` (manual lifecycle)."""

    activity_id: str
    content_state: ContentState
    action: Action | None = None
    secondary_action: Action | None = None

    def __post_init__(self) -> None:
        _string(self.activity_id, "activity_id", min_length=1)
        _instance(self.content_state, "content_state", ContentState)
        _check_actions(self.action, self.secondary_action)

    def to_json(self) -> dict[str, Any]:
        return _compact(
            activity_id=self.activity_id,
            content_state=self.content_state.to_json(),
            action=_to_json(self.action),
            secondary_action=_to_json(self.secondary_action),
        )

    @classmethod
    def from_json(cls, data: object) -> Self:
        reader = _Reader(
            data,
            allowed=("activity_id", "content_state", "action", "secondary_action"),
            required=("activity_id", "content_state"),
        )
        return cls(
            activity_id=reader.get("activity_id"),
            content_state=_within(
                "content_state", ContentState.from_json, reader.get("content_state")
            ),
            action=reader.nested("action", Action.from_json),
            secondary_action=reader.nested("secondary_action", Action.from_json),
        )


@_model
class EndActivity:
    """``POST /live-activity/end`` (manual lifecycle).

    ``auto_dismiss_minutes`` (0 = at once) travels inside ``content_state`` on the wire. The
    API's default for it is unreliable, so callers should always set it.
    """

    activity_id: str
    content_state: ContentState
    auto_dismiss_minutes: int | None = None
    action: Action | None = None
    secondary_action: Action | None = None

    def __post_init__(self) -> None:
        _string(self.activity_id, "activity_id", min_length=1)
        _instance(self.content_state, "content_state", ContentState)
        object.__setattr__(
            self,
            "auto_dismiss_minutes",
            _optional_integer(self.auto_dismiss_minutes, "auto_dismiss_minutes", minimum=0),
        )
        _check_actions(self.action, self.secondary_action)

    def to_json(self) -> dict[str, Any]:
        return _compact(
            activity_id=self.activity_id,
            content_state=_state_json(
                self.content_state, auto_dismiss_minutes=self.auto_dismiss_minutes
            ),
            action=_to_json(self.action),
            secondary_action=_to_json(self.secondary_action),
        )

    @classmethod
    def from_json(cls, data: object) -> Self:
        reader = _Reader(
            data,
            allowed=("activity_id", "content_state", "action", "secondary_action"),
            required=("activity_id", "content_state"),
        )
        raw_state, dismiss = _split_dismiss(reader.get("content_state"), ("auto_dismiss_minutes",))
        return cls(
            activity_id=reader.get("activity_id"),
            content_state=_within("content_state", ContentState.from_json, raw_state),
            auto_dismiss_minutes=dismiss["auto_dismiss_minutes"],
            action=reader.nested("action", Action.from_json),
            secondary_action=reader.nested("secondary_action", Action.from_json),
        )


@_model
class StreamUpdate:
    """``PUT /live-activity/stream/{stream_key}``: starts or updates the stream's activity.

    Set ``content_state.type`` on the first PUT (and whenever the server may have to start a
    fresh activity). ``channels`` is sent as the stream's ``channels`` field. The auto-dismiss
    fields are accepted because the spec allows them here; they matter only on ``StreamEnd``.
    """

    content_state: ContentState
    action: Action | None = None
    secondary_action: Action | None = None
    alert: Alert | None = None
    channels: Sequence[str] | None = None
    auto_dismiss_minutes: int | None = None
    auto_dismiss_seconds: int | None = None

    def __post_init__(self) -> None:
        _instance(self.content_state, "content_state", ContentState)
        _check_actions(self.action, self.secondary_action)
        _optional_instance(self.alert, "alert", Alert)
        object.__setattr__(self, "channels", _channels(self.channels, "channels"))
        for name in _DISMISS_FIELDS:
            value = _optional_integer(getattr(self, name), name, minimum=0)
            object.__setattr__(self, name, value)

    def to_json(self) -> dict[str, Any]:
        return _compact(
            content_state=_state_json(
                self.content_state,
                auto_dismiss_minutes=self.auto_dismiss_minutes,
                auto_dismiss_seconds=self.auto_dismiss_seconds,
            ),
            action=_to_json(self.action),
            secondary_action=_to_json(self.secondary_action),
            alert=_to_json(self.alert),
            channels=None if self.channels is None else list(self.channels),
        )

    @classmethod
    def from_json(cls, data: object) -> Self:
        reader = _Reader(
            data,
            allowed=("content_state", "action", "secondary_action", "alert", "channels", "target"),
            required=("content_state",),
        )
        channels = _channels(reader.get("channels"), "channels")
        targeted = reader.nested("target", _parse_target)
        if channels is not None and targeted is not None and channels != targeted:
            raise ValidationError("target.channels", "const", "must match channels")
        raw_state, dismiss = _split_dismiss(reader.get("content_state"), _DISMISS_FIELDS)
        return cls(
            content_state=_within("content_state", ContentState.from_json, raw_state),
            action=reader.nested("action", Action.from_json),
            secondary_action=reader.nested("secondary_action", Action.from_json),
            alert=reader.nested("alert", Alert.from_json),
            channels=channels if channels is not None else targeted,
            **dismiss,
        )


@_model
class StreamEnd:
    """``DELETE /live-activity/stream/{stream_key}``: ends the stream's activity.

    Without ``content_state`` the server ends it with the latest known state. The auto-dismiss
    fields travel inside ``content_state``, so setting one requires a ``content_state``.
    """

    content_state: ContentState | None = None
    auto_dismiss_minutes: int | None = None
    action: Action | None = None
    secondary_action: Action | None = None
    alert: Alert | None = None
    auto_dismiss_seconds: int | None = None

    def __post_init__(self) -> None:
        _optional_instance(self.content_state, "content_state", ContentState)
        _check_actions(self.action, self.secondary_action)
        _optional_instance(self.alert, "alert", Alert)
        for name in _DISMISS_FIELDS:
            value = _optional_integer(getattr(self, name), name, minimum=0)
            object.__setattr__(self, name, value)
            if value is not None and self.content_state is None:
                raise ValidationError(
                    name, "dependentRequired", "needs a content_state to travel in"
                )

    def to_json(self) -> dict[str, Any]:
        return _compact(
            content_state=_state_json(
                self.content_state,
                auto_dismiss_minutes=self.auto_dismiss_minutes,
                auto_dismiss_seconds=self.auto_dismiss_seconds,
            ),
            action=_to_json(self.action),
            secondary_action=_to_json(self.secondary_action),
            alert=_to_json(self.alert),
        )

    @classmethod
    def from_json(cls, data: object) -> Self:
        reader = _Reader(data, allowed=("content_state", "action", "secondary_action", "alert"))
        state = None
        dismiss: dict[str, int | None] = dict.fromkeys(_DISMISS_FIELDS)
        if "content_state" in reader.data:
            raw_state, dismiss = _split_dismiss(reader.get("content_state"), _DISMISS_FIELDS)
            state = _within("content_state", ContentState.from_json, raw_state)
        return cls(
            content_state=state,
            action=reader.nested("action", Action.from_json),
            secondary_action=reader.nested("secondary_action", Action.from_json),
            alert=reader.nested("alert", Alert.from_json),
            **dismiss,
        )


@_model
class BadgeCount:
    """``POST /badge``: the number on the ActivitySmith app icon (0 clears it).

    ``channels`` targets channel slugs (``target.channels``), as for a push.
    """

    badge: int
    channels: Sequence[str] | None = None

    def __post_init__(self) -> None:
        count = _integer(self.badge, "badge", minimum=0)
        if count > MAX_BADGE_COUNT:
            raise ValidationError("badge", "maximum", f"must be <= {MAX_BADGE_COUNT}")
        object.__setattr__(self, "badge", count)
        object.__setattr__(self, "channels", _channels(self.channels, "channels"))

    def to_json(self) -> dict[str, Any]:
        return _compact(badge=self.badge, target=_target(self.channels))

    @classmethod
    def from_json(cls, data: object) -> Self:
        reader = _Reader(data, allowed=("badge", "target"), required=("badge",))
        return cls(badge=reader.get("badge"), channels=reader.nested("target", _parse_target))


@_model
class MetricValue:
    """``POST /metrics/{key}/value``: the latest value of a widget metric.

    ``value`` is a finite number or a text of 1..64 characters. ``timestamp`` (when the value was
    measured; the server's receive time if unset) is an RFC 3339 string or an aware
    ``datetime``, stored as the string sent.
    """

    value: float | str
    timestamp: str | datetime.datetime | None = None

    def __post_init__(self) -> None:
        if isinstance(self.value, str):
            _string(self.value, "value", min_length=1, max_length=MAX_METRIC_TEXT)
        else:
            _number(self.value, "value")
        if self.timestamp is not None:
            object.__setattr__(self, "timestamp", _date_time(self.timestamp, "timestamp"))

    def to_json(self) -> dict[str, Any]:
        return _compact(value=self.value, timestamp=self.timestamp)

    @classmethod
    def from_json(cls, data: object) -> Self:
        reader = _Reader(data, allowed=("value", "timestamp"), required=("value",))
        return cls(value=reader.get("value"), timestamp=reader.get("timestamp"))


def validate_stream_key(key: object) -> str:
    """Return ``key`` if it is a valid stream key (``^[A-Za-z0-9_-]+$``, at most 255 chars)."""
    text = _string(key, "stream_key", min_length=1, max_length=MAX_STREAM_KEY)
    if not _STREAM_KEY.fullmatch(text):
        raise ValidationError("stream_key", "pattern", "may hold only letters, digits, '_' and '-'")
    return text


def validate_metric_key(key: object) -> str:
    """Return ``key`` if it is a valid metric key (``^[a-z0-9][a-z0-9_.-]{0,63}$``)."""
    text = _string(key, "key", min_length=1, max_length=MAX_METRIC_KEY)
    if not _METRIC_KEY.fullmatch(text):
        raise ValidationError(
            "key", "pattern", "must start with a-z or 0-9 and hold only a-z, 0-9, '_', '.' and '-'"
        )
    return text
