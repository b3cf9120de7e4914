"""The shared single-value checks: what each accepts, stores and refuses (field and rule)."""

from __future__ import annotations

import datetime
import subprocess
import sys
from typing import Any, Callable

import pytest

from livebar._wire import checks as checks
from livebar._wire.errors import ValidationError


def test_colors_are_shared() -> None:
    """COLORS lives in _checks and is the payload model's own tuple."""
    from livebar._wire import payload as _payload

    assert _payload.COLORS is checks.COLORS
    assert 10 == len(checks.COLORS)
    assert "gray" == checks.color("gray", "color")


ACCEPTED: list[tuple[Callable[..., Any], tuple[Any, ...], Any]] = [
    (checks.string, ("abc", "f"), "abc"),
    (checks.integer, (3.0, "f"), 3),
    (checks.integer, (5, "f"), 5),
    (checks.number, (2.5, "f"), 2.5),
    (checks.boolean, (False, "f"), False),
    (checks.choice, ("b", "f", ("a", "b")), "b"),
    (checks.url, ("https://e.test/x", "f", ("https",)), "https://e.test/x"),
    (checks.array, (["a", 1], "f"), ("a", 1)),
    (checks.channels, (["ops", "devs"], "f"), ("ops", "devs")),
    (checks.tags, ([], "f"), ()),
    (checks.metadata, ({"a": 1, "b": "x", "c": True}, "f"), {"a": 1, "b": "x", "c": True}),
    (checks.json_object, ({"a": [1, {"b": None}]}, "f"), {"a": [1, {"b": None}]}),
    (checks.date_time, ("2026-07-10T23:59:60Z", "f"), "2026-07-10T23:59:60Z"),
    (
        checks.date_time,
        (datetime.datetime(2026, 7, 10, tzinfo=datetime.timezone.utc), "f"),
        "2026-07-10T00:00:00+00:00",
    ),
    (checks.matches, ("ab_1", "f", "[a-z0-9_]+", "letters"), "ab_1"),
    (checks.instance, (3, "f", int), 3),
]


@pytest.mark.parametrize(("check", "args", "stored"), ACCEPTED)
def test_checks_return_the_stored_form(
    check: Callable[..., Any], args: tuple[Any, ...], stored: Any
) -> None:
    """A good value comes back in the form it is stored in."""
    assert stored == check(*args)


REFUSED: list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any], str]] = [
    (checks.string, (3, "f"), {}, "type"),
    (checks.string, ("", "f"), {"min_length": 1}, "minLength"),
    (checks.string, ("abc", "f"), {"max_length": 2}, "maxLength"),
    (checks.integer, (True, "f"), {}, "type"),
    (checks.integer, (1.5, "f"), {}, "type"),
    (checks.integer, (-1, "f"), {"minimum": 0}, "minimum"),
    (checks.integer, (11, "f"), {"maximum": 10}, "maximum"),
    (checks.number, (float("inf"), "f"), {}, "type"),
    (checks.number, (10**400, "f"), {}, "type"),
    (checks.number, ("1", "f"), {}, "type"),
    (checks.number, (0, "f"), {"exclusive_minimum": 0}, "exclusiveMinimum"),
    (checks.number, (101, "f"), {"maximum": 100}, "maximum"),
    (checks.boolean, (1, "f"), {}, "type"),
    (checks.choice, ("c", "f", ("a", "b")), {}, "enum"),
    (checks.color, ("pink", "f"), {}, "enum"),
    (checks.url, ("http://e", "f", ("https",)), {}, "pattern"),
    (checks.url, ("https://", "f", ("https",)), {}, "format"),
    (checks.url, ("https://a b", "f", ("https",)), {}, "format"),
    (checks.url_without_credentials, ("https://u:p@e/x", "f", ("https",)), {}, "format"),
    (checks.array, ("ops", "f"), {}, "type"),
    (checks.channels, ([], "f"), {}, "minItems"),
    (checks.json_object, ({"a": object()}, "f"), {}, "type"),
    (checks.json_object, ({1: 2}, "f"), {}, "type"),
    (checks.date_time, ("2026-07-10", "f"), {}, "format"),
    (checks.date_time, (5, "f"), {}, "type"),
    (checks.matches, ("a/b", "f", "[a-z]+", "letters"), {}, "pattern"),
    (checks.instance, ("3", "f", int), {}, "type"),
]


@pytest.mark.parametrize(("check", "args", "kwargs", "rule"), REFUSED)
def test_checks_refuse_naming_the_field_and_rule(
    check: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], rule: str
) -> None:
    """A bad value raises ValidationError (a ValueError) with the field and the rule."""
    with pytest.raises(ValidationError) as info:
        check(*args, **kwargs)
    assert ("f", rule) == (info.value.field, info.value.rule)
    assert isinstance(info.value, ValueError)


def test_optional_lets_none_through() -> None:
    """optional(check, None, ...) is None; anything else goes through the check."""
    assert None is checks.optional(checks.choice, None, "f", ("a",))
    assert "a" == checks.optional(checks.choice, "a", "f", ("a",))
    with pytest.raises(ValidationError):
        checks.optional(checks.integer, "x", "f", minimum=0)


def test_values_are_copied() -> None:
    """Lists become tuples and JSON objects are deep copies."""
    nested = {"a": [1]}
    copied = checks.json_object(nested, "f")
    nested["a"].append(2)
    assert {"a": [1]} == copied


def test_importing_checks_stays_light() -> None:
    """Beyond the livebar package itself, livebar._wire.checks loads only what _errors needs."""
    code = (
        "import sys, livebar; before = set(sys.modules); import livebar._wire.checks; "
        "print(sorted(m for m in set(sys.modules) - before if not m.startswith('livebar')"
        " and m not in ('math', 'datetime', '_datetime', 'time')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    )
    assert "[]" == result.stdout.strip()
