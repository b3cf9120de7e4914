"""What the API answers: one frozen dataclass per operation, all read by one ``from_raw``.

Each result class declares the fields livebar reads, with the type it reads each as; that list
is the whole description. ``Result.from_raw(raw)`` is derived from the annotations: a field the
answer holds with the declared type is kept, one it lacks or holds with another type is ``None``,
and the whole answer stays in ``raw``, so the fields newer servers add are never an error and an
``operation`` value unknown today is kept as the string the server sent. A field declared without
``None`` is one the result cannot do without: ``success`` is taken as ``True`` when an answer does
not say (it arrived with a 2xx), and any other (``StartResult.activity_id``) raises
``MissingField``, which the client turns into the error it stands for.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, TypeVar

__all__ = [
    "BadgeResult",
    "EndResult",
    "MetricResult",
    "MissingField",
    "PushReplaceResult",
    "PushResult",
    "Result",
    "StartResult",
    "StreamEndResult",
    "StreamResult",
    "UpdateResult",
]

_R = TypeVar("_R", bound="Result")


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _integer(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _flag(value: object) -> bool | None:
    return value if isinstance(value, bool) else None


def _texts(value: object) -> tuple[str, ...] | None:
    if not isinstance(value, list):
        return None
    return tuple(item for item in value if isinstance(item, str))


READERS: Mapping[str, Callable[[object], Any]] = {
    "str": _text,
    "int": _integer,
    "bool": _flag,
    "tuple[str, ...]": _texts,
}
"""How a JSON value is read for each type a result field may declare (as written); a value of
another type reads as ``None``."""


class MissingField(LookupError):
    """An answer lacks a field its result cannot do without; ``name`` says which."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


class Result:
    """The base of the result classes: ``from_raw`` reads an answer by the field annotations."""

    ASSUMED: ClassVar[Mapping[str, object]] = {"success": True}
    """What a required field means when an answer does not say (a 2xx did what was asked)."""

    success: bool
    warning: str | None
    raw: dict[str, Any]

    @classmethod
    def from_raw(cls: type[_R], raw: Mapping[str, Any]) -> _R:
        """The result of the JSON object ``raw``; ``MissingField`` if a required field lacks."""
        values: dict[str, Any] = {"raw": dict(raw)}
        for name, read, required in fields_of(cls):
            value = read(raw.get(name))
            if value is None and required:
                if name not in cls.ASSUMED:
                    raise MissingField(name)
                value = cls.ASSUMED[name]
            values[name] = value
        return cls(**values)


_FIELDS: dict[type[Result], tuple[tuple[str, Callable[[object], Any], bool], ...]] = {}


def fields_of(cls: type[Result]) -> tuple[tuple[str, Callable[[object], Any], bool], ...]:
    """``(name, reader, required)`` for each field of ``cls`` but ``raw``, read from the
    annotations once; a type ``READERS`` does not know is a ``TypeError``."""
    known = _FIELDS.get(cls)
    if known is None:
        found = []
        for declared in dataclasses.fields(cls):  # type: ignore[arg-type]
            if declared.name == "raw":
                continue
            arms = [arm.strip() for arm in str(declared.type).split("|")]
            kinds = [arm for arm in arms if arm != "None"]
            if len(kinds) != 1 or kinds[0] not in READERS:
                raise TypeError(f"{cls.__name__}.{declared.name}: cannot read {declared.type}")
            found.append((declared.name, READERS[kinds[0]], "None" not in arms))
        known = _FIELDS[cls] = tuple(found)
    return known


@dataclass(frozen=True)
class PushResult(Result):
    """Answer to ``push``. Newer servers send ``notification_id`` (for ``replace_push``) and
    echo ``tags``."""

    success: bool
    devices_notified: int | None = None
    users_notified: int | None = None
    effective_channel_slugs: tuple[str, ...] | None = None
    timestamp: str | None = None
    warning: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    notification_id: str | None = None
    tags: tuple[str, ...] | None = None


@dataclass(frozen=True)
class PushReplaceResult(Result):
    """Answer to ``replace_push``: the replaced push keeps its ``notification_id``."""

    success: bool
    notification_id: str | None = None
    devices_notified: int | None = None
    users_notified: int | None = None
    effective_channel_slugs: tuple[str, ...] | None = None
    tags: tuple[str, ...] | None = None
    timestamp: str | None = None
    warning: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class StartResult(Result):
    """Answer to ``start``: keep ``activity_id`` for ``update`` and ``end``.

    ``ended_activity_id`` is set by servers that end the oldest activity to make room.
    """

    success: bool
    activity_id: str
    devices_notified: int | None = None
    users_notified: int | None = None
    effective_channel_slugs: tuple[str, ...] | None = None
    ended_activity_id: str | None = None
    timestamp: str | None = None
    warning: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    tags: tuple[str, ...] | None = None


@dataclass(frozen=True)
class UpdateResult(Result):
    """Answer to ``update``. A ``warning`` here usually means iOS is about to throttle."""

    success: bool
    activity_id: str | None = None
    devices_notified: int | None = None
    devices_queued: int | None = None
    timestamp: str | None = None
    warning: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    tags: tuple[str, ...] | None = None


@dataclass(frozen=True)
class EndResult(Result):
    """Answer to ``end``; newer servers say ``ignored=True`` when it had already ended."""

    success: bool
    activity_id: str | None = None
    devices_notified: int | None = None
    devices_queued: int | None = None
    timestamp: str | None = None
    warning: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    ignored: bool | None = None


@dataclass(frozen=True)
class StreamResult(Result):
    """Answer to ``stream``: ``operation`` is ``started``, ``updated``, ``rotated``, ``noop`` or
    ``paused`` (``activity_id`` is ``None`` when paused); a value unknown today is kept as is."""

    success: bool
    operation: str | None = None
    stream_key: str | None = None
    activity_id: str | None = None
    previous_activity_id: str | None = None
    devices_notified: int | None = None
    devices_queued: int | None = None
    users_notified: int | None = None
    effective_channel_slugs: tuple[str, ...] | None = None
    timestamp: str | None = None
    warning: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    tags: tuple[str, ...] | None = None
    ignored: bool | None = None


@dataclass(frozen=True)
class StreamEndResult(Result):
    """Answer to ``end_stream``; ``activity_id`` is ``None`` when the stream had already ended."""

    success: bool
    operation: str | None = None
    stream_key: str | None = None
    activity_id: str | None = None
    devices_notified: int | None = None
    devices_queued: int | None = None
    timestamp: str | None = None
    warning: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    ignored: bool | None = None


@dataclass(frozen=True)
class BadgeResult(Result):
    """Answer to ``set_badge``: the count set and who was notified (newer servers also name
    them ``devices_updated`` / ``users_updated``)."""

    success: bool
    badge: int | None = None
    devices_notified: int | None = None
    users_notified: int | None = None
    effective_channel_slugs: tuple[str, ...] | None = None
    timestamp: str | None = None
    warning: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    devices_updated: int | None = None
    users_updated: int | None = None


@dataclass(frozen=True)
class MetricResult(Result):
    """Answer to ``set_metric`` (today the server sends only ``success``)."""

    success: bool
    timestamp: str | None = None
    warning: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
