"""The payload model: builders, wire form, parsing, and agreement with the OpenAPI spec."""

from __future__ import annotations

import dataclasses
import datetime
import re
from typing import TYPE_CHECKING, Any, Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from livebar._wire.errors import ValidationError
from livebar._wire.payload import (
    COLORS,
    CONTENT_TYPES,
    Action,
    Alert,
    Badge,
    BadgeCount,
    ContentState,
    EndActivity,
    Icon,
    Metric,
    MetricValue,
    PushNotification,
    PushReplace,
    StartActivity,
    StreamEnd,
    StreamUpdate,
    UpdateActivity,
    validate_metric_key,
    validate_notification_id,
    validate_stream_key,
)

if TYPE_CHECKING:
    from conftest import SpecValidator

PROPERTY = settings(max_examples=150, deadline=None)

SCHEMA_OF: dict[type[Any], str] = {
    PushNotification: "PushNotificationRequest",
    StartActivity: "LiveActivityStartRequest",
    UpdateActivity: "LiveActivityUpdateRequest",
    EndActivity: "LiveActivityEndRequest",
    StreamUpdate: "LiveActivityStreamRequest",
    StreamEnd: "LiveActivityStreamDeleteRequest",
}

SEGMENTED = ContentState.segmented_progress("Backup", number_of_steps=3, current_step=1)
PROGRESS = ContentState.progress("Upload", percentage=42.5)


def _raises(build: Callable[[], object]) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        build()
    return info.value


# Builders and the wire form.


def test_segmented_progress_wire_form() -> None:
    """The segmented factory sets the type and its fields, nothing else."""
    state = ContentState.segmented_progress(
        "Backup", number_of_steps=3, subtitle="dump", step_colors=["green"], color="blue"
    )
    expected = {
        "title": "Backup",
        "type": "segmented_progress",
        "number_of_steps": 3,
        "current_step": 0,
        "subtitle": "dump",
        "color": "blue",
        "step_colors": ["green"],
    }
    assert expected == state.to_json()


def test_progress_wire_form_with_value() -> None:
    """The progress factory accepts value with upper_limit."""
    state = ContentState.progress("Upload", value=3, upper_limit=10, icon=Icon(symbol="arrow.up"))
    expected = {
        "title": "Upload",
        "type": "progress",
        "value": 3,
        "upper_limit": 10,
        "icon": {"symbol": "arrow.up"},
    }
    assert expected == state.to_json()


def test_other_factories() -> None:
    """The metrics, stats, alert and timer factories set their type and fields."""
    metric = Metric(label="CPU", value=27, unit="%", color="red")
    assert {"title": "H", "type": "metrics", "metrics": [metric.to_json()]} == (
        ContentState.for_metrics("H", metrics=[metric]).to_json()
    )
    assert "stats" == ContentState.stats("H", metrics=(metric,)).type
    assert {"title": "A", "type": "alert", "message": "m", "badge": {"title": "B"}} == (
        ContentState.alert("A", message="m", badge=Badge(title="B")).to_json()
    )
    assert {"title": "T", "type": "timer", "counts_down": False} == (
        ContentState.timer("T", counts_down=False).to_json()
    )


def test_unset_fields_omitted_and_no_defaults_injected() -> None:
    """A minimal update carries only what was set."""
    update = UpdateActivity(activity_id="a1", content_state=ContentState(title="x"))
    assert {"activity_id": "a1", "content_state": {"title": "x"}} == update.to_json()
    assert {} == StreamEnd().to_json()
    assert {"title": "t"} == PushNotification(title="t").to_json()


def test_start_wire_form(spec_validator: SpecValidator) -> None:
    """Start puts channels under target and validates against the spec."""
    start = StartActivity(
        content_state=SEGMENTED,
        action=Action.open_url("Open", "https://example.test/run/1"),
        secondary_action=Action.webhook("Stop", "https://example.test/stop", body={"id": 1}),
        alert=Alert(title="Started", body="now"),
        channels=["devs", "ops"],
    )
    body = start.to_json()
    assert {"channels": ["devs", "ops"]} == body["target"]
    assert {"title": "Stop", "type": "webhook", "url": "https://example.test/stop"} == {
        k: body["secondary_action"][k] for k in ("title", "type", "url")
    }
    assert "POST" == body["secondary_action"]["method"]
    spec_validator.assert_valid("LiveActivityStartRequest", body)


def test_end_puts_auto_dismiss_inside_content_state(spec_validator: SpecValidator) -> None:
    """auto_dismiss_minutes travels inside content_state on end."""
    end = EndActivity(activity_id="a1", content_state=SEGMENTED, auto_dismiss_minutes=0)
    body = end.to_json()
    assert 0 == body["content_state"]["auto_dismiss_minutes"]
    assert "auto_dismiss_minutes" not in body
    spec_validator.assert_valid("LiveActivityEndRequest", body)


def test_stream_wire_forms(spec_validator: SpecValidator) -> None:
    """Stream PUT uses top-level channels; stream DELETE carries the dismiss time."""
    put = StreamUpdate(content_state=PROGRESS, channels=("ops",), alert=Alert(title="a"))
    assert ["ops"] == put.to_json()["channels"]
    spec_validator.assert_valid("LiveActivityStreamRequest", put.to_json())
    delete = StreamEnd(content_state=PROGRESS, auto_dismiss_minutes=3)
    assert 3 == delete.to_json()["content_state"]["auto_dismiss_minutes"]
    spec_validator.assert_valid("LiveActivityStreamDeleteRequest", delete.to_json())


def test_push_wire_form(spec_validator: SpecValidator) -> None:
    """A full push validates against the spec."""
    push = PushNotification(
        title="Deploy",
        message="done",
        subtitle="prod",
        payload={"run": [1, 2]},
        badge=3,
        sound="default",
        redirection="shortcuts://run-shortcut?name=Deploy",
        actions=[Action.open_url("Open", "https://example.test")] * 4,
        channels=["ops"],
    )
    spec_validator.assert_valid("PushNotificationRequest", push.to_json())
    with_media = PushNotification(title="t", media="https://example.test/a.png")
    spec_validator.assert_valid("PushNotificationRequest", with_media.to_json())


def test_values_are_immutable_and_copied() -> None:
    """Payloads are frozen, lists become tuples and dicts are copied."""
    colors = ["red"]
    body = {"k": [1]}
    state = ContentState.segmented_progress("x", number_of_steps=2, step_colors=colors)
    action = Action.webhook("w", "https://example.test", body=body)
    colors.append("blue")
    body["k"].append(2)
    assert ("red",) == state.step_colors
    assert {"k": [1]} == action.body
    with pytest.raises(dataclasses.FrozenInstanceError):
        state.title = "y"  # type: ignore[misc]


