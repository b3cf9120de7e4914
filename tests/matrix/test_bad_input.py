"""Bad input, by hypothesis, at every public entry point.

- ``live_activity`` / ``track`` / the decorator with any options: either a ``ValidationError``
  naming the option, raised at the call before anything is sent, or an activity whose every
  request is valid against ActivitySmith's spec and whose end is delivered.
- ``update`` / ``advance`` / ``step`` / ``set_steps`` / ``set_total`` inside a running job:
  a value of the wrong type raises ``ValidationError`` naming the field at once; a number or
  name the phone cannot show (NaN, infinite, out of range, a negative or fractional step, an
  unknown colour, an empty title) is dropped or clamped, counted in ``stats.ignored`` and logged
  once, and never reaches the job as an exception.
- ``livebar.tqdm`` with any of tqdm's keywords: it accepts what tqdm accepts and refuses what
  tqdm refuses, with tqdm's own exception.
- ``livebar.push`` with any fields: the same rule as the options.
- The CLI's flags: exit 0, 1 or 2 with one line, never a traceback.

Example counts are kept modest so the matrix fits in CI; the strategies put most of their
weight on the edges (NaN, infinities, huge integers, empty and huge strings, wrong types).
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import sys
from typing import Any

import pytest
import tqdm as real_tqdm
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st

import livebar
from livebar import Action, Badge, Icon, ValidationError
from livebar._defaults import COLORS
from livebar.testing import VirtualTime, virtual_time

from .support import capture_logs

SOME = settings(
    max_examples=150,
    # The same 150 examples on every run, so a test run never fails on a newly drawn value;
    # LIVEBAR_HYPOTHESIS_RANDOM=1 draws fresh ones (how the values fixed above were found).
    derandomize=os.environ.get("LIVEBAR_HYPOTHESIS_RANDOM") != "1",
    deadline=None,
    # no "explain" phase: it traces every line of a shrunk failure's engine run, which can take
    # many minutes; the failing example itself is printed all the same
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.just(10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.just(""),
    st.just(" "),
    st.just("x" * 20_000),
    st.lists(st.text(max_size=8), max_size=4),
    st.tuples(st.integers()),
    st.binary(max_size=6),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)
"""Anything a caller might pass by mistake."""

names = st.text(min_size=1, max_size=30).filter(lambda s: s.strip())
colour = st.sampled_from(COLORS)
GOOD: dict[str, Any] = {
    "steps": st.integers(1, 30) | st.lists(names, min_size=1, max_size=6),
    "total": st.integers(0, 10**6) | st.floats(0, 1e9),
    "show_count": st.booleans(),
    "subtitle": st.text(max_size=300),
    "color": colour,
    "step_color": colour,
    "step_colors": st.lists(colour, max_size=6),
    "icon": st.sampled_from(["gearshape", "bolt.fill"]) | st.just(Icon(symbol="tray")),
    "badge": st.sampled_from(["ETL", "v2"]) | st.just(Badge(title="prod", color="red")),
    "action": st.just(Action.open_url("Open", "https://example.com/run/1")),
    "secondary_action": st.just(Action.webhook("Retry", "https://example.com/hook")),
    "channels": st.sampled_from([["ops"], ["devs"], ("ops", "devs")]),
    "auto_dismiss_minutes": st.integers(0, 10**4),
    "failure_auto_dismiss_minutes": st.integers(0, 10**4),
    "stream_key": st.from_regex(r"\A[A-Za-z0-9_-]{1,40}\Z"),
    "lifecycle": st.just("stream"),
    "notify_on": st.lists(st.sampled_from(["done", "failed", "cancelled", "stopped"])),
    "flush_timeout": st.floats(0, 30),
}
"""Values each option is documented to take."""
titles = names | st.text(min_size=1, max_size=20_000).filter(lambda s: s.strip())
one_bad = st.none() | st.tuples(st.sampled_from(sorted(GOOD)), junk)
"""At most one option given something else (so a refusal must name that one)."""


def _root(field: str) -> str:
    return field.split(".", 1)[0].split("[", 1)[0]


def _valid(vt: VirtualTime, spec_validator: Any) -> None:
    """Every request the server saw validates against ActivitySmith's published spec."""
    for request in vt.simulator.requests():
        spec_validator.validate_body(request["method"], request["path"], request["body"])


