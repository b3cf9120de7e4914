"""livebar.LogHandler: log records as collapsed, paced pushes, or as a card's subtitle."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import livebar
from livebar._integrations.logs import PushPlan, Report
from livebar.testing import VirtualTime, virtual_time


@pytest.fixture
def clock() -> Iterator[VirtualTime]:
    """The real engine on a virtual clock."""
    with virtual_time() as vt:
        yield vt


@pytest.fixture
def app_logger() -> Iterator[logging.Logger]:
    """A logger of the test's own that does not propagate to pytest's handlers."""
    logger = logging.getLogger("tests.app")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    yield logger
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()


def handler_on(clock: VirtualTime, logger: logging.Logger, **options: object) -> livebar.LogHandler:
    handler = livebar.LogHandler(clock=clock.clock, thread=False, **options)  # type: ignore[arg-type]
    logger.addHandler(handler)
    return handler


def pushes(clock: VirtualTime) -> list[tuple[str, str | None]]:
    assert clock.flush()
    return [(p["title"], p.get("message")) for p in clock.simulator.pushes()]


def test_a_burst_of_500_identical_errors_costs_two_requests(
    clock: VirtualTime, app_logger: logging.Logger
) -> None:
    """500 identical errors in 5 s: the first pushed at once, the rest in one collapsed push."""
    handler = handler_on(clock, app_logger)
    for _ in range(500):
        app_logger.error("Disk full on /data")
        clock.advance(0.01)
    clock.advance(60)
    handler.tick()
    expected = [
        ("Disk full on /data", "ERROR · tests.app"),
        ("Disk full on /data", "\u2026and 499 more like it"),
    ]
    assert expected == pushes(clock)
    assert 2 == len(clock.simulator.requests())
    assert (499, 0, 2) == (handler.collapsed, handler.dropped, handler.sent)


def test_the_collapsed_count_goes_out_when_the_handler_closes(
    clock: VirtualTime, app_logger: logging.Logger
) -> None:
    """Closing before the window ends still reports the repeats (logging.shutdown closes it)."""
    handler = handler_on(clock, app_logger)
    for _ in range(15):
        app_logger.error("Lost connection to db")
    app_logger.removeHandler(handler)
    handler.close()
    assert ["ERROR · tests.app", "\u2026and 14 more like it"] == [m for _, m in pushes(clock)]


def test_records_below_the_level_are_not_pushed(
    clock: VirtualTime, app_logger: logging.Logger
) -> None:
    """The default level is ERROR: a warning stays off the phone, a critical goes out."""
    handler_on(clock, app_logger)
    app_logger.warning("a warning")
    app_logger.critical("down")
    assert [("down", "CRITICAL · tests.app")] == pushes(clock)


def test_an_exception_is_named_in_the_push(clock: VirtualTime, app_logger: logging.Logger) -> None:
    """logger.exception(): the exception's type and text follow the level and logger."""
    handler_on(clock, app_logger)
    try:
        1 / 0  # noqa: B018
    except ZeroDivisionError:
        app_logger.exception("Nightly import failed")
    expected = ("Nightly import failed", "ERROR · tests.app · ZeroDivisionError: division by zero")
    assert [expected] == pushes(clock)


def test_distinct_messages_are_paced_and_bounded(
    clock: VirtualTime, app_logger: logging.Logger
) -> None:
    """50 different errors at once: a burst of 3, then one every 10 s; past 5 waiting, dropped."""
    handler = handler_on(clock, app_logger, max_pending=5)
    for i in range(50):
        app_logger.error("row %d is bad", i)
    assert (3, 42) == (handler.sent, handler.dropped)
    clock.advance(10)
    handler.tick()
    assert 4 == handler.sent
    clock.advance(20)
    handler.tick()
    titles = [title for title, _ in pushes(clock)]
    assert [f"row {i} is bad" for i in range(6)] == titles


def test_livebar_and_http_records_are_never_forwarded(
    clock: VirtualTime, app_logger: logging.Logger
) -> None:
    """Records of livebar's own logger and of httpx/httpcore would loop: ignored."""
    handler = livebar.LogHandler(clock=clock.clock, thread=False)
    for name in ("livebar", "livebar.engine", "httpx", "httpcore.http11"):
        handler.handle(logging.LogRecord(name, logging.ERROR, __file__, 1, "boom", None, None))
    assert [] == pushes(clock)
    assert (0, 0) == (handler.sent, handler.dropped)