def test_integral_floats_become_ints() -> None:
    """3.0 counts as the integer 3, as in JSON Schema."""
    state = ContentState.segmented_progress("x", number_of_steps=4.0, current_step=2.0)  # type: ignore[arg-type]
    assert (4, 2) == (state.number_of_steps, state.current_step)
    assert isinstance(state.to_json()["number_of_steps"], int)


ROUND_TRIPS = [
    PushNotification(title="t", actions=[Action.webhook("w", "https://e.test", method="GET")]),
    PushNotification(title="t", media="https://e.test/a.mp4", channels=["a"], payload={}),
    StartActivity(content_state=SEGMENTED, channels=["x"], alert=Alert()),
    StartActivity(content_state=ContentState.timer("T", duration_seconds=60, is_running=False)),
    UpdateActivity(
        activity_id="a", content_state=PROGRESS, action=Action.open_url("o", "https://e")
    ),
    EndActivity(activity_id="a", content_state=SEGMENTED, auto_dismiss_minutes=5),
    EndActivity(activity_id="a", content_state=ContentState(title="done")),
    StreamUpdate(content_state=SEGMENTED, channels=["a", "b"], auto_dismiss_seconds=0),
    StreamEnd(),
    StreamEnd(content_state=PROGRESS, auto_dismiss_minutes=0, auto_dismiss_seconds=10),
]


@pytest.mark.parametrize("payload", ROUND_TRIPS, ids=lambda p: type(p).__name__)
def test_round_trip(payload: Any, spec_validator: SpecValidator) -> None:
    """X.from_json(x.to_json()) == x, and the wire form validates against the spec."""
    assert payload == type(payload).from_json(payload.to_json())
    spec_validator.assert_valid(SCHEMA_OF[type(payload)], payload.to_json())


def test_stream_accepts_target_form() -> None:
    """A stream PUT may name channels as target.channels (or both, if equal)."""
    state = {"title": "x"}
    by_target = StreamUpdate.from_json({"content_state": state, "target": {"channels": ["a"]}})
    both = StreamUpdate.from_json(
        {"content_state": state, "channels": ["a"], "target": {"channels": ["a"]}}
    )
    assert ("a",) == by_target.channels
    assert by_target == both
    error = _raises(
        lambda: StreamUpdate.from_json(
            {"content_state": state, "channels": ["a"], "target": {"channels": ["b"]}}
        )
    )
    assert ("target.channels", "const") == (error.field, error.rule)


# Refusals, with the field and rule they name.

BUILD_ERRORS: list[tuple[Callable[[], object], str, str]] = [
    (lambda: ContentState(title=1), "title", "type"),  # type: ignore[arg-type]
    (lambda: ContentState(title="x", type="bar"), "type", "enum"),
    (lambda: ContentState.segmented_progress("x", number_of_steps=0), "number_of_steps", "minimum"),
    (
        lambda: ContentState.segmented_progress("x", number_of_steps=2, current_step=3),
        "current_step",
        "maximum",
    ),
    (
        lambda: ContentState.segmented_progress("x", number_of_steps=2, current_step=-1),
        "current_step",
        "minimum",
    ),
    (lambda: ContentState(title="x", current_step=True), "current_step", "type"),
    (lambda: ContentState(title="x", number_of_steps=1.5), "number_of_steps", "type"),  # type: ignore[arg-type]
    (lambda: ContentState(title="x", type="segmented_progress"), "current_step", "required"),
    (lambda: ContentState.progress("x"), "percentage", "required"),
    (lambda: ContentState.progress("x", percentage=101), "percentage", "maximum"),
    (lambda: ContentState.progress("x", percentage=-0.1), "percentage", "minimum"),
    (lambda: ContentState.progress("x", percentage=float("nan")), "percentage", "type"),
    (lambda: ContentState.progress("x", percentage=True), "percentage", "type"),
    (lambda: ContentState.progress("x", value=3), "upper_limit", "dependentRequired"),
    (lambda: ContentState(title="x", upper_limit=3), "value", "dependentRequired"),
    (lambda: ContentState.progress("x", value=3, upper_limit=0), "upper_limit", "exclusiveMinimum"),
    (lambda: ContentState.timer("x", duration_seconds=0), "duration_seconds", "exclusiveMinimum"),
    (lambda: ContentState.timer("x", counts_down="no"), "counts_down", "type"),  # type: ignore[arg-type]
    (lambda: ContentState(title="x", type="metrics"), "metrics", "required"),
    (lambda: ContentState.for_metrics("x", metrics=[]), "metrics", "minItems"),
    (
        lambda: ContentState.stats("x", metrics=[Metric(label="a", value=1)] * 9),
        "metrics",
        "maxItems",
    ),
    (lambda: ContentState.for_metrics("x", metrics=[{"label": "a"}]), "metrics[0]", "type"),  # type: ignore[list-item]
    (lambda: ContentState.alert("x", message=""), "message", "minLength"),
    (lambda: ContentState(title="x", type="alert"), "message", "required"),
    (lambda: ContentState(title="x", color="pink"), "color", "enum"),
    (lambda: ContentState(title="x", step_colors=["red", "pink"]), "step_colors[1]", "enum"),
    (lambda: ContentState(title="x", step_colors="red"), "step_colors", "type"),
    (lambda: ContentState(title="x", icon={"symbol": "a"}), "icon", "type"),  # type: ignore[arg-type]
    (lambda: Icon(symbol=""), "symbol", "minLength"),
    (lambda: Badge(title="b", color="pink"), "color", "enum"),
    (lambda: Metric(label="", value=1), "label", "minLength"),
    (lambda: Metric(label="a", value=-1), "value", "minimum"),
    (lambda: Metric(label="a", value=""), "value", "minLength"),
    (lambda: Metric(label="a", value="x" * 65), "value", "maxLength"),
    (lambda: Metric(label="a", value=False), "value", "type"),
    (lambda: Action.open_url("o", "http://example.test"), "url", "pattern"),
    (lambda: Action.open_url("o", "https://"), "url", "format"),
    (lambda: Action.webhook("w", "shortcuts://run"), "url", "pattern"),
    (lambda: Action.webhook("w", "https://e.test", method="PUT"), "method", "enum"),
    (lambda: Action.webhook("w", "https://e.test", body=[1]), "body", "type"),  # type: ignore[arg-type]
    (lambda: Action.webhook("w", "https://e.test", body={"x": object()}), "body", "type"),
    (lambda: Action(title="a", type="call", url="https://e"), "type", "enum"),
    (lambda: Alert(title=3), "title", "type"),  # type: ignore[arg-type]
    (
        lambda: StartActivity(content_state=ContentState(title="x")),
        "content_state.type",
        "required",
    ),
    (
        lambda: StartActivity(
            content_state=ContentState(title="x", type="segmented_progress", current_step=0)
        ),
        "content_state.number_of_steps",
        "required",
    ),
    (
        lambda: StartActivity(content_state=ContentState.timer("x")),
        "content_state.duration_seconds",
        "required",
    ),
    (lambda: StartActivity(content_state=SEGMENTED, channels=[]), "channels", "minItems"),
    (lambda: StartActivity(content_state=SEGMENTED, channels="ops"), "channels", "type"),
    (
        lambda: StartActivity(content_state=SEGMENTED, channels=["ops", ""]),
        "channels[1]",
        "minLength",
    ),
    (lambda: StartActivity(content_state={"title": "x"}), "content_state", "type"),  # type: ignore[arg-type]
    (lambda: StartActivity(content_state=SEGMENTED, action="x"), "action", "type"),  # type: ignore[arg-type]
    (lambda: UpdateActivity(activity_id="", content_state=PROGRESS), "activity_id", "minLength"),
    (
        lambda: EndActivity(activity_id="a", content_state=PROGRESS, auto_dismiss_minutes=-1),
        "auto_dismiss_minutes",
        "minimum",
    ),
    (
        lambda: EndActivity(activity_id="a", content_state=PROGRESS, auto_dismiss_minutes=1.5),  # type: ignore[arg-type]
        "auto_dismiss_minutes",
        "type",
    ),
    (lambda: StreamEnd(auto_dismiss_minutes=1), "auto_dismiss_minutes", "dependentRequired"),
    (lambda: PushNotification(title="t", badge=True), "badge", "type"),
    (lambda: PushNotification(title="t", badge=1.5), "badge", "type"),  # type: ignore[arg-type]
    (lambda: PushNotification(title="t", media="http://e.test/a.png"), "media", "pattern"),
    (lambda: PushNotification(title="t", redirection="ftp://e"), "redirection", "pattern"),
    (
        lambda: PushNotification(title="t", actions=[Action.open_url("o", "https://e")] * 5),
        "actions",
        "maxItems",
    ),
    (
        lambda: PushNotification(
            title="t", media="https://e/a.png", actions=[Action.open_url("o", "https://e")]
        ),
        "media",
        "not",
    ),
    (lambda: PushNotification(title="t", payload={1: 2}), "payload", "type"),  # type: ignore[dict-item]
    (lambda: PushNotification(title="t", payload={"x": float("inf")}), "payload", "type"),
    (lambda: validate_stream_key(""), "stream_key", "minLength"),
    (lambda: validate_stream_key("a/b"), "stream_key", "pattern"),
    (lambda: validate_stream_key("a" * 256), "stream_key", "maxLength"),
    (lambda: validate_stream_key(5), "stream_key", "type"),
]