@SOME
@given(
    entry=st.sampled_from(["live_activity", "track", "decorator"]),
    title=titles | st.none() | junk,
    good=st.fixed_dictionaries({}, optional=GOOD),
    bad=one_bad,
    manual=st.booleans(),
)
def test_any_options_are_refused_at_the_call_or_delivered(
    spec_validator: Any,
    entry: str,
    title: Any,
    good: dict[str, Any],
    bad: Any,
    manual: bool,
) -> None:
    """A ValidationError naming the option before anything is sent, or a delivered end."""
    options = dict(good)
    if manual and "stream_key" not in options:
        options["lifecycle"] = "manual"
    if bad is not None:
        options[bad[0]] = bad[1]
    with virtual_time() as vt:
        refused = None
        try:
            if entry == "live_activity":
                act = livebar.live_activity(title, **options)
            elif entry == "track":
                loop = livebar.track(range(3), title=title, **options)
            else:
                decorated = livebar.live_activity(title, **options)(lambda: 42)
        except ValidationError as exc:
            refused = exc
        event("refused" if refused is not None else "accepted")
        if refused is not None:
            blamed = {"title", "lifecycle"} | ({bad[0]} if bad is not None else set())
            if "steps" in options and "total" in options:
                blamed.add("total")  # a bar counts items or steps, not both
            assert _root(refused.field) in blamed, refused
            assert bad is not None or _root(refused.field) != "lifecycle" or manual, refused
            assert [] == vt.simulator.requests()
            return
        if entry == "live_activity":
            with act:
                act.advance()
                vt.advance(1.0)
            acts = [act]
        elif entry == "track":
            for _ in loop:
                vt.advance(0.5)
            acts = []
        else:
            assert 42 == decorated()
            acts = []
        assert vt.flush(120.0)
        _valid(vt, spec_validator)
        assert all(a.stats.end_delivered for a in acts)
        cards = vt.simulator.activities()
        assert [] == [a for a in cards if a["state"] == "active"]
        assert len(cards) + len(vt.simulator.pushes()) >= 1


number = st.one_of(
    st.integers(-(10**6), 10**6),
    st.just(10**400),
    st.just(-(10**400)),
    st.floats(allow_nan=True, allow_infinity=True),
)
CALLS = st.one_of(
    st.tuples(st.just("update(n)"), number | junk),
    st.tuples(st.just("update(percentage)"), number | junk),
    st.tuples(st.just("update(value, upper_limit)"), st.tuples(number, number) | junk),
    st.tuples(st.just("update(total)"), number | junk),
    st.tuples(st.just("update(subtitle)"), st.text(max_size=300) | junk),
    st.tuples(st.just("update(color)"), colour | st.text(max_size=10) | junk),
    st.tuples(st.just("update(title)"), names | st.just("") | junk),
    st.tuples(st.just("advance"), number | junk),
    st.tuples(st.just("step"), st.integers(-3, 12) | names | st.just("") | junk),
    st.tuples(st.just("set_steps"), st.integers(-3, 12) | st.lists(names, max_size=5) | junk),
    st.tuples(st.just("set_total"), number | junk),
)


def _right_type(call: str, value: Any) -> bool:
    """Whether ``value`` has the type ``call`` takes (what must never raise is a bad value)."""

    def is_number(v: Any) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    if value is None and (call.startswith("update") or call == "set_total"):
        return True  # None is "not given" (set_total(None): no total)
    if call in ("update(n)", "update(percentage)", "advance"):
        return is_number(value)
    if call in ("update(total)", "set_total"):
        return is_number(value)
    if call == "update(value, upper_limit)":  # a pair, or one value given as both
        if isinstance(value, tuple) and len(value) == 2:
            return all(map(is_number, value))
        return is_number(value)
    if call in ("update(subtitle)", "update(color)", "update(title)"):
        return isinstance(value, str)
    if call == "step":
        return (isinstance(value, int) and not isinstance(value, bool)) or isinstance(value, str)
    if call == "set_steps":
        if isinstance(value, bool):
            return False
        if isinstance(value, int):
            return True
        return isinstance(value, list) and all(isinstance(name, str) for name in value)
    raise AssertionError(call)


