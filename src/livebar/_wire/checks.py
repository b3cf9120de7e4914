"""Checks of single values, shared by the payload model, the options and the configuration.

Each check takes the value and the name of the field it came from, and returns the value in the
form it is stored in (``3.0`` becomes ``3`` for an integer, a list becomes a tuple) or raises
``ValidationError`` naming the field and the JSON Schema rule it broke. ``optional(check, value,
field, ...)`` lets ``None`` through. Nothing here imports more than ``livebar._wire.errors``: this
module sits under everything that validates and must stay cheap to import.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from livebar import _defaults
from livebar._wire.errors import ConfigurationError, ValidationError

if TYPE_CHECKING:
    from typing_extensions import Concatenate, ParamSpec

    _P = ParamSpec("_P")

_T = TypeVar("_T")

COLORS = _defaults.COLORS
"""The accent colours ActivitySmith knows."""

MAX_TAGS = 20
MAX_TAG_LENGTH = 64
MAX_METADATA_ENTRIES = 50
MAX_METADATA_KEY = 100
MAX_METADATA_TEXT = 4000
MAX_METADATA_BYTES = 16 * 1024
MAX_JSON_INTEGER = 2**53 - 1
"""The largest integer every JSON reader keeps exact: the bound of livebar's counts and minutes."""

_DATE_TIME = r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))"


def setting(
    check: Callable[Concatenate[object, str, _P], _T],
    value: object,
    name: str,
    *args: _P.args,
    **kwargs: _P.kwargs,
) -> _T:
    """``check`` for a setting: its failure is a ``ConfigurationError`` naming ``name``."""
    try:
        return check(value, name, *args, **kwargs)
    except ValidationError as exc:
        raise ConfigurationError(name, exc.detail) from None


def optional(
    check: Callable[Concatenate[object, str, _P], _T],
    value: object,
    field: str,
    *args: _P.args,
    **kwargs: _P.kwargs,
) -> _T | None:
    """``None`` if ``value`` is ``None``, else ``check(value, field, ...)``."""
    return None if value is None else check(value, field, *args, **kwargs)


def string(value: object, field: str, *, min_length: int = 0, max_length: int | None = None) -> str:
    """A ``str`` of ``min_length`` to ``max_length`` characters."""
    if not isinstance(value, str):
        raise ValidationError(field, "type", "must be a string")
    if len(value) < min_length:
        detail = "must not be empty" if min_length == 1 else f"needs {min_length}+ characters"
        raise ValidationError(field, "minLength", detail)
    if max_length is not None and len(value) > max_length:
        raise ValidationError(field, "maxLength", f"must be at most {max_length} characters")
    return value


def text(value: object, field: str, *, min_length: int = 0, max_length: int | None = None) -> str:
    """A ``str`` a phone can show, made sendable (``sendable``), then checked as ``string``. A
    text of nothing but control characters keeps one U+FFFD: something was there."""
    if not isinstance(value, str):
        raise ValidationError(field, "type", "must be a string")
    shown = sendable(value)
    if value and not shown:
        shown = "\ufffd"
    return string(shown, field, min_length=min_length, max_length=max_length)


_BLANKS = {ord("\t"): " ", ord("\n"): " ", ord("\r"): " "}
_CONTROLS = dict.fromkeys([*range(0x20), 0x7F, *range(0x80, 0xA0)])
_CONTROLS.update(_BLANKS)


def sendable(value: str) -> str:
    """``value`` as it can travel and be shown: a lone surrogate (a file name ``os.fsdecode``
    could not decode, ``photo-\udcff.jpg``) becomes U+FFFD, a tab or line break a space, and
    any other control character (C0, DEL, C1) goes. Printable text is returned as it is."""
    if value.isprintable():
        return value
    cleaned = value.translate(_CONTROLS)
    if any("\ud800" <= c <= "\udfff" for c in cleaned):
        cleaned = "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in cleaned)
    return cleaned


