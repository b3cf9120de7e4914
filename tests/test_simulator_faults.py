"""The one plan of a faulted exchange (``simulator._faults.exchange``), as a table: what the
served app and virtual time do with a request, in order, under each fault."""

from __future__ import annotations

import pytest

from livebar.simulator._answers import Reply
from livebar.simulator._faults import Exchange, FaultDecision, RawAnswer, Step, exchange

WAIT, REFUSE, RECORD, HANDLE, DROP, TIME_OUT, ANSWER = (
    Step.WAIT,
    Step.REFUSE,
    Step.RECORD,
    Step.HANDLE,
    Step.DROP,
    Step.TIME_OUT,
    Step.ANSWER,
)
FAILED = Reply(503, {"error": "Service Unavailable"})
GARBLED = RawAnswer(200, b"<html>")
SERVED = {"timeout": None, "can_refuse": False}
"""The served app: it cannot refuse a connection it accepted, nor knows the client's timeout."""
IN_PROCESS = {"timeout": 10.0, "can_refuse": True}
"""Virtual time: it can refuse a connection and knows the client's timeout (10 s here)."""

CASES = [
    ("clean", FaultDecision(), SERVED, Exchange((HANDLE, ANSWER))),
    ("clean, in process", FaultDecision(), IN_PROCESS, Exchange((HANDLE, ANSWER))),
    ("delayed", FaultDecision(delay=2.0), SERVED, Exchange((WAIT, HANDLE, ANSWER), wait=2.0)),
    (
        "delayed past the timeout",
        FaultDecision(delay=12.0),
        IN_PROCESS,
        Exchange((HANDLE, WAIT, TIME_OUT), wait=10.0),
    ),
    (
        "served, a delay has no timeout",
        FaultDecision(delay=12.0),
        SERVED,
        Exchange((WAIT, HANDLE, ANSWER), wait=12.0),
    ),
    (
        "failed",
        FaultDecision(reply=FAILED),
        IN_PROCESS,
        Exchange((RECORD, ANSWER), answer=FAILED),
    ),
    (
        "failed past the timeout",
        FaultDecision(delay=10.0, reply=FAILED),
        IN_PROCESS,
        Exchange((RECORD, WAIT, TIME_OUT), wait=10.0),
    ),
    ("dropped", FaultDecision(drop=True), IN_PROCESS, Exchange((RECORD, DROP))),
    (
        "dropped after a delay",
        FaultDecision(delay=1.0, drop=True),
        SERVED,
        Exchange((WAIT, RECORD, DROP), wait=1.0),
    ),
    (
        "down, in process",
        FaultDecision(delay=1.0, drop=True, down=True),
        IN_PROCESS,
        Exchange((RECORD, REFUSE)),
    ),
    (
        "down, served: dropped",
        FaultDecision(delay=1.0, drop=True, down=True),
        SERVED,
        Exchange((WAIT, RECORD, DROP), wait=1.0),
    ),
    (
        "garbled, never handled",
        FaultDecision(raw=GARBLED),
        SERVED,
        Exchange((RECORD, ANSWER), answer=GARBLED),
    ),
    (
        "garbled on its way back",
        FaultDecision(raw=GARBLED, handled=True),
        IN_PROCESS,
        Exchange((HANDLE, ANSWER), answer=GARBLED),
    ),
    (
        "dripped",
        FaultDecision(drip=3.0),
        IN_PROCESS,
        Exchange((HANDLE, ANSWER), drip=3.0),
    ),
    (
        "amended",
        FaultDecision(amend={"extra": 1}),
        SERVED,
        Exchange((HANDLE, ANSWER)),
    ),
]


@pytest.mark.parametrize(
    ("decision", "shell", "expected"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_the_plan_of_each_fault(
    decision: FaultDecision, shell: dict[str, object], expected: Exchange
) -> None:
    """Each fault decision, in each shell, is planned as the table says."""
    assert expected == exchange(decision, **shell)  # type: ignore[arg-type]


def test_every_plan_ends_in_an_answer_or_without_one() -> None:
    """The last step of every plan answers, drops, refuses or times out; nothing follows."""
    ends = {ANSWER, DROP, REFUSE, TIME_OUT}
    for _name, decision, shell, _expected in CASES:
        steps = exchange(decision, **shell).steps  # type: ignore[arg-type]
        assert ([False] * (len(steps) - 1), True) == (
            [step in ends for step in steps[:-1]],
            steps[-1] in ends,
        )