FIELD = {
    "update(n)": ("n",),
    "update(percentage)": ("percentage",),
    "update(value, upper_limit)": ("value", "upper_limit"),
    "update(total)": ("total",),
    "update(subtitle)": ("subtitle",),
    "update(color)": ("color",),
    "update(title)": ("title",),
    "advance": ("k",),
    "step": ("step",),
    "set_steps": ("steps",),
    "set_total": ("total",),
}
"""The field a ValidationError of each call names."""


def _apply(act: Any, call: str, value: Any) -> None:
    if call == "update(n)":
        act.update(value)
    elif call == "update(percentage)":
        act.update(percentage=value)
    elif call == "update(value, upper_limit)":
        if isinstance(value, tuple) and len(value) == 2:
            act.update(value=value[0], upper_limit=value[1])
        else:
            act.update(value=value, upper_limit=value)
    elif call == "update(total)":
        act.update(total=value)
    elif call == "update(subtitle)":
        act.update(subtitle=value)
    elif call == "update(color)":
        act.update(color=value)
    elif call == "update(title)":
        act.update(title=value)
    elif call == "advance":
        act.advance(value)
    elif call == "step":
        act.step(value)
    elif call == "set_steps":
        act.set_steps(value)
    else:
        act.set_total(value)


@SOME
@given(
    segmented=st.booleans(),
    lifecycle=st.sampled_from(["stream", "manual"]),
    calls=st.lists(CALLS, min_size=1, max_size=8),
)
def test_values_inside_a_running_job_never_raise_unless_of_the_wrong_type(
    spec_validator: Any, segmented: bool, lifecycle: str, calls: list[tuple[str, Any]]
) -> None:
    """A wrong type raises ValidationError naming the field; anything else is taken, clamped
    or dropped and counted, logged once; the end is delivered; every request is valid."""
    options: dict[str, Any] = {"steps": 4} if segmented else {"total": 100}
    with capture_logs() as logs, virtual_time() as vt:
        with livebar.live_activity("Job", lifecycle=lifecycle, **options) as act:
            for call, value in calls:
                ignored = act.ignored
                refused = None
                try:
                    _apply(act, call, value)
                except ValidationError as exc:
                    refused = exc
                event(f"{call}: {'refused' if refused else 'taken'}")
                if refused is None:
                    assert _right_type(call, value), (call, value)
                else:
                    assert not _right_type(call, value), (call, value, refused)
                    assert refused.field in FIELD[call], (call, refused.field)
                    assert ignored == act.ignored
                vt.advance(3.0)
        assert vt.flush(30.0)
        _valid(vt, spec_validator)
        assert act.stats.end_delivered
        assert act.ignored == act.stats.ignored
        said = [line for line in logs.livebar() if "cannot show" in line]
        assert (1 if act.ignored else 0) == len(said)
        [card] = vt.simulator.activities()
        assert "ended" == card["state"]


small_junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-10, 1000),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=10),
    st.lists(st.integers(-3, 3), max_size=3),
)
"""Junk tqdm itself survives drawing (``ncols=10**30`` would be a bar of 10**30 characters, and
``ascii=[18, 43704230724]`` keeps tqdm's own redraw busy for minutes)."""

TQDM_KEYWORDS: dict[str, Any] = {
    "total": st.integers(-3, 10**6) | st.floats(allow_nan=True, allow_infinity=True) | small_junk,
    "desc": st.text(max_size=80) | small_junk,
    "unit": st.sampled_from(["it", "files", "B"]) | small_junk,
    "unit_scale": st.booleans() | st.floats(0, 1000) | small_junk,
    "mininterval": st.floats(0, 5) | small_junk,
    "miniters": st.integers(0, 100) | small_junk,
    "initial": st.integers(-5, 100) | st.floats(allow_nan=True) | small_junk,
    "colour": st.sampled_from(["green", "red", "#00ff00"]) | small_junk,
    "leave": st.booleans() | small_junk,
    "ncols": st.integers(0, 200) | small_junk,
    "smoothing": st.floats(0, 1) | small_junk,
    "ascii": st.booleans() | small_junk,
    "delay": st.floats(0, 2) | small_junk,
}