def integer(
    value: object, field: str, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    """An integer; an integral float counts (JSON Schema's rule) and is stored as an ``int``.

    A ``bool`` is never a number.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValidationError(field, "type", "must be an integer")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValidationError(field, "type", "must be an integer")
        value = int(value)
    if minimum is not None and value < minimum:
        raise ValidationError(field, "minimum", f"must be >= {minimum}")
    if maximum is not None and value > maximum:
        raise ValidationError(field, "maximum", f"must be <= {maximum}")
    return value


def finite_float(value: object) -> float | None:
    """``value`` as a float when it is a finite ``int`` or ``float`` (never a ``bool``);
    ``None`` otherwise, an ``int`` too large for a float included."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def number(
    value: object,
    field: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    exclusive_minimum: float | None = None,
) -> float:
    """A finite ``int`` or ``float`` (never a ``bool``) within the bounds given."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValidationError(field, "type", "must be a number")
    if finite_float(value) is None:
        raise ValidationError(field, "type", "must be a finite number")
    if minimum is not None and value < minimum:
        raise ValidationError(field, "minimum", f"must be >= {minimum:g}")
    if maximum is not None and value > maximum:
        raise ValidationError(field, "maximum", f"must be <= {maximum:g}")
    if exclusive_minimum is not None and value <= exclusive_minimum:
        raise ValidationError(field, "exclusiveMinimum", f"must be > {exclusive_minimum:g}")
    return value


def boolean(value: object, field: str) -> bool:
    """``True`` or ``False``."""
    if not isinstance(value, bool):
        raise ValidationError(field, "type", "must be true or false")
    return value


def choice(value: object, field: str, choices: Sequence[str]) -> str:
    """One of ``choices``."""
    text = string(value, field)
    if text not in choices:
        raise ValidationError(field, "enum", f"must be one of {', '.join(choices)}")
    return text


def color(value: object, field: str) -> str:
    """One of ``COLORS``."""
    return choice(value, field, COLORS)


def matches(value: object, field: str, pattern: str, detail: str) -> str:
    """A string that ``pattern`` (a regular expression) matches entirely."""
    import re  # compiled (and cached by re) on first use, not at import

    text = string(value, field)
    if re.fullmatch(pattern, text) is None:
        raise ValidationError(field, "pattern", detail)
    return text


def url(value: object, field: str, schemes: Sequence[str]) -> str:
    """A URL starting with ``<scheme>://`` for one of ``schemes``, with something after it and
    no whitespace."""
    text = string(value, field)
    prefixes = [f"{scheme}://" for scheme in schemes]
    prefix = next((p for p in prefixes if text.startswith(p)), None)
    if prefix is None:
        raise ValidationError(field, "pattern", f"must start with {' or '.join(prefixes)}")
    if len(text) == len(prefix) or any(c.isspace() for c in text):
        raise ValidationError(field, "format", "must be a URL without spaces")
    return text


def url_without_credentials(value: object, field: str, schemes: Sequence[str]) -> str:
    """Like ``url``, and the authority holds no ``user:password@``."""
    text = url(value, field, schemes)
    authority = text.split("://", 1)[1].split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    if "@" in authority:
        raise ValidationError(field, "format", "must not hold credentials")
    return text


def json_object(value: object, field: str) -> dict[str, Any]:
    """A mapping with string keys holding JSON values only; stored as a deep copy."""
    if not isinstance(value, Mapping) or not all(isinstance(key, str) for key in value):
        raise ValidationError(field, "type", "must be an object with string keys")
    try:
        copied: dict[str, Any] = {key: _json_copy(item) for key, item in value.items()}
    except (TypeError, ValueError, RecursionError) as exc:
        raise ValidationError(field, "type", "must hold JSON values only") from exc
    return copied


def _json_copy(value: object) -> object:
    if isinstance(value, Mapping):  # nested keys may be anything json.dumps turns into text
        if not all(key is None or isinstance(key, (str, int, float)) for key in value):
            raise TypeError("object keys must be strings")
        return {key: _json_copy(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_copy(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("NaN and infinity are not JSON")
    if value is None or isinstance(value, (str, int, float)):
        return value
    raise TypeError(f"{type(value).__name__} is not a JSON value")


def array(value: object, field: str) -> tuple[Any, ...]:
    """A list or tuple (not a string: ``channels="ops"`` is the classic mistake), as a tuple."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise ValidationError(field, "type", "must be a list")
    return tuple(value)