@pytest.mark.parametrize(("build", "field", "rule"), BUILD_ERRORS)
def test_builders_refuse(build: Callable[[], object], field: str, rule: str) -> None:
    """Each bad value raises ValidationError naming the field and the rule."""
    error = _raises(build)
    assert (field, rule) == (error.field, error.rule)
    assert isinstance(error, ValueError)
    assert field in str(error)
    assert rule in str(error)


PARSE_ERRORS: list[tuple[type[Any], object, str, str]] = [
    (StartActivity, [], "", "type"),
    (StartActivity, {}, "content_state", "required"),
    (
        StartActivity,
        {"content_state": {"title": "x", "type": "alert"}, "x": 1},
        "x",
        "additionalProperties",
    ),
    (StartActivity, {"content_state": "x"}, "content_state", "type"),
    (StartActivity, {"content_state": {"type": "alert"}}, "content_state.title", "required"),
    (
        StartActivity,
        {"content_state": {"title": "x", "type": "alert", "message": "m", "colour": "red"}},
        "content_state.colour",
        "additionalProperties",
    ),
    (
        StartActivity,
        {
            "content_state": {
                "title": "x",
                "type": "segmented_progress",
                "number_of_steps": 2,
                "current_step": 3,
            }
        },
        "content_state.current_step",
        "maximum",
    ),
    (
        StartActivity,
        {"content_state": {"title": "x", "type": "progress", "percentage": "50"}},
        "content_state.percentage",
        "type",
    ),
    (
        StartActivity,
        {"content_state": {"title": "x", "type": "alert", "message": "m"}, "target": {}},
        "target.channels",
        "required",
    ),
    (
        StartActivity,
        {"content_state": {"title": "x", "type": "alert", "message": "m"}, "channels": ["a"]},
        "channels",
        "additionalProperties",
    ),
    (
        StartActivity,
        {"content_state": {"title": "x", "type": "alert", "message": "m", "subtitle": None}},
        "content_state.subtitle",
        "type",
    ),
    (
        UpdateActivity,
        {"activity_id": "a", "content_state": {"title": "x", "auto_dismiss_minutes": 1}},
        "content_state.auto_dismiss_minutes",
        "additionalProperties",
    ),
    (UpdateActivity, {"content_state": {"title": "x"}}, "activity_id", "required"),
    (
        EndActivity,
        {"activity_id": "a", "content_state": {"title": "x", "auto_dismiss_minutes": -1}},
        "content_state.auto_dismiss_minutes",
        "minimum",
    ),
    (
        EndActivity,
        {
            "activity_id": "a",
            "content_state": {"title": "x", "metrics": [{"label": "l", "value": -2}]},
        },
        "content_state.metrics[0].value",
        "minimum",
    ),
    (
        EndActivity,
        {"activity_id": "a", "content_state": {"title": "x", "icon": {"symbol": "s", "x": 1}}},
        "content_state.icon.x",
        "additionalProperties",
    ),
    (
        StreamUpdate,
        {"content_state": {"title": "x"}, "action": {"title": "a", "type": "open_url"}},
        "action.url",
        "required",
    ),
    (StreamUpdate, {"content_state": {"title": "x"}, "channels": []}, "channels", "minItems"),
    (
        StreamUpdate,
        {"content_state": {"title": "x", "metrics": {}}},
        "content_state.metrics",
        "type",
    ),
    (StreamEnd, {"target": {"channels": ["a"]}}, "target", "additionalProperties"),
    (
        StreamEnd,
        {"content_state": {"title": "x", "auto_dismiss_seconds": "1"}},
        "content_state.auto_dismiss_seconds",
        "type",
    ),
    (
        PushNotification,
        {
            "title": "t",
            "actions": [
                {"title": "a", "type": "open_url", "url": "https://e"},
                {"title": "b", "type": "open_url", "url": "http://e"},
            ],
        },
        "actions[1].url",
        "pattern",
    ),
    (PushNotification, {"title": "t", "actions": {}}, "actions", "type"),
    (
        PushNotification,
        {"title": "t", "target": {"channels": ["a"], "x": 1}},
        "target.x",
        "additionalProperties",
    ),
    (PushNotification, {"message": "m"}, "title", "required"),
]