def _outcome(make: Any) -> tuple[str, Any]:
    """What building, iterating and closing a bar did: ("ok", count) or ("raised", type)."""
    try:
        bar = make()
        with contextlib.suppress(TypeError):  # what tqdm's own iteration does with bad totals
            for _ in bar:
                pass
        bar.close()
    except Exception as exc:
        return "raised", type(exc)
    return "ok", None


@SOME
@given(keywords=st.fixed_dictionaries({}, optional=TQDM_KEYWORDS))
def test_livebar_tqdm_accepts_and_refuses_what_tqdm_does(
    spec_validator: Any, keywords: dict[str, Any]
) -> None:
    """Drop-in: the same keywords give tqdm's own outcome (result or exception type)."""
    with virtual_time() as vt:
        plain = _outcome(lambda: real_tqdm.tqdm(range(3), file=io.StringIO(), **keywords))
        ours = _outcome(lambda: livebar.tqdm(range(3), file=io.StringIO(), **keywords))
        assert plain == ours
        assert vt.flush(30.0)
        _valid(vt, spec_validator)
        assert [] == [a for a in vt.simulator.activities() if a["state"] == "active"]


PUSH_FIELDS: dict[str, Any] = {
    "message": st.text(max_size=300) | junk,
    "subtitle": st.text(max_size=200) | junk,
    "channels": st.sampled_from([["ops"], ["devs"]]) | junk,
    "badge": st.integers(-5, 10**10) | junk,
    "sound": st.sampled_from(["default", "chime.caf"]) | junk,
    "media": st.sampled_from(["https://example.com/a.png", "http://example.com/a.png"]) | junk,
    "redirection": st.sampled_from(["https://example.com", "shortcuts://run", "ftp://x"]) | junk,
    "payload": st.dictionaries(st.text(max_size=5), st.integers(), max_size=3) | junk,
}


@SOME
@given(title=titles, fields=st.fixed_dictionaries({}, optional=PUSH_FIELDS))
def test_any_push_is_refused_at_the_call_or_delivered(
    spec_validator: Any, title: Any, fields: dict[str, Any]
) -> None:
    """livebar.push: a ValidationError naming the field before anything is sent, or sent."""
    with virtual_time() as vt:
        refused = None
        try:
            assert livebar.push(title, **fields)
        except ValidationError as exc:
            refused = exc
        if refused is not None:
            assert _root(refused.field) in {*fields, "title", "target"}, refused
            assert [] == vt.simulator.requests()
            return
        assert vt.flush(30.0)
        _valid(vt, spec_validator)
        sent = [r for r in vt.simulator.requests() if r["path"].endswith("/push-notification")]
        assert sent, "the push was never sent"
        if sent[-1]["status"] == 422:
            # channels nobody follows (the simulator's are "ops" and "devs"): no recipients is
            # the account's answer to a valid push, not bad input
            assert fields.get("channels") not in (["ops"], ["devs"]), sent
            assert [] == vt.simulator.pushes()
        else:
            assert 200 == sent[-1]["status"], sent
            assert 1 == len(vt.simulator.pushes())


def _cli(argv: list[str], stdin: bytes = b"") -> tuple[int, str]:
    """``livebar`` run in this process: its exit code and what it printed to stderr."""
    from livebar import _cli

    err = io.StringIO()
    out = io.TextIOWrapper(io.BytesIO(), write_through=True)
    old_in = sys.stdin
    sys.stdin = io.TextIOWrapper(io.BytesIO(stdin))
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            code = _cli.main(argv)
    finally:
        sys.stdin = old_in
    return code, err.getvalue()


flag_value = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["", " ", "-1", "0", "nan", "inf", "1e999", "3", "a,b", "(", "\\d+", "x=y"]),
)


