"""Process events x the ways a job is written, each in a fresh interpreter against the served
simulator.

The forms: ``with live_activity``, ``async with`` (under ``asyncio.run``), the decorator, a bare
``for x in livebar.track(...)``, a bare ``for x in livebar.tqdm(...)`` and a manual ``start()``
/ ``close()``. The events happen when
the job is 4 items of 10 in: an exception that escapes the program, one the caller catches, a
``break`` (or ``return``), Ctrl-C, SIGTERM (with and without the job's own handler, installed
before livebar), ``sys.exit(0)`` and ``sys.exit(3)``, ``os.fork``, the job's thread dying, the
job running in a worker thread when SIGTERM comes, and signals while the exit is still
delivering. Each cell checks the exit status the job would have had without livebar, that
nothing of livebar's reached its output but its own log lines, and what the phone shows.

Two endings are what livebar cannot know, and the table says so (docs/reliability.md): the code
of a ``sys.exit()`` that leaves a bare loop (it ends failed) or a manual activity left open
(it ends by its bar), and an exception the caller catches around a manual activity it never
closes (stopped).
"""

from __future__ import annotations

import signal
import sys
import textwrap
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from livebar.simulator import SimulatorHandle, serve

from .support import TITLE, ChildRun, run_child

FORMS = {
    "with": """
        with livebar.live_activity(TITLE, total=10) as act:
            for i in range(10):
                act.update(i + 1)
                if i == 3:
                    EVENT
        """,
    "async with": """
        import asyncio

        async def main():
            async with livebar.live_activity(TITLE, total=10) as act:
                for i in range(10):
                    act.update(i + 1)
                    if i == 3:
                        EVENT
        asyncio.run(main())
        """,
    "decorator": """
        @livebar.live_activity(TITLE, total=10)
        def job():
            act = livebar.current_activity()
            for i in range(10):
                act.update(i + 1)
                if i == 3:
                    EVENT
        job()
        """,
    "track": """
        for i in livebar.track(range(10), title=TITLE):
            if i == 4:
                EVENT
        """,
    "tqdm": """
        for i in livebar.tqdm(range(10), title=TITLE, file=open(os.devnull, "w")):
            if i == 4:
                EVENT
        """,
    "manual": """
        act = livebar.live_activity(TITLE, total=10).start()
        for i in range(10):
            act.update(i + 1)
            if i == 3:
                EVENT
        act.close()
        """,
}

DONE = "Done in"
FAILED_BOOM = "Failed: ValueError: boom"
FAILED_AT = "Failed at 40% after"
STOPPED_AT = "Stopped at 40% after"
CANCELLED = "Cancelled after"
LOOPS = ("track", "tqdm")


@dataclass(frozen=True)
class Event:
    """One row: the code run at 40 %, and what each form must end with."""

    name: str
    code: str
    returncode: int
    shown: dict[str, str]
    """Form -> how the phone's subtitle starts (``*``: every form)."""
    percentage: float = 40.0
    before_import: str = ""
    around: str = "{job}"
    """How the job is called: ``{job}`` is the form's code."""
    stderr_ends: str | None = None
    """The last line of the job's stderr (its own traceback's), when it has one."""

    def expected(self, form: str) -> str:
        return self.shown.get(form, self.shown.get("*", ""))