@pytest.mark.parametrize(("cls", "data", "field", "rule"), PARSE_ERRORS)
def test_from_json_refuses(cls: type[Any], data: object, field: str, rule: str) -> None:
    """Bad raw JSON raises ValidationError with the full dotted path of the field."""
    error = _raises(lambda: cls.from_json(data))
    assert (field, rule) == (error.field, error.rule)


# Property tests against the spec.

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-3, 300)
    | st.floats(-5, 300, allow_nan=False)
    | st.text(max_size=4)
)
ANY_JSON = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=2)
    ),
    max_leaves=4,
)
COLOR_ISH = st.sampled_from((*COLORS, "pink", ""))
NUMBER = st.integers(-2, 120) | st.floats(-2, 120, allow_nan=False)


def _mostly(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``good``, or about one time in ten any JSON value at all."""
    return st.integers(0, 9).flatmap(lambda n: ANY_JSON if n == 0 else good)


URLS = st.sampled_from(
    [
        "https://example.test/x",
        "shortcuts://run-shortcut?name=Deploy",
        "http://example.test",
        "https://",
        "ftp://x",
        "https://a b",
        "",
    ]
)
RAW_ACTION = st.fixed_dictionaries(
    {
        "title": _mostly(st.text(max_size=4)),
        "type": _mostly(st.sampled_from(["open_url", "webhook", "call"])),
        "url": _mostly(URLS),
    },
    optional={
        "method": _mostly(st.sampled_from(["GET", "POST", "PUT"])),
        "body": _mostly(st.dictionaries(st.text(max_size=3), JSON_SCALARS, max_size=2)),
    },
)
RAW_METRIC = st.fixed_dictionaries(
    {
        "label": _mostly(st.text(min_size=1, max_size=3)),
        "value": _mostly(NUMBER | st.text(max_size=70)),
    },
    optional={"unit": _mostly(st.text(max_size=2)), "color": _mostly(COLOR_ISH)},
)
RAW_STATE = st.fixed_dictionaries(
    {"title": _mostly(st.text(max_size=6))},
    optional={
        "type": _mostly(st.sampled_from((*CONTENT_TYPES, "bar"))),
        "subtitle": _mostly(st.text(max_size=4)),
        "number_of_steps": _mostly(st.integers(-1, 8)),
        "current_step": _mostly(st.integers(-1, 8)),
        "percentage": _mostly(NUMBER),
        "value": _mostly(NUMBER),
        "upper_limit": _mostly(NUMBER),
        "duration_seconds": _mostly(NUMBER),
        "counts_down": _mostly(st.booleans()),
        "is_running": _mostly(st.booleans()),
        "metrics": _mostly(st.lists(RAW_METRIC, min_size=1, max_size=9)),
        "message": _mostly(st.text(max_size=3)),
        "icon": _mostly(
            st.fixed_dictionaries(
                {"symbol": st.text(min_size=1, max_size=3)}, optional={"color": COLOR_ISH}
            )
        ),
        "badge": _mostly(
            st.fixed_dictionaries(
                {"title": st.text(min_size=1, max_size=3)}, optional={"color": COLOR_ISH}
            )
        ),
        "color": _mostly(COLOR_ISH),
        "step_color": _mostly(COLOR_ISH),
        "step_colors": _mostly(st.lists(COLOR_ISH, max_size=3)),
    },
)
DISMISS = st.fixed_dictionaries(
    {},
    optional={
        "auto_dismiss_minutes": _mostly(st.integers(-1, 5)),
        "auto_dismiss_seconds": _mostly(st.integers(-1, 5)),
    },
)
RARE_UNKNOWN = st.integers(0, 19).flatmap(
    lambda n: st.fixed_dictionaries({"bogus": ANY_JSON}) if n == 0 else st.just({})
)
CHANNELS = _mostly(st.lists(st.sampled_from(["ops", "devs", "ops", ""]), min_size=1, max_size=3))
RAW_EXTRAS = st.fixed_dictionaries(
    {},
    optional={
        "action": _mostly(RAW_ACTION),
        "secondary_action": _mostly(RAW_ACTION),
        "alert": _mostly(
            st.fixed_dictionaries(
                {}, optional={"title": st.text(max_size=3), "body": st.text(max_size=3)}
            )
        ),
        "target": _mostly(st.fixed_dictionaries({"channels": CHANNELS})),
        "channels": _mostly(CHANNELS),
        "activity_id": _mostly(st.sampled_from(["act_1", ""])),
    },
)


ACTIONS = {"action", "secondary_action"}
FIELDS_OF: dict[type[Any], set[str]] = {
    StartActivity: {*ACTIONS, "alert", "target"},
    UpdateActivity: {*ACTIONS, "activity_id"},
    EndActivity: {*ACTIONS, "activity_id"},
    StreamUpdate: {*ACTIONS, "alert", "target", "channels"},
    StreamEnd: {*ACTIONS, "alert"},
}


def _check_parse(cls: type[Any], body: dict[str, Any], validator: SpecValidator) -> None:
    """Parsing either refuses with ValidationError or yields a spec-valid, round-tripping value."""
    try:
        parsed = cls.from_json(body)
    except ValidationError:
        return
    schema = SCHEMA_OF[cls]
    validator.assert_valid(schema, body)
    validator.assert_valid(schema, parsed.to_json())
    assert parsed == cls.from_json(parsed.to_json())


@PROPERTY
@given(
    cls=st.sampled_from([StartActivity, UpdateActivity, EndActivity, StreamUpdate, StreamEnd]),
    state=RAW_STATE,
    dismiss=DISMISS,
    unknown=RARE_UNKNOWN,
    extras=RAW_EXTRAS,
    fitting=st.integers(0, 9).map(bool),
)
def test_parsed_activity_requests_are_spec_valid(
    cls: type[Any],
    state: dict[str, Any],
    dismiss: dict[str, Any],
    unknown: dict[str, Any],
    extras: dict[str, Any],
    fitting: bool,
    spec_validator: SpecValidator,
) -> None:
    """Every Live Activity body from_json accepts validates against the spec."""
    if cls is EndActivity:
        state = {**state, **{k: v for k, v in dismiss.items() if k == "auto_dismiss_minutes"}}
    elif cls in (StreamUpdate, StreamEnd):
        state = {**state, **dismiss}
    if fitting:  # mostly keep to the fields the request has, so that many bodies parse
        extras = {key: value for key, value in extras.items() if key in FIELDS_OF[cls]}
        if "activity_id" in FIELDS_OF[cls]:
            extras.setdefault("activity_id", "act_1")
    _check_parse(cls, {"content_state": {**state, **unknown}, **extras}, spec_validator)


@PROPERTY
@given(
    body=st.fixed_dictionaries(
        {"title": _mostly(st.text(max_size=4))},
        optional={
            "message": _mostly(st.text(max_size=4)),
            "subtitle": _mostly(st.text(max_size=4)),
            "media": _mostly(URLS),
            "redirection": _mostly(URLS),
            "actions": _mostly(st.lists(RAW_ACTION, max_size=5)),
            "payload": _mostly(st.dictionaries(st.text(max_size=3), ANY_JSON, max_size=2)),
            "badge": _mostly(st.integers(-3, 3)),
            "sound": _mostly(st.text(max_size=3)),
            "target": _mostly(st.fixed_dictionaries({"channels": CHANNELS})),
        },
    )
)
def test_parsed_pushes_are_spec_valid(body: dict[str, Any], spec_validator: SpecValidator) -> None:
    """Every push body from_json accepts validates against the spec."""
    _check_parse(PushNotification, body, spec_validator)


VALID_COLOR = st.none() | st.sampled_from(COLORS)
COMMON = st.fixed_dictionaries(
    {},
    optional={
        "subtitle": st.text(max_size=5),
        "color": st.sampled_from(COLORS),
        "icon": st.builds(Icon, symbol=st.text(min_size=1, max_size=3), color=VALID_COLOR),
        "badge": st.builds(Badge, title=st.text(min_size=1, max_size=3), color=VALID_COLOR),
    },
)
VALID_METRICS = st.lists(
    st.builds(
        Metric,
        label=st.text(min_size=1, max_size=3),
        value=st.integers(0, 10**6) | st.floats(0, 1e6) | st.text(min_size=1, max_size=64),
        unit=st.none() | st.text(max_size=2),
        color=VALID_COLOR,
    ),
    min_size=1,
    max_size=8,
)


@st.composite
def valid_states(draw: st.DrawFn) -> ContentState:
    """A content state the spec accepts for a start, drawn through the factories."""
    common = draw(COMMON)
    kind = draw(st.sampled_from(CONTENT_TYPES))
    if kind == "segmented_progress":
        steps = draw(st.integers(1, 50))
        current = draw(st.integers(0, steps))
        colors = draw(st.lists(st.sampled_from(COLORS), max_size=current))
        return ContentState.segmented_progress(
            draw(st.text(max_size=5)),
            number_of_steps=steps,
            current_step=current,
            step_colors=colors,
            step_color=draw(VALID_COLOR),
            **common,
        )
    if kind == "progress":
        if draw(st.booleans()):
            return ContentState.progress("p", percentage=draw(st.floats(0, 100)), **common)
        return ContentState.progress(
            "p", value=draw(st.floats(-1e6, 1e6)), upper_limit=draw(st.floats(1e-6, 1e6)), **common
        )
    if kind in ("metrics", "stats"):
        factory = ContentState.for_metrics if kind == "metrics" else ContentState.stats
        return factory("m", metrics=draw(VALID_METRICS), **common)
    if kind == "alert":
        return ContentState.alert("a", message=draw(st.text(min_size=1, max_size=5)), **common)
    return ContentState.timer(
        "t",
        duration_seconds=draw(st.floats(1e-3, 1e5)),
        counts_down=draw(st.none() | st.booleans()),
        is_running=draw(st.none() | st.booleans()),
        **common,
    )


@PROPERTY
@given(state=valid_states(), dismiss=st.none() | st.integers(0, 240))
def test_valid_builders_accepted_and_spec_valid(
    state: ContentState, dismiss: int | None, spec_validator: SpecValidator
) -> None:
    """Whatever the factories build from valid values is accepted in every request and valid."""
    requests: list[Any] = [
        StartActivity(content_state=state, channels=["ops"]),
        UpdateActivity(activity_id="a", content_state=state),
        EndActivity(activity_id="a", content_state=state, auto_dismiss_minutes=dismiss),
        StreamUpdate(content_state=state, channels=["ops"]),
        StreamEnd(content_state=state, auto_dismiss_minutes=dismiss),
    ]
    for request in requests:
        spec_validator.assert_valid(SCHEMA_OF[type(request)], request.to_json())
        assert request == type(request).from_json(request.to_json())


@PROPERTY
@given(
    kwargs=st.fixed_dictionaries(
        {"title": _mostly(st.text(max_size=4))},
        optional={
            "type": _mostly(st.sampled_from(CONTENT_TYPES)),
            "number_of_steps": _mostly(st.integers(-1, 5)),
            "current_step": _mostly(st.integers(-1, 5)),
            "percentage": _mostly(NUMBER | st.sampled_from([float("nan"), float("inf")])),
            "value": _mostly(NUMBER),
            "upper_limit": _mostly(NUMBER),
            "duration_seconds": _mostly(NUMBER),
            "counts_down": _mostly(st.booleans()),
            "message": _mostly(st.text(max_size=2)),
            "color": _mostly(COLOR_ISH),
            "step_colors": _mostly(st.lists(COLOR_ISH, max_size=2)),
        },
    )
)
def test_builder_refuses_with_validation_error_only(
    kwargs: dict[str, Any], spec_validator: SpecValidator
) -> None:
    """ContentState either refuses with ValidationError or builds a spec-valid update."""
    try:
        state = ContentState(**kwargs)
    except ValidationError:
        return
    body = UpdateActivity(activity_id="a", content_state=state).to_json()
    spec_validator.assert_valid("LiveActivityUpdateRequest", body)


@PROPERTY
@given(key=st.text(max_size=8) | st.text(alphabet="ab_-9", min_size=250, max_size=260))
def test_stream_key_rule_matches_spec(key: str) -> None:
    """validate_stream_key accepts exactly the keys the spec's pattern and length allow."""
    allowed = bool(re.fullmatch(r"[A-Za-z0-9_-]+", key)) and len(key) <= 255
    try:
        assert key == validate_stream_key(key)
    except ValidationError:
        assert not allowed
    else:
        assert allowed


# The app-icon badge and widget metrics.

UTC = datetime.timezone.utc


def test_badge_count_wire_form(spec_validator: SpecValidator) -> None:
    """BadgeCount sends badge and, when given, target.channels; both forms are spec-valid."""
    plain = BadgeCount(badge=8333)
    targeted = BadgeCount(badge=3.0, channels=("sales", "customer-success"))
    assert {"badge": 8333} == plain.to_json()
    assert {"badge": 3, "target": {"channels": ["sales", "customer-success"]}} == targeted.to_json()
    for payload in (plain, targeted, BadgeCount(badge=0), BadgeCount(badge=2_147_483_647)):
        spec_validator.assert_valid("AppIconBadgeCountUpdateRequest", payload.to_json())
        assert payload == BadgeCount.from_json(payload.to_json())


def test_metric_value_wire_form(spec_validator: SpecValidator) -> None:
    """MetricValue sends a number or a text, and an optional RFC 3339 timestamp."""
    measured = datetime.datetime(2026, 7, 10, 12, 0, tzinfo=UTC)
    payloads = [
        MetricValue(value=99.9),
        MetricValue(value=-3),
        MetricValue(value="green", timestamp="2026-07-10T12:00:00.000Z"),
        MetricValue(value=42, timestamp=measured),
    ]
    assert [
        {"value": 99.9},
        {"value": -3},
        {"value": "green", "timestamp": "2026-07-10T12:00:00.000Z"},
        {"value": 42, "timestamp": "2026-07-10T12:00:00+00:00"},
    ] == [payload.to_json() for payload in payloads]
    for payload in payloads:
        spec_validator.assert_valid("MetricValueUpdateRequest", payload.to_json())
        assert payload == MetricValue.from_json(payload.to_json())


@pytest.mark.parametrize(
    ("build", "field", "rule"),
    [
        (lambda: BadgeCount(badge=-1), "badge", "minimum"),
        (lambda: BadgeCount(badge=2_147_483_648), "badge", "maximum"),
        (lambda: BadgeCount(badge=1.5), "badge", "type"),
        (lambda: BadgeCount(badge=True), "badge", "type"),
        (lambda: BadgeCount(badge=1, channels="ops"), "channels", "type"),
        (lambda: BadgeCount(badge=1, channels=[]), "channels", "minItems"),
        (lambda: MetricValue(value=float("inf")), "value", "type"),
        (lambda: MetricValue(value=False), "value", "type"),
        (lambda: MetricValue(value=""), "value", "minLength"),
        (lambda: MetricValue(value="x" * 65), "value", "maxLength"),
        (lambda: MetricValue(value=1, timestamp="yesterday"), "timestamp", "format"),
        (lambda: MetricValue(value=1, timestamp="2026-02-30T00:00:00Z"), "timestamp", "format"),
        (lambda: MetricValue(value=1, timestamp="2026-01-01T00:00:00"), "timestamp", "format"),
        (
            lambda: MetricValue(value=1, timestamp=datetime.datetime(2026, 1, 1)),
            "timestamp",
            "format",
        ),
        (lambda: BadgeCount.from_json({}), "badge", "required"),
        (lambda: BadgeCount.from_json({"badge": 1, "count": 1}), "count", "additionalProperties"),
        (lambda: BadgeCount.from_json({"badge": 1, "target": {}}), "target.channels", "required"),
        (lambda: MetricValue.from_json({"value": None}), "value", "type"),
        (lambda: MetricValue.from_json({"value": 1, "unit": "%"}), "unit", "additionalProperties"),
    ],
)
def test_badge_and_metric_builders_refuse(
    build: Callable[[], object], field: str, rule: str
) -> None:
    """Bad badge counts and metric values raise ValidationError naming the field and rule."""
    error = _raises(build)
    assert (field, rule) == (error.field, error.rule)


@pytest.mark.parametrize(
    ("key", "rule"),
    [
        ("", "minLength"),
        ("a" * 65, "maxLength"),
        ("CPU", "pattern"),
        (".hidden", "pattern"),
        ("a/b", "pattern"),
        ("queue depth", "pattern"),
        (7, "type"),
    ],
)
def test_bad_metric_keys_refused(key: object, rule: str) -> None:
    """validate_metric_key refuses what the spec's key parameter does, naming field "key"."""
    error = _raises(lambda: validate_metric_key(key))
    assert ("key", rule) == (error.field, error.rule)


def test_good_metric_keys_accepted() -> None:
    """Keys from the spec's examples and the edges of its pattern pass unchanged."""
    keys = ["deploy.success_rate", "cpu", "0", "a-b_c.d", "a" * 64]
    assert keys == [validate_metric_key(key) for key in keys]


_LIVEBAR_ONLY_RULES = {("timestamp", "format")}
"""Rules livebar checks that the spec's schema cannot (its validator ignores formats)."""


def _check_refusal_or_spec_valid(
    cls: type[Any], schema: str, body: dict[str, Any], validator: SpecValidator
) -> None:
    refusal: ValidationError | None = None
    try:
        parsed = cls.from_json(body)
    except ValidationError as exc:
        refusal = exc
    if refusal is None:
        validator.assert_valid(schema, body)
        validator.assert_valid(schema, parsed.to_json())
        assert parsed == cls.from_json(parsed.to_json())
        return
    field, rule = refusal.field, refusal.rule
    assert re.split(r"[.\[]", field)[0] in body or rule == "required", refusal
    livebar_stricter = (field, rule) in _LIVEBAR_ONLY_RULES or (
        field.startswith("target.channels[") and rule == "minLength"
    )
    assert livebar_stricter or not validator.is_valid(schema, body), refusal


@PROPERTY
@given(
    body=st.fixed_dictionaries(
        {},
        optional={
            "badge": _mostly(
                st.integers(-2, 40) | st.sampled_from([2_147_483_647, 2_147_483_648, 2.0, 2.5])
            ),
            "target": _mostly(st.fixed_dictionaries({"channels": CHANNELS})),
            "bogus": ANY_JSON,
        },
    )
)
def test_parsed_badge_counts_match_the_spec(
    body: dict[str, Any], spec_validator: SpecValidator
) -> None:
    """A badge body from_json accepts is spec-valid; a refused one names a field of the body."""
    _check_refusal_or_spec_valid(BadgeCount, "AppIconBadgeCountUpdateRequest", body, spec_validator)


TIMESTAMPS = st.sampled_from(
    [
        "2026-07-10T12:00:00Z",
        "2026-07-10T12:00:00.123+02:00",
        "2026-07-10t23:59:60z",
        "2026-07-10 12:00:00Z",
        "2026-07-10T12:00:00",
        "2026-13-10T12:00:00Z",
        "",
    ]
)


@PROPERTY
@given(
    body=st.fixed_dictionaries(
        {},
        optional={
            "value": _mostly(
                st.floats(allow_nan=False, allow_infinity=False)
                | st.integers()
                | st.text(max_size=70)
            ),
            "timestamp": _mostly(TIMESTAMPS),
            "bogus": ANY_JSON,
        },
    )
)
def test_parsed_metric_values_match_the_spec(
    body: dict[str, Any], spec_validator: SpecValidator
) -> None:
    """A metric body from_json accepts is spec-valid; a refused one names a field of the body."""
    _check_refusal_or_spec_valid(MetricValue, "MetricValueUpdateRequest", body, spec_validator)


@PROPERTY
@given(
    key=st.text(alphabet="aZ0._-/ ", max_size=6) | st.text(alphabet="a.", min_size=63, max_size=66)
)
def test_metric_key_rule_matches_spec(key: str, spec_validator: SpecValidator) -> None:
    """validate_metric_key accepts exactly the keys the spec's key parameter allows."""
    pointer = "/paths/~1metrics~1{key}~1value/post/parameters/0/schema"
    allowed = bool(spec_validator.validator(pointer).is_valid(key))
    try:
        assert key == validate_metric_key(key)
    except ValidationError:
        assert not allowed
    else:
        assert allowed


# The newer surface (SDK 1.14): opt-in, typed, validated, refused by the published check.
NEWER_PUSH = PushNotification(
    title="checkout-api is down",
    icon="https://example.test/icons/api.png",
    interruption_level="time-sensitive",
    tags=["incident", "api"],
    metadata={"region": "eu", "errors": 62, "paged": True},
)


def test_newer_push_fields_travel_and_parse_only_when_allowed() -> None:
    """icon, interruption_level, tags and metadata are sent as named; from_json needs newer."""
    body = NEWER_PUSH.to_json()
    assert {
        "title": "checkout-api is down",
        "icon": "https://example.test/icons/api.png",
        "interruption_level": "time-sensitive",
        "tags": ["incident", "api"],
        "metadata": {"region": "eu", "errors": 62, "paged": True},
    } == body
    assert NEWER_PUSH == PushNotification.from_json(body, newer=True)
    error = _raises(lambda: PushNotification.from_json(body))
    assert ("icon", "additionalProperties") == (error.field, error.rule)
    error = _raises(NEWER_PUSH.check_published)
    assert ("icon", "additionalProperties") == (error.field, error.rule)


def test_newer_fields_on_every_activity_request() -> None:
    """tags and metadata ride on start, update, end and both stream calls; [] and {} clear."""
    requests: list[Any] = [
        StartActivity(content_state=SEGMENTED, tags=["backup"], metadata={"host": "db1"}),
        UpdateActivity(activity_id="a", content_state=PROGRESS, tags=[], metadata={}),
        EndActivity(activity_id="a", content_state=PROGRESS, auto_dismiss_minutes=1, tags=["x"]),
        StreamUpdate(content_state=PROGRESS, metadata={"job": "import-382", "records": 1200}),
        StreamEnd(content_state=PROGRESS, tags=["done"]),
    ]
    for request in requests:
        body = request.to_json()
        assert request == type(request).from_json(body, newer=True)
        error = _raises(lambda request=request, body=body: type(request).from_json(body))
        assert "additionalProperties" == error.rule
        assert error.field in ("tags", "metadata")
    assert [] == requests[1].to_json()["tags"]
    assert {} == requests[1].to_json()["metadata"]


def test_published_requests_pass_the_published_check() -> None:
    """What livebar sends by default holds nothing of the newer surface."""
    for payload in ROUND_TRIPS:
        payload.check_published()
    assert ROUND_TRIPS[0] == PushNotification.from_json(ROUND_TRIPS[0].to_json(), newer=True)


def test_value_type_with_text_and_number_readouts(spec_validator: SpecValidator) -> None:
    """for_value keeps a text readout in value_text (sent as value) and a number in value."""
    text = ContentState.for_value("Revenue", value="$1,240", color="green")
    number = ContentState.for_value("Temperature", value=21.5)
    assert {"title": "Revenue", "type": "value", "value": "$1,240", "color": "green"} == (
        text.to_json()
    )
    assert ("$1,240", None) == (text.value_text, text.value)
    assert {"title": "Temperature", "type": "value", "value": 21.5} == number.to_json()
    for state in (text, number):
        start = StartActivity(content_state=state)
        assert start == StartActivity.from_json(start.to_json(), newer=True)
        assert not spec_validator.is_valid("LiveActivityStartRequest", start.to_json())
    error = _raises(lambda: StartActivity.from_json(StartActivity(content_state=text).to_json()))
    assert ("content_state.value", "type") == (error.field, error.rule)
    error = _raises(lambda: StreamUpdate(content_state=number).check_published())
    assert ("content_state.type", "enum") == (error.field, error.rule)


def test_http_links_need_allow_http(spec_validator: SpecValidator) -> None:
    """http:// open-url buttons and push redirections are sent only with allow_http=True."""
    button = Action.open_url("Grafana", "http://grafana.local/d/1", allow_http=True)
    push = PushNotification(title="t", redirection="http://intranet.local/x", allow_http=True)
    assert "http://grafana.local/d/1" == button.to_json()["url"]
    assert "allow_http" not in button.to_json()
    assert "http://intranet.local/x" == push.to_json()["redirection"]
    assert button == Action.from_json(button.to_json(), newer=True)
    assert push == PushNotification.from_json(push.to_json(), newer=True)
    assert Action.open_url("Grafana", "https://grafana.test") == Action.open_url(
        "Grafana", "https://grafana.test", allow_http=True
    )
    error = _raises(lambda: PushNotification(title="t", redirection="http://intranet.local/x"))
    assert ("redirection", "pattern") == (error.field, error.rule)
    error = _raises(lambda: PushNotification.from_json(push.to_json()))
    assert ("redirection", "pattern") == (error.field, error.rule)
    start = StartActivity(content_state=SEGMENTED, action=button)
    error = _raises(lambda: StartActivity.from_json(start.to_json()))
    assert ("action.url", "pattern") == (error.field, error.rule)
    assert not spec_validator.is_valid("LiveActivityStartRequest", start.to_json())


def test_push_replace_wire_form() -> None:
    """PushReplace carries a push's content (no channels, sound or level) and parses back."""
    replace = PushReplace(
        title="checkout-api recovered",
        message="Error rate is back to normal.",
        icon="https://example.test/ok.png",
        tags=[],
        actions=[Action.open_url("Status", "https://status.example.test")],
    )
    body = replace.to_json()
    assert {"title", "message", "icon", "tags", "actions"} == set(body)
    assert replace == PushReplace.from_json(body, newer=True)
    error = _raises(lambda: PushReplace.from_json({"title": "t", "sound": "default"}, newer=True))
    assert ("sound", "additionalProperties") == (error.field, error.rule)
    assert "push_123-abc.9~x" == validate_notification_id("push_123-abc.9~x")


NEWER_ERRORS: list[tuple[Callable[[], object], str, str]] = [
    (lambda: PushNotification(title="t", icon="http://e.test/i.png"), "icon", "pattern"),
    (lambda: PushNotification(title="t", icon="https://me:pw@e.test/i.png"), "icon", "format"),
    (
        lambda: PushNotification(title="t", interruption_level="urgent"),
        "interruption_level",
        "enum",
    ),
    (lambda: PushNotification(title="t", tags="ops"), "tags", "type"),
    (lambda: PushNotification(title="t", tags=["a"] * 21), "tags", "maxItems"),
    (lambda: PushNotification(title="t", tags=["ok", ""]), "tags[1]", "minLength"),
    (lambda: PushNotification(title="t", tags=["x" * 65]), "tags[0]", "maxLength"),
    (lambda: PushNotification(title="t", metadata=["a"]), "metadata", "type"),
    (lambda: PushNotification(title="t", metadata={"a": {"b": 1}}), "metadata.a", "type"),
    (lambda: PushNotification(title="t", metadata={"a": None}), "metadata.a", "type"),
    (lambda: PushNotification(title="t", metadata={"a": float("nan")}), "metadata.a", "type"),
    (lambda: PushNotification(title="t", metadata={"a": "x" * 4001}), "metadata.a", "maxLength"),
    (lambda: PushNotification(title="t", metadata={"k" * 101: 1}), "metadata key", "maxLength"),
    (lambda: PushNotification(title="t", metadata={"": 1}), "metadata key", "minLength"),
    (
        lambda: PushNotification(title="t", metadata={f"k{i}": i for i in range(51)}),
        "metadata",
        "maxProperties",
    ),
    (
        lambda: PushNotification(title="t", metadata={f"k{i}": "x" * 400 for i in range(42)}),
        "metadata",
        "maxLength",
    ),
    (lambda: ContentState(title="x", type="value"), "value", "required"),
    (lambda: ContentState(title="x", value_text="$1"), "value", "type"),
    (lambda: ContentState(title="x", type="value", value=1, value_text="$1"), "value", "not"),
    (lambda: ContentState(title="x", value="$1"), "value", "type"),  # type: ignore[arg-type]
    (
        lambda: Action(title="w", type="webhook", url="http://e.test", allow_http=True),
        "url",
        "pattern",
    ),
    (lambda: validate_notification_id(""), "notification_id", "minLength"),
    (lambda: validate_notification_id("a/b"), "notification_id", "pattern"),
    (lambda: validate_notification_id(7), "notification_id", "type"),
]


@pytest.mark.parametrize(("build", "field", "rule"), NEWER_ERRORS)
def test_newer_surface_refusals(build: Callable[[], object], field: str, rule: str) -> None:
    """Newer-surface values are checked like the rest: ValidationError naming field and rule."""
    error = _raises(build)
    assert (field, rule) == (error.field, error.rule)


def test_metadata_limits_are_inclusive() -> None:
    """50 entries, 100-character keys and 4,000-character texts are accepted."""
    push = PushNotification(
        title="t", metadata={**{f"k{i}": i for i in range(49)}, "k" * 100: "x" * 4000}
    )
    assert 50 == len(push.to_json()["metadata"])


def test_value_text_is_read_from_a_string_value_only() -> None:
    """A JSON string under value becomes value_text; a number stays value."""
    parsed = ContentState.from_json({"title": "R", "type": "value", "value": "$9"}, newer=True)
    assert ("$9", None) == (parsed.value_text, parsed.value)
    parsed = ContentState.from_json({"title": "R", "type": "value", "value": 9}, newer=True)
    assert (None, 9) == (parsed.value_text, parsed.value)


def test_importing_the_payload_model_stays_light() -> None:
    """Importing livebar._wire.payload (and _checks) loads no dataclasses, inspect, copy or json."""
    import subprocess
    import sys

    code = (
        "import sys, livebar._wire.payload; "
        "print(sorted({'dataclasses', 'inspect', 'copy', 'json'} & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    )
    assert "[]" == result.stdout.strip()


def test_frozen_and_keyword_only() -> None:
    """Payloads refuse assignment and deletion, and unknown or missing keywords."""
    icon = Icon(symbol="bolt")
    with pytest.raises(dataclasses.FrozenInstanceError):
        del icon.symbol  # type: ignore[misc]
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        Icon(symbol="bolt", colour="red")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="missing keyword argument 'symbol'"):
        Icon()  # type: ignore[call-arg]
    assert "Icon(symbol='bolt', color=None)" == repr(icon)
    assert hash(icon) == hash(Icon(symbol="bolt"))
    assert None is ContentState.subtitle


def test_replace_makes_a_checked_copy() -> None:
    """Model.replace (and copy.replace's protocol) copy a value with changes, checked anew."""
    state = ContentState.progress("Backup", percentage=40)
    moved = state.replace(percentage=60, subtitle="uploading")
    assert (40, None) == (state.percentage, state.subtitle)
    assert (60, "uploading", "Backup") == (moved.percentage, moved.subtitle, moved.title)
    with pytest.raises(ValidationError) as caught:
        state.replace(percentage=140)
    assert "percentage" == caught.value.field