@pytest.fixture(scope="module")
def cli_sim() -> Any:
    from livebar.simulator import serve

    with serve() as sim:
        yield sim


@SOME
@given(
    command=st.sampled_from(["push", "pipe"]),
    flags=st.lists(
        st.tuples(
            st.sampled_from(
                [
                    "--title",
                    "--message",
                    "--subtitle",
                    "--badge",
                    "--channel",
                    "--total",
                    "--media",
                    "--redirection",
                    "--action",
                    "--webhook",
                    "--sound",
                ]
            ),
            flag_value,
        ),
        max_size=4,
    ),
)
def test_cli_flags_exit_with_a_line_never_a_traceback(
    cli_sim: Any, monkeypatch: pytest.MonkeyPatch, command: str, flags: list[tuple[str, str]]
) -> None:
    """Any flags: exit 0, 1 or 2; a refusal is one line naming the command; no traceback."""
    for name, value in cli_sim.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("LIVEBAR_FLUSH_TIMEOUT", "2")
    argv = [command] + [part for flag in flags for part in flag]
    if command == "push" and "--title" not in argv:
        argv += ["--title", "Matrix"]
    try:
        code, err = _cli(argv, stdin=b"one\ntwo\n")
    except SystemExit as exc:  # argparse's own exit, e.g. for --help-like values
        code, err = int(exc.code or 0), ""
    assert code in (0, 1, 2), (argv, code, err)
    assert "Traceback" not in err
    assert cli_sim.api_key not in err
    if code == 2:
        assert err.strip(), argv


def test_nan_progress_is_counted_and_logged_once() -> None:
    """The issue's example: update(percentage=nan) mid-run is dropped, counted, logged once."""
    with capture_logs() as logs, virtual_time() as vt:
        with livebar.live_activity("Job", total=10) as act:
            act.update(percentage=math.nan)
            act.update(percentage=math.inf)
            vt.advance(1.0)
        assert vt.flush()
    assert 2 == act.stats.ignored
    assert 1 == sum("cannot show" in line for line in logs.livebar())


EXAMPLES_AT_THE_CALL = [
    ("live_activity(steps=3.0)", lambda: livebar.live_activity("J", steps=3.0), "steps"),
    ("live_activity(steps=10**400)", lambda: livebar.live_activity("J", steps=10**400), "steps"),
    (
        "live_activity(auto_dismiss_minutes=10**400)",
        lambda: livebar.live_activity("J", auto_dismiss_minutes=10**400),
        "auto_dismiss_minutes",
    ),
    (
        "live_activity(steps='build,test,ship')",
        lambda: livebar.live_activity("J", steps="a,b"),
        "steps",
    ),
    (
        "live_activity(flush_timeout='5')",
        lambda: livebar.live_activity("J", flush_timeout="5"),
        "flush_timeout",
    ),
    (
        "live_activity(action='https://…')",
        lambda: livebar.live_activity("J", action="https://e.com"),
        "action",
    ),
    (
        "live_activity(secondary_action=7)",
        lambda: livebar.live_activity("J", secondary_action=7),
        "secondary_action",
    ),
    ("live_activity(channels=[])", lambda: livebar.live_activity("J", channels=[]), "channels"),
    (
        "live_activity(channels=[''])",
        lambda: livebar.live_activity("J", channels=[""]),
        "channels[0]",
    ),
    (
        "live_activity(channels='ops')",
        lambda: livebar.live_activity("J", channels="ops"),
        "channels",
    ),
    ("live_activity(total=nan)", lambda: livebar.live_activity("J", total=math.nan), "total"),
    ("live_activity(total=10**400)", lambda: livebar.live_activity("J", total=10**400), "total"),
    ("live_activity(bogus=1)", lambda: livebar.live_activity("J", bogus=1), "bogus"),
    (
        "update(percentage='50')",
        lambda: livebar.live_activity("J", disable=True).update(percentage="50"),
        "percentage",
    ),
    ("update(n='5')", lambda: livebar.live_activity("J", disable=True).update("5"), "n"),
    ("advance('2')", lambda: livebar.live_activity("J", disable=True).advance("2"), "k"),
    ("set_steps(3.0)", lambda: livebar.live_activity("J", disable=True).set_steps(3.0), "steps"),
    ("step(None)", lambda: livebar.live_activity("J", steps=3, disable=True).step(None), "step"),
]