EVENTS = [
    Event(
        "exception",
        "raise ValueError('boom')",
        1,
        {"*": FAILED_BOOM},
        stderr_ends="ValueError: boom",
    ),
    Event(
        "exception the caller catches",
        "raise ValueError('boom')",
        0,
        {"*": FAILED_BOOM, "track": FAILED_AT, "tqdm": FAILED_AT, "manual": STOPPED_AT},
        around="try:\n{job}\nexcept ValueError:\n    pass",
    ),
    Event(
        "break",
        "break",
        0,
        {"*": DONE, "track": STOPPED_AT, "tqdm": STOPPED_AT, "decorator": DONE},
    ),
    Event(
        "Ctrl-C",
        "os.kill(os.getpid(), signal.SIGINT); time.sleep(10)",
        -signal.SIGINT,
        {"*": CANCELLED},
        stderr_ends="KeyboardInterrupt",
    ),
    Event(
        "SIGTERM",
        "os.kill(os.getpid(), signal.SIGTERM); time.sleep(10)",
        143,
        {"*": CANCELLED},
    ),
    Event(
        "SIGTERM, the job's own handler stops it",
        "os.kill(os.getpid(), signal.SIGTERM); time.sleep(0.5)\nif stop: break",
        0,
        {"*": CANCELLED},
        before_import=(
            "stop = False\n"
            "def handler(signum, frame):\n"
            "    global stop\n"
            "    stop = True\n"
            "    say(handler=signum)\n"
            "signal.signal(signal.SIGTERM, handler)\n"
        ),
    ),
    Event(
        "sys.exit(0)",
        "sys.exit(0)",
        0,
        {"*": DONE, "track": FAILED_AT, "tqdm": FAILED_AT, "manual": STOPPED_AT},
    ),
    Event(
        "sys.exit(3)",
        "sys.exit(3)",
        3,
        {
            "*": "Failed: exit code 3",
            "track": FAILED_AT,
            "tqdm": FAILED_AT,
            "manual": STOPPED_AT,
        },
    ),
    Event(
        "os.fork with it open",
        "pid = os.fork()\nif pid == 0:\n    sys.exit(0)\nos.waitpid(pid, 0)",
        0,
        {"*": DONE},
        percentage=100.0,
    ),
    Event(
        "the job's thread dies",
        "raise ValueError('boom')",
        0,
        {"*": FAILED_BOOM},
        around=(
            "def work():\n{job}\n"
            "worker = threading.Thread(target=work)\nworker.start()\nworker.join()"
        ),
        stderr_ends="ValueError: boom",
    ),
    Event(
        "SIGTERM while it runs in a worker thread",
        "say(ready_for_signal=True); time.sleep(10)",
        -signal.SIGTERM,
        {"*": CANCELLED},
        around=(
            "def work():\n{job}\n"
            "worker = threading.Thread(target=work, daemon=True)\nworker.start()\n"
            "while not started.is_set():\n    time.sleep(0.01)\n"
            "time.sleep(0.3)\nos.kill(os.getpid(), signal.SIGTERM)\ntime.sleep(10)"
        ),
        before_import="started = threading.Event()\n",
    ),
]


def script(form: str, event: Event) -> str:
    """The child's code: the form with the event at 40 %, called as the event says."""
    code = event.code
    if event.name.startswith("SIGTERM while"):
        code = "started.set(); " + code
    body = textwrap.dedent(FORMS[form]).strip("\n")
    if form == "decorator" and code == "break":
        code = "return"
    if form == "async with":  # an async job waits by awaiting
        code = code.replace("time.sleep(", "await asyncio.sleep(")
    lines = []
    for line in body.splitlines():
        if line.strip() == "EVENT":
            indent = line[: len(line) - len(line.lstrip())]
            lines.extend(indent + part for part in code.splitlines())
        else:
            lines.append(line)
    job = "\n".join(lines)
    if event.around != "{job}":
        job = event.around.format(job=textwrap.indent(job, "    "))
    return f"TITLE = {TITLE!r}\n{event.before_import}import livebar\n{job}\n"


@pytest.fixture(scope="module")
def shared_sim() -> Iterator[SimulatorHandle]:
    """One simulator for the module; each cell starts it afresh."""
    with serve() as sim:
        yield sim


@pytest.fixture
def sim(shared_sim: SimulatorHandle) -> SimulatorHandle:
    """The module's simulator, reset: no activity, no request, no fault."""
    shared_sim.reset()
    return shared_sim


@pytest.fixture
def ledger(tmp_path: Any) -> str:
    """A shared account ledger of the cell's own (so no cell sees another's processes)."""
    return str(tmp_path / "ledger")


def env_for(sim: SimulatorHandle, ledger: str, **extra: str) -> dict[str, str]:
    return {**sim.env(), "LIVEBAR_FLUSH_TIMEOUT": "5", "LIVEBAR_LEDGER": ledger, **extra}


def cells() -> Iterator[Any]:
    for event in EVENTS:
        for form in FORMS:
            yield pytest.param(event, form, id=f"{event.name} | {form}")


@pytest.mark.parametrize(("event", "form"), list(cells()))
def test_process_event(sim: SimulatorHandle, ledger: str, event: Event, form: str) -> None:
    """The job exits as it would without livebar, and the phone shows what happened."""
    child = run_child(script(form, event), env=env_for(sim, ledger))
    assert event.returncode == child.returncode, child.stderr
    # From 3.11 asyncio.run answers Ctrl-C by cancelling the task, and prints that chain
    # itself; before, the KeyboardInterrupt goes straight up (one traceback, as without livebar).
    chained = form == "async with" and event.name == "Ctrl-C" and sys.version_info >= (3, 11)
    _check_output(child, event, tracebacks=2 if chained else 1, ours=not chained)
    if event.name.startswith("SIGTERM, the job's own"):
        assert signal.SIGTERM == child.last("handler")  # ours chained to it, never replaced it
    [card] = sim.activities()
    assert "ended" == card["state"], card
    shown = card["displayed"]
    assert shown["subtitle"].startswith(event.expected(form)), shown
    assert event.percentage == shown["percentage"]
    ends = [r for r in sim.requests() if r["method"] == "DELETE" or r["path"].endswith("/end")]
    assert 1 == len(ends)  # one end, from the job's own process


