"""The machinery of the request bodies: fields declared once, values derived from them.

A payload class subclasses ``Model`` and declares each field once, as
``name: type = field(check=...)``; construction (keyword-only, frozen), equality, ``repr``,
``replace()``, ``to_json()`` and ``from_json()`` are all derived from that one list (no
dataclasses: importing this costs about a millisecond). A bad value raises ``ValidationError``
naming the field (a dotted path relative to the object being built or parsed,
``"content_state.current_step"``, ``"actions[2].url"``) before any request is sent.
``to_json()`` renders the wire form with unset fields omitted (no defaults are injected), and
``from_json()`` parses a raw JSON object, as a server receives it, with the same rules:
``X.from_json(x.to_json()) == x``. ``One(Model)`` and ``Many(Model)`` check and parse nested
values.

Where a field travels on the wire is part of its declaration (``wire=``): ``SENT`` (as named),
``AS_TARGET`` (``"target": {"channels": [...]}``), ``AS_STREAM_CHANNELS`` (``channels``, with
``target.channels`` accepted on input), ``IN_CONTENT_STATE`` (inside the body's
``content_state``), ``AS_VALUE`` (as ``value``, read back from a JSON string) and ``NOT_SENT``
(a permission the caller grants). ``newer=True`` marks a field the published spec does not
have: ``check_published()`` refuses it and ``from_json()`` accepts it only with ``newer=True``.

The API's own classes, and why each placement exists, are in ``payload``. Nothing here knows
about HTTP.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Callable, ClassVar, TypeVar

from livebar._wire import checks as checks
from livebar._wire.errors import ValidationError

if TYPE_CHECKING:
    from typing_extensions import Self, dataclass_transform
else:

    def dataclass_transform(**_: object) -> Callable[[_T], _T]:
        return lambda cls: cls


__all__ = [
    "AS_STREAM_CHANNELS",
    "AS_TARGET",
    "AS_VALUE",
    "IN_CONTENT_STATE",
    "NOT_SENT",
    "SENT",
    "Field",
    "Many",
    "Model",
    "One",
    "field",
]

_T = TypeVar("_T")

# Where a field travels on the wire (see the module docstring).
SENT = "sent"
AS_TARGET = "target"
AS_STREAM_CHANNELS = "stream channels"
IN_CONTENT_STATE = "content_state"
AS_VALUE = "value"
NOT_SENT = "not sent"

_REQUIRED: Any = type("Required", (), {"__repr__": lambda self: "<required>"})()


class Field:
    """One declared field: its default, its check and where it travels on the wire."""

    __slots__ = ("check", "compare", "default", "name", "newer", "wire")

    def __init__(
        self,
        check: Callable[[Any, str], Any],
        default: Any,
        wire: str,
        newer: bool,
        compare: bool,
    ) -> None:
        self.check = check
        self.default = default
        self.wire = wire
        self.newer = newer
        self.compare = compare
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def decode(self, raw: object, path: str) -> Any:
        """The constructor argument for the raw JSON ``raw`` (nested values are parsed)."""
        decode = getattr(self.check, "decode", None)
        return raw if decode is None else decode(raw, path)


def field(
    *,
    check: Callable[[Any, str], Any],
    default: Any = _REQUIRED,
    wire: str = SENT,
    newer: bool = False,
    compare: bool = True,
) -> Any:
    """Declare a field: ``check(value, name)`` validates a value that is not ``None`` and returns
    it as stored; a field without ``default`` is required. ``newer`` marks a field the published
    spec does not have."""
    return Field(check, default, wire, newer, compare)


class One:
    """Check and parse a nested payload value."""

    def __init__(self, model: type[Model]) -> None:
        self.model = model

    def __call__(self, value: object, name: str) -> Any:
        return checks.instance(value, name, self.model)

    def decode(self, raw: object, path: str) -> Model:
        return _within(path, self.model._parse, raw)


class Many:
    """Check and parse a list of nested payload values (stored as a tuple)."""

    def __init__(
        self, model: type[Model], *, min_items: int = 0, max_items: int | None = None
    ) -> None:
        self.model = model
        self.min_items = min_items
        self.max_items = max_items

    def __call__(self, value: object, name: str) -> tuple[Any, ...]:
        items = checks.array(value, name)
        if len(items) < self.min_items:
            raise ValidationError(name, "minItems", f"must hold at least {self.min_items}")
        if self.max_items is not None and len(items) > self.max_items:
            raise ValidationError(name, "maxItems", f"must hold at most {self.max_items}")
        for i, item in enumerate(items):
            checks.instance(item, f"{name}[{i}]", self.model)
        return items

    def decode(self, raw: object, path: str) -> tuple[Model, ...]:
        items = checks.array(raw, path)
        return tuple(
            _within(f"{path}[{i}]", self.model._parse, item) for i, item in enumerate(items)
        )


def _within(path: str, parse: Callable[[Any], _T], data: object) -> _T:
    try:
        return parse(data)
    except ValidationError as exc:
        raise exc.within(path) from exc


@dataclass_transform(frozen_default=True, kw_only_default=True, field_specifiers=(field,))
class Model:
    """A frozen, keyword-only value whose fields are declared with ``field()``."""

    _fields: ClassVar[tuple[Field, ...]] = ()
    _names: ClassVar[frozenset[str]] = frozenset()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = [value for value in vars(cls).values() if isinstance(value, Field)]
        for declared in own:  # like a dataclass: a default stays readable on the class
            if declared.default is _REQUIRED:
                delattr(cls, declared.name)
            else:
                setattr(cls, declared.name, declared.default)
        cls._fields = (*cls._fields, *own)
        cls._names = frozenset(declared.name for declared in cls._fields)

    def __init__(self, **values: Any) -> None:
        unknown = values.keys() - self._names
        if unknown:
            name = sorted(unknown)[0]
            raise TypeError(f"{type(self).__name__}() got an unexpected keyword argument {name!r}")
        for declared in self._fields:
            name = declared.name
            if name in values:
                value = values[name]
            elif declared.default is _REQUIRED:
                raise TypeError(f"{type(self).__name__}() missing keyword argument {name!r}")
            else:
                value = declared.default
            if value is not None or declared.default is _REQUIRED:
                value = declared.check(value, name)
            object.__setattr__(self, name, value)
        self._validate()

    def _validate(self) -> None:
        """Rules that involve more than one field (none by default)."""

    def replace(self, **changes: Any) -> Self:
        """A copy with ``changes`` applied, checked like a new value (``dataclasses.replace``)."""
        values = {declared.name: self.__dict__[declared.name] for declared in self._fields}
        values.update(changes)
        return type(self)(**values)

    __replace__ = replace  # copy.replace() on Python 3.13+

    def _key(self) -> tuple[Any, ...]:
        return tuple(self.__dict__[f.name] for f in self._fields if f.compare)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, Model)
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        shown = ", ".join(f"{f.name}={self.__dict__[f.name]!r}" for f in self._fields if f.compare)
        return f"{type(self).__name__}({shown})"

    def __setattr__(self, name: str, value: object) -> None:
        from dataclasses import FrozenInstanceError  # only paid by code that tries

        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        from dataclasses import FrozenInstanceError

        raise FrozenInstanceError(f"cannot delete field {name!r}")

    # The wire form, derived from the fields.

    def to_json(self) -> dict[str, Any]:
        """The JSON body (or nested object) this value is sent as; unset fields are omitted."""
        body: dict[str, Any] = {}
        inside: dict[str, Any] = {}
        for declared in self._fields:
            value = self.__dict__[declared.name]
            if value is None or value == declared.default or declared.wire == NOT_SENT:
                continue
            plain = _plain(value)
            if declared.wire == AS_TARGET:
                body["target"] = {"channels": plain}
            elif declared.wire == IN_CONTENT_STATE:
                inside[declared.name] = plain
            elif declared.wire == AS_VALUE:
                body["value"] = plain
            else:
                body[declared.name] = plain
        if inside:
            body["content_state"] = {**body["content_state"], **inside}
        return body

    @classmethod
    def from_json(cls, data: object, *, newer: bool = False) -> Self:
        """Parse a raw JSON object as the API receives it; unknown fields are refused.

        With ``newer=True`` the newer surface is accepted too (see the module docstring).
        """
        value = cls._parse(data)
        if not newer:
            value.check_published()
        return value

    @classmethod
    def _parse(cls, data: object) -> Self:
        fields = cls._fields
        allowed = {f.name for f in fields if f.wire in (SENT, AS_STREAM_CHANNELS)}
        if any(f.wire in (AS_TARGET, AS_STREAM_CHANNELS) for f in fields):
            allowed.add("target")
        required = [f.name for f in fields if f.default is _REQUIRED and f.wire == SENT]
        raw = _object(data, allowed=allowed, required=required)
        values: dict[str, Any] = {}
        inside = [f for f in fields if f.wire == IN_CONTENT_STATE]
        if inside and isinstance(raw.get("content_state"), dict):
            state = dict(raw["content_state"])
            for declared in inside:
                if declared.name in state:
                    path = f"content_state.{declared.name}"
                    values[declared.name] = declared.check(state.pop(declared.name), path)
            raw = {**raw, "content_state": state}
        texts = [f for f in fields if f.wire == AS_VALUE]
        if texts and isinstance(raw.get("value"), str):
            values[texts[0].name] = raw["value"]
            raw = {key: item for key, item in raw.items() if key != "value"}
        for declared in fields:
            name = declared.name
            if declared.wire == SENT and name in raw:
                values[name] = declared.decode(raw[name], name)
            elif declared.wire == AS_TARGET and "target" in raw:
                values[name] = _within("target", _parse_target, raw["target"])
            elif declared.wire == AS_STREAM_CHANNELS:
                listed = checks.optional(checks.channels, raw.get("channels"), name)
                targeted = (
                    _within("target", _parse_target, raw["target"]) if "target" in raw else None
                )
                if listed is not None and targeted is not None and listed != targeted:
                    raise ValidationError("target.channels", "const", "must match channels")
                values[name] = listed if listed is not None else targeted
            elif declared.wire == NOT_SENT:
                values[name] = True  # what the parser reads is the caller's to allow
        return cls(**values)

    # The two surfaces.

    def check_published(self) -> None:
        """Raise ``ValidationError`` for the first part of this value that the published spec
        does not know: a newer field, the ``value`` type, an ``http://`` link."""
        for declared in self._fields:
            value = self.__dict__[declared.name]
            if value is None or value == declared.default:
                continue
            if declared.newer and declared.wire == AS_VALUE:
                raise ValidationError("value", "type", "must be a number")
            if declared.newer:
                raise ValidationError(declared.name, "additionalProperties", "is not a known field")
            if isinstance(value, Model):
                _within(declared.name, Model.check_published, value)
            elif isinstance(value, tuple):
                for i, item in enumerate(value):
                    if isinstance(item, Model):
                        _within(f"{declared.name}[{i}]", Model.check_published, item)
        self._check_published_values()

    def _check_published_values(self) -> None:
        """Values (not fields) that only the newer surface allows (none by default)."""


def _plain(value: Any) -> Any:
    if isinstance(value, Model):
        return value.to_json()
    if isinstance(value, (tuple, list)):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def _object(data: object, *, allowed: set[str], required: Sequence[str]) -> dict[str, Any]:
    """``data`` if it is a JSON object of known, non-null fields with the required ones."""
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
    return data


def _parse_target(data: object) -> tuple[str, ...]:
    raw = _object(data, allowed={"channels"}, required=("channels",))
    return checks.channels(raw["channels"], "channels")