@pytest.mark.parametrize(
    ("call", "field"),
    [pytest.param(call, field, id=name) for name, call, field in EXAMPLES_AT_THE_CALL],
)
def test_the_issues_examples_of_a_wrong_type_raise_at_the_call(call: Any, field: str) -> None:
    """Each raises ValidationError naming the field (never TypeError, IndexError, Overflow)."""
    with pytest.raises(ValidationError) as caught:
        call()
    assert field == caught.value.field


EXAMPLES_IN_A_RUNNING_JOB = [
    ("advance(-5) on steps", {"steps": 4}, lambda a: a.advance(-5), 1),
    ("advance(2.5) on steps", {"steps": 4}, lambda a: a.advance(2.5), 1),
    ("update(percentage=nan)", {"total": 10}, lambda a: a.update(percentage=math.nan), 1),
    ("update(percentage=150)", {"total": 10}, lambda a: a.update(percentage=150), 1),
    ("update(n=10**400)", {"total": 10}, lambda a: a.update(10**400), 1),
    ("update(total=-1)", {"total": 10}, lambda a: a.update(total=-1), 1),
    ("update(value=5, upper_limit=0)", {}, lambda a: a.update(value=5, upper_limit=0), 1),
    ("update(color='pink')", {"total": 10}, lambda a: a.update(color="pink"), 1),
    ("step(99) of 4", {"steps": 4}, lambda a: a.step(99), 1),
    ("set_steps(0)", {"steps": 4}, lambda a: a.set_steps(0), 1),
    ("set_steps(10**400)", {"steps": 4}, lambda a: a.set_steps(10**400), 1),
    ("update(title='')", {"total": 10}, lambda a: a.update(title=""), 1),
]


@pytest.mark.parametrize(
    ("options", "call", "ignored"),
    [pytest.param(o, c, n, id=name) for name, o, c, n in EXAMPLES_IN_A_RUNNING_JOB],
)
def test_the_issues_examples_of_a_bad_value_never_reach_the_job(
    options: dict[str, Any], call: Any, ignored: int
) -> None:
    """Dropped or clamped, counted in stats.ignored, logged once; the end still goes out."""
    with capture_logs() as logs, virtual_time() as vt:
        with livebar.live_activity("Job", **options) as act:
            call(act)
            vt.advance(1.0)
        assert vt.flush()
    assert ignored == act.stats.ignored
    assert act.stats.end_delivered
    assert 1 == sum("cannot show" in line for line in logs.livebar())


def test_tqdm_total_minus_one_is_accepted_as_tqdm_accepts_it() -> None:
    """livebar.tqdm(total=-1) works (tqdm takes it), with or without a key."""
    with virtual_time() as vt:
        for _ in livebar.tqdm(range(3), total=-1, file=io.StringIO()):
            pass
        assert vt.flush()
        [card] = vt.simulator.activities()
        assert "ended" == card["state"]


def test_texts_longer_than_a_card_are_cut_to_what_it_shows() -> None:
    """A 20,000-character title, subtitle and exception: 64, 120 and 80 characters sent."""
    with virtual_time() as vt:
        with pytest.raises(ValueError, match=r"x{100}"):
            with livebar.live_activity("T" * 20_000, subtitle="s" * 20_000, total=2) as act:
                act.update(1)
                vt.advance(3.0)
                raise ValueError("x" * 20_000)
        assert vt.flush()
        sent = [r["body"]["content_state"] for r in vt.simulator.requests()]
    assert all(len(state["title"]) <= 64 for state in sent)
    assert all(len(state.get("subtitle") or "") <= 120 for state in sent)
    assert 80 >= len(sent[-1]["subtitle"])
    assert sent[-1]["subtitle"].startswith("Failed: ValueError: xxx")