def _check_output(child: ChildRun, event: Event, *, tracebacks: int, ours: bool) -> None:
    """Nothing of livebar's in the job's output: no traceback but the job's own (Python's or
    asyncio's, as the job would print it without livebar)."""
    assert "Exception ignored" not in child.stderr
    lines = [line for line in child.stderr.strip().splitlines() if line]
    printed = sum(line.startswith("Traceback") for line in lines)
    if event.stderr_ends is None:
        assert 0 == printed, child.stderr
        assert [] == [line for line in lines if not line.startswith("livebar: ")]
    else:
        assert tracebacks == printed, child.stderr
        assert event.stderr_ends == lines[-1]
        frames = [line.strip() for line in lines if line.strip().startswith("File ")]
        if ours:  # raised by the job, not by livebar
            assert frames[-1].startswith('File "<string>"')
        assert not any("livebar/_" in frame for frame in frames[-1:])


@pytest.mark.parametrize("form", ["manual", "track"])
def test_interpreter_exit_with_it_still_open(sim: SimulatorHandle, ledger: str, form: str) -> None:
    """An activity never closed (or a loop never finished) is ended by the exit, by its bar."""
    code = {
        "manual": "act = livebar.live_activity(TITLE, total=10).start()\nact.update(4)\n",
        "track": "it = livebar.track(range(10), title=TITLE)\nfor _ in range(4):\n"
        "    next(it)\nkeep = it\n",
    }[form]
    child = run_child(f"TITLE = {TITLE!r}\nimport livebar\n{code}", env=env_for(sim, ledger))
    assert 0 == child.returncode, child.stderr
    assert "" == child.stderr
    [card] = sim.activities()
    assert "ended" == card["state"]
    expected = STOPPED_AT if form == "manual" else "Stopped at 30% after"
    assert card["displayed"]["subtitle"].startswith(expected)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["Ctrl-C", "SIGTERM"])
@pytest.mark.parametrize("form", ["with", "manual"])
def test_a_signal_during_the_exit_flush_stops_the_wait_quietly(
    sim: SimulatorHandle, ledger: str, form: str, signum: int
) -> None:
    """The server holds every request; a signal while the exit waits (20 s deadline) ends the
    wait at once: no traceback, one line saying so, one line naming what was not delivered."""
    code = {
        "with": "with livebar.live_activity(TITLE, total=1) as act:\n    act.update(1)\n",
        "manual": "act = livebar.live_activity(TITLE, total=1).start()\nact.update(1)\n",
    }[form]
    code = f"TITLE = {TITLE!r}\nimport livebar\nwait_for_parent()\n{code}"

    def hold_then_signal(proc: Any) -> None:
        sim.delay(30.0)
        threading.Timer(1.0, proc.send_signal, args=(signum,)).start()

    child = run_child(
        code,
        env=env_for(sim, ledger, LIVEBAR_FLUSH_TIMEOUT="20", LIVEBAR_TIMEOUT="25"),
        at_ready=hold_then_signal,
    )
    sim.clear_faults()
    assert child.seconds < 10.0  # the signal ended the 20 s wait
    assert "Traceback" not in child.stderr, child.stderr
    assert "Exception ignored" not in child.stderr
    lines = child.stderr.strip().splitlines()
    assert "livebar: interrupted while delivering the last updates" == lines[0], lines
    [gave_up] = lines[1:]
    assert gave_up.startswith("livebar: gave up after ")
    assert gave_up.endswith(f"; not delivered: {TITLE}")


@pytest.mark.parametrize("form", ["with", "async with"])
def test_the_first_activity_never_loads_the_network_stack_on_the_callers_thread(
    sim: SimulatorHandle, ledger: str, form: str
) -> None:
    """httpx (and its TLS context) are imported by the engine's thread, never the job's: an
    event loop is not stalled by the first activity of a process."""
    code = (
        "importers = []\n"
        "class Spy:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'httpx':\n"
        "            importers.append(threading.current_thread().name)\n"
        "        return None\n"
        "sys.meta_path.insert(0, Spy())\n"
        "import livebar\n"
    )
    if form == "with":
        code += "with livebar.live_activity(TITLE, total=1) as act:\n    act.update(1)\n"
    else:
        code += (
            "import asyncio\n"
            "async def main():\n"
            "    async with livebar.live_activity(TITLE, total=1) as act:\n"
            "        act.update(1)\n"
            "asyncio.run(main())\n"
        )
    code += "livebar.flush()\nsay(importers=importers)\n"
    child = run_child(f"TITLE = {TITLE!r}\n{code}", env=env_for(sim, ledger))
    assert 0 == child.returncode, child.stderr
    assert ["livebar-dispatcher"] == child.last("importers")
    [card] = sim.activities()
    assert "ended" == card["state"]
