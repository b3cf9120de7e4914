"""How a job ended, as a table: ``decide(Facts)`` for every ending row of ``docs/design.md``."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from livebar._job.endings import (
    Decision,
    Facts,
    Outcome,
    Terminated,
    decide,
    ending_for,
)
from livebar._job.loops import LoopExit
from livebar._job.progress import ProgressView

DONE, FAILED, CANCELLED, STOPPED = (
    Outcome.DONE,
    Outcome.FAILED,
    Outcome.CANCELLED,
    Outcome.STOPPED,
)
SIGNAL = {"signal_at": 100.0, "ended_at": 101.0}
"""A SIGTERM one second before the job ended."""

ROWS: list[tuple[str, dict[str, Any], Decision]] = [
    ("with exits normally", {}, Decision(DONE)),
    ("a tracked loop inside with left early", {"stopped_early": True}, Decision(STOPPED)),
    ("an exception", {"exception": ValueError("bad row")}, Decision(FAILED)),
    ("Ctrl-C", {"exception": KeyboardInterrupt()}, Decision(CANCELLED)),
    ("SIGTERM, livebar's own handler", {"exception": Terminated(143)}, Decision(CANCELLED)),
    ("asyncio cancellation", {"exception": asyncio.CancelledError()}, Decision(CANCELLED)),
    ("sys.exit(0)", {"exception": SystemExit(0)}, Decision(DONE)),
    ("sys.exit()", {"exception": SystemExit()}, Decision(DONE)),
    ("sys.exit(3)", {"exception": SystemExit(3)}, Decision(FAILED)),
    ("a generator's consumer stopped", {"exception": GeneratorExit()}, Decision(STOPPED)),
    ("the job said so", {"asked": FAILED}, Decision(FAILED)),
    (
        "the job said done, a loop stopped",
        {"asked": DONE, "stopped_early": True},
        Decision(STOPPED),
    ),
    ("a bare loop left by break", {"left": LoopExit.DELIBERATE}, Decision(STOPPED)),
    ("a bare loop left by a raise", {"left": LoopExit.EXCEPTION}, Decision(FAILED, True)),
    ("a bare loop left, how unknown", {"left": LoopExit.UNKNOWN}, Decision(STOPPED, True)),
    (
        "a bare loop unwound by SIGTERM",
        {"left": LoopExit.EXCEPTION, **SIGNAL},
        Decision(CANCELLED),
    ),
    ("open at exit, uncaught", {"at_exit": True, "exception": OSError()}, Decision(FAILED)),
    (
        "open at exit, Ctrl-C",
        {"at_exit": True, "exception": KeyboardInterrupt()},
        Decision(CANCELLED),
    ),
    ("open at exit, work done", {"at_exit": True, "complete": True}, Decision(DONE)),
    ("open at exit, no work declared", {"at_exit": True, "complete": None}, Decision(DONE)),
    ("open at exit, work not done", {"at_exit": True, "complete": False}, Decision(STOPPED)),
    (
        "open at exit after SIGTERM, work not done",
        {"at_exit": True, "complete": False, **SIGNAL},
        Decision(CANCELLED),
    ),
    (
        "SIGTERM absorbed by the job's handler; it stopped with work undone",
        {"complete": False, **SIGNAL},
        Decision(CANCELLED),
    ),
    (
        "SIGTERM absorbed; the job went on and finished its work",
        {"complete": True, "signal_at": 100.0, "ended_at": 4000.0},
        Decision(DONE),
    ),
    (
        "SIGTERM absorbed; the work was done when it stopped",
        {"complete": True, **SIGNAL},
        Decision(DONE),
    ),
    (
        "SIGTERM; no work declared; ended within the grace",
        {"complete": None, **SIGNAL},
        Decision(CANCELLED),
    ),
    (
        "SIGTERM; no work declared; went on for an hour",
        {"complete": None, "signal_at": 100.0, "ended_at": 3700.0},
        Decision(DONE),
    ),
    ("a SIGTERM before the job started", {"complete": False}, Decision(DONE)),
    (
        "the job said stopped, after SIGTERM",
        {"asked": STOPPED, "complete": False, **SIGNAL},
        Decision(CANCELLED),
    ),
    ("the job said failed, after SIGTERM", {"asked": FAILED, **SIGNAL}, Decision(FAILED)),
]


@pytest.mark.parametrize(("facts", "expected"), [pytest.param(f, e, id=n) for n, f, e in ROWS])
def test_how_a_job_ended(facts: dict[str, Any], expected: Decision) -> None:
    """Each row: the facts a path gathers, and the one decision they make."""
    assert expected == decide(Facts(**facts))


def view(**changes: Any) -> ProgressView:
    fields: dict[str, Any] = {
        "title": "Backup",
        "subtitle": None,
        "color": None,
        "segmented": False,
        "current_step": 0,
        "number_of_steps": 1,
        "items": 40.0,
        "total": 100.0,
        "show_count": False,
        "percentage": None,
        "value": None,
        "upper_limit": None,
        "stage": None,
        "stopped_early": False,
        "ignored": 0,
    }
    fields.update(changes)
    return ProgressView(**fields)


@pytest.mark.parametrize(
    ("decision", "exc", "looks", "text", "colour", "complete"),
    [
        (Decision(DONE), None, view(items=100.0), "Done in 4m 12s", None, True),
        (Decision(DONE), None, view(), "Done in 4m 12s", None, False),
        (
            Decision(FAILED),
            ValueError("bad\nrow"),
            view(stage="upload"),
            "Failed at upload: ValueError: bad",
            "red",
            False,
        ),
        (Decision(FAILED, True), None, view(), "Failed at 40% after 4m 12s", "red", False),
        (Decision(FAILED), SystemExit(3), view(), "Failed: exit code 3", "red", False),
        (
            Decision(CANCELLED),
            None,
            view(stage="test"),
            "Cancelled at test after 4m 12s",
            "gray",
            False,
        ),
        (Decision(STOPPED), None, view(), "Stopped at 40% after 4m 12s", None, False),
        (Decision(STOPPED), None, view(total=None), "Stopped after 4m 12s", None, False),
    ],
)
def test_how_an_ending_reads(
    decision: Decision,
    exc: BaseException | None,
    looks: ProgressView,
    text: str,
    colour: str | None,
    complete: bool,
) -> None:
    """The words, colour and full bar of each outcome."""
    ending = ending_for(decision, exc, looks, dismiss_minutes=3, took=252.0, at=9.0)
    assert (decision.outcome, text, colour, complete) == (
        ending.outcome,
        ending.subtitle,
        ending.color,
        ending.complete,
    )
    assert decision.provisional == ending.provisional