def test_a_broken_record_never_raises_into_logging(
    clock: VirtualTime, app_logger: logging.Logger
) -> None:
    """A message whose arguments do not fit its format is counted, not raised."""
    handler = handler_on(clock, app_logger)
    record = logging.LogRecord("tests.app", logging.ERROR, __file__, 1, "%d rows", ("x",), None)
    handler.emit(record)
    assert 1 == handler.dropped


def test_with_an_activity_the_latest_record_is_the_subtitle(clock: VirtualTime) -> None:
    """LogHandler(activity=act, level="INFO"): the card's subtitle follows the log, no push."""
    logger = logging.getLogger("tests.etl")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    with livebar.live_activity("ETL", total=3) as act:
        handler = livebar.LogHandler(activity=act, level="INFO")
        logger.addHandler(handler)
        try:
            for table in ("users", "orders", "events"):
                logger.info("loading %s", table)
                logger.debug("not shown")
                act.advance()
                clock.advance(130)
        finally:
            logger.removeHandler(handler)
    assert clock.flush()
    [activity] = clock.simulator.activities()
    shown = [e["content_state"].get("subtitle") for e in activity["history"]]
    assert ["loading users", "loading orders", "loading events"] == [
        s for s in shown if s and s.startswith("loading")
    ][:3]
    assert [] == clock.simulator.pushes()


@pytest.mark.parametrize(
    ("option", "value", "field"),
    [
        ("per_minute", 0, "per_minute"),
        ("burst", 0, "burst"),
        ("window", "60", "window"),
        ("max_pending", 1.5, "max_pending"),
        ("activity", "act", "activity"),
    ],
)
def test_bad_options_name_the_field(option: str, value: object, field: str) -> None:
    """A bad option is refused at construction, naming it."""
    with pytest.raises(livebar.ValidationError) as info:
        livebar.LogHandler(**{option: value})  # type: ignore[arg-type]
    assert field == info.value.field


def test_the_plan_reports_repeats_after_the_window_and_then_forgets() -> None:
    """Pure plan: first at once, repeats after the window, a quiet window makes it news again."""
    plan = PushPlan(window=60)
    plan.add("k", "Disk full", "ERROR")
    assert [Report("Disk full", "ERROR")] == plan.take(0.0)
    plan.add("k", "Disk full", "ERROR")
    plan.add("k", "Disk full", "ERROR")
    assert ([], 60.0) == (plan.take(0.0), plan.next_due(0.0))
    assert [Report("Disk full", "\u2026and 2 more like it")] == plan.take(60.0)
    assert [] == plan.take(120.0)
    plan.add("k", "Disk full", "ERROR")
    assert [Report("Disk full", "ERROR")] == plan.take(120.0)


def test_the_handlers_thread_sends_the_collapsed_count_on_time(
    sim: Any, app_logger: logging.Logger
) -> None:
    """With its own thread and a real simulator: the "…and N more" push goes out by itself."""
    handler = livebar.LogHandler(window=0.2, api_key=sim.api_key, base_url=sim.url)
    app_logger.addHandler(handler)
    for _ in range(500):
        app_logger.error("Disk full on /data")
    deadline = time.monotonic() + 10
    while len(sim.pushes()) < 2 and time.monotonic() < deadline:
        livebar.flush(1.0)
    assert ["ERROR · tests.app", "\u2026and 499 more like it"] == [
        p.get("message") for p in sim.pushes()
    ]
    assert 2 == len(sim.requests())


def test_the_readme_example_runs_as_written(sim: Any, tmp_path: Path) -> None:
    """The README's LogHandler snippet, run against the simulator: two pushes, collapsed."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    (snippet,) = [block for block in blocks if "LogHandler(level=" in block]
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVEBAR_")}
    done = subprocess.run(
        [sys.executable, "-c", snippet],
        env={**env, **sim.env(), "LIVEBAR_LEDGER": str(tmp_path), "LIVEBAR_COURIER": "0"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert 0 == done.returncode, done.stderr
    assert ["ERROR \u00b7 backup", "\u2026and 499 more like it"] == [
        p.get("message") for p in sim.pushes()
    ]