def channels(value: object, field: str) -> tuple[str, ...]:
    """A non-empty list of non-empty channel slugs."""
    slugs = array(value, field)
    if not slugs:
        raise ValidationError(field, "minItems", "must name at least one channel")
    return tuple(string(slug, f"{field}[{i}]", min_length=1) for i, slug in enumerate(slugs))


def tags(value: object, field: str) -> tuple[str, ...]:
    """At most 20 tags of 1..64 characters; an empty list is allowed (it clears them)."""
    items = array(value, field)
    if len(items) > MAX_TAGS:
        raise ValidationError(field, "maxItems", f"must hold at most {MAX_TAGS}")
    return tuple(
        string(tag, f"{field}[{i}]", min_length=1, max_length=MAX_TAG_LENGTH)
        for i, tag in enumerate(items)
    )


def metadata(value: object, field: str) -> dict[str, str | float | bool]:
    """At most 50 entries of text (up to 4,000 characters), finite numbers or booleans, keys of
    1..100 characters, 16 KB of JSON at most; ``{}`` is allowed (it clears them)."""
    if not isinstance(value, Mapping):
        raise ValidationError(field, "type", "must be an object")
    if len(value) > MAX_METADATA_ENTRIES:
        raise ValidationError(field, "maxProperties", f"must hold at most {MAX_METADATA_ENTRIES}")
    entries: dict[str, str | float | bool] = {}
    for key, item in value.items():
        name = string(key, f"{field} key", min_length=1, max_length=MAX_METADATA_KEY)
        path = f"{field}.{name}"
        if isinstance(item, str):
            entries[name] = string(item, path, max_length=MAX_METADATA_TEXT)
        elif isinstance(item, bool):
            entries[name] = item
        elif isinstance(item, (int, float)):
            entries[name] = number(item, path)
        else:
            raise ValidationError(path, "type", "must be a string, a finite number or a boolean")
    import json  # only metadata needs it, and only to measure the serialized size

    size = len(json.dumps(entries, ensure_ascii=False, separators=(",", ":")).encode())
    if size > MAX_METADATA_BYTES:
        raise ValidationError(field, "maxLength", "must be at most 16 KB of JSON")
    return entries


def date_time(value: object, field: str) -> str:
    """An RFC 3339 date-time (the spec's ``format: date-time``); an aware ``datetime`` becomes
    one. Stored as the string sent."""
    if not isinstance(value, str):
        import datetime  # only a datetime object needs it, and then it is already imported

        if isinstance(value, datetime.datetime):
            if value.utcoffset() is None:
                raise ValidationError(field, "format", "must be a timezone-aware datetime")
            return value.isoformat()
        raise ValidationError(field, "type", "must be a string")
    if not _is_date_time(value):
        raise ValidationError(
            field, "format", "must be an RFC 3339 date-time like 2026-07-10T12:00:00Z"
        )
    return value


def _is_date_time(text: str) -> bool:
    import datetime
    import re

    match = re.fullmatch(_DATE_TIME, text, re.ASCII)
    if match is None:
        return False
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    offset_hours, offset_minutes = match.group(9), match.group(10)
    if second > 60 or (offset_hours is not None and int(offset_hours) > 23):
        return False
    if offset_minutes is not None and int(offset_minutes) > 59:
        return False
    try:  # RFC 3339 allows a leap second (:60); datetime does not.
        datetime.datetime(year, month, day, hour, minute, min(second, 59))
    except ValueError:
        return False
    return True


def instance(value: object, field: str, cls: type[_T]) -> _T:
    """An instance of ``cls``."""
    if not isinstance(value, cls):
        raise ValidationError(field, "type", f"must be a {cls.__name__}")
    return value
