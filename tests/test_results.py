"""The result classes, each read by the one ``Result.from_raw`` from its field annotations."""

from __future__ import annotations

import dataclasses

import pytest

from livebar._wire.operations import OPERATIONS
from livebar._wire.results import (
    READERS,
    BadgeResult,
    MissingField,
    PushResult,
    StartResult,
    StreamResult,
    fields_of,
)

RESULTS = sorted({endpoint.result for endpoint in OPERATIONS.values()}, key=lambda c: c.__name__)


@pytest.mark.parametrize("result", RESULTS, ids=lambda c: c.__name__)
def test_every_result_field_has_a_reader(result: type) -> None:
    """Each field but raw is read as a type READERS knows; only success is required, and
    StartResult's activity_id."""
    required = {name for name, _read, needed in fields_of(result) if needed}
    names = [f.name for f in dataclasses.fields(result) if f.name != "raw"]
    assert names == [name for name, _read, _needed in fields_of(result)]
    expected = {"success", "activity_id"} if result is StartResult else {"success"}
    assert expected == required
    assert {"str", "int", "bool", "tuple[str, ...]"} == set(READERS)


def test_known_fields_are_read_and_type_checked() -> None:
    """A field of the declared type is kept; one of another type reads as None."""
    raw = {"success": True, "devices_notified": "2", "users_notified": 1, "tags": ["a", 3, "b"]}
    expected = PushResult(success=True, users_notified=1, tags=("a", "b"))
    assert expected == PushResult.from_raw(raw)


def test_unknown_fields_and_operations_stay_in_raw() -> None:
    """An answer keeps everything in raw; an operation unknown today is kept as sent."""
    raw = {"success": True, "operation": "teleported", "stream_key": "k", "new_field": {"x": 1}}
    result = StreamResult.from_raw(raw)
    assert ("teleported", raw) == (result.operation, result.raw)


def test_success_is_assumed_when_an_answer_does_not_say() -> None:
    """A 2xx without a boolean success did what it was asked; a false one is kept."""
    assert [True, True, False] == [
        BadgeResult.from_raw({}).success,
        BadgeResult.from_raw({"success": "yes"}).success,
        BadgeResult.from_raw({"success": False}).success,
    ]


def test_a_start_without_an_activity_id_is_missing_a_field() -> None:
    """StartResult cannot do without activity_id: MissingField names it."""
    with pytest.raises(MissingField) as info:
        StartResult.from_raw({"success": True, "activity_id": 7})
    assert "activity_id" == info.value.name


def test_warning_is_read_like_any_field() -> None:
    """warning is a text field of every result."""
    assert "slow down" == StreamResult.from_raw({"warning": "slow down"}).warning
