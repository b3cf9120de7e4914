"""A newcomer's first minutes: the calls people try first, and what livebar says back.

Each cell failed before the fix it pins (issue 17, "The first minutes").
"""

from __future__ import annotations

import io
import subprocess
import sys

import pytest

import livebar
from livebar.testing import virtual_time

from .support import capture_logs


def test_the_title_may_be_given_by_name() -> None:
    """``live_activity(title="x")`` works (it failed: "missing 1 required positional
    argument"); no title at all is a ValidationError naming it."""
    assert "Backup" == livebar.live_activity(title="Backup", disable=True).title
    with pytest.raises(livebar.ValidationError) as caught:
        livebar.live_activity()
    assert "title" == caught.value.field


def test_total_and_steps_together_are_refused() -> None:
    """A bar counts items or steps: ``total=`` with ``steps=`` is refused, naming ``total``
    (it was accepted, and ``total`` silently ignored)."""
    with pytest.raises(livebar.ValidationError) as caught:
        livebar.live_activity("Deploy", steps=["build", "ship"], total=10)
    assert "total" == caught.value.field


def test_a_stage_not_among_the_named_steps_is_said_once() -> None:
    """A stage whose name is not among the named steps adds a step of its own, said once."""
    with virtual_time(), capture_logs() as logs:
        with livebar.live_activity("Deploy", steps=["build", "ship"]) as act:
            with act.stage("build"):
                pass
            with act.stage("tset"):  # a typo of a step that does not exist
                pass
            with act.stage("tset"):
                pass
    said = [line for line in logs.livebar() if "no step named 'tset'" in line]
    assert 1 == len(said)


@pytest.mark.parametrize("form", ["steps", "stages", "total", "track"])
def test_work_not_all_done_ends_done_at_the_real_progress(form: str) -> None:
    """A job that finishes normally with its declared work not all done (2 of 5 steps, 40 of
    100 items) ends Done at the real progress: never a full bar it did not reach (steps showed
    5/5), whatever form the job was written in."""
    with virtual_time() as vt:
        if form == "steps":
            with livebar.live_activity("Job", steps=5) as act:
                act.advance(2)
        elif form == "stages":
            with livebar.live_activity("Job", steps=["a", "b", "c", "d", "e"]) as act:
                with act.stage("a"):
                    pass
                with act.stage("b"):
                    pass
        elif form == "total":
            with livebar.live_activity("Job", total=100) as act:
                act.update(40)
        else:
            act = None
            for _ in livebar.track(range(40), title="Job", total=100):
                pass
        assert livebar.flush(5.0)
    [card] = vt.simulator.activities()
    state = card["content_state"]
    assert state["subtitle"].startswith("Done in")
    if form in ("steps", "stages"):
        assert (2, 5) == (state["current_step"], state["number_of_steps"])
    else:
        assert 40.0 == state["percentage"]


def test_livebar_auto_is_an_attribute_after_import() -> None:
    """``import livebar; livebar.auto.tqdm`` works (``auto`` was not reachable)."""
    code = "import livebar; print(livebar.auto.tqdm.__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "tqdm" == out.stdout.strip()


def test_the_reap_help_shows_a_plain_percent_sign() -> None:
    """``livebar reap --help`` says "at 61%", not "at 61%%"."""
    out = subprocess.run(
        [sys.executable, "-m", "livebar", "reap", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "61%'" in out.stdout
    assert "%%" not in out.stdout


class Terminal(io.StringIO):
    """What a terminal receives (a tqdm bar draws itself only on one)."""

    def isatty(self) -> bool:
        return True


def test_a_livebar_line_is_not_glued_to_a_drawn_bar() -> None:
    """A line livebar logs while a ``livebar.tqdm`` bar is drawn on the terminal starts on a
    cleared line, not after the bar's characters."""
    import logging

    terminal = Terminal()
    handler = logging.StreamHandler(terminal)
    logging.getLogger("livebar").addHandler(handler)
    try:
        with virtual_time():
            bar = livebar.tqdm(range(10), file=terminal, mininterval=0, title="Loop")
            for i in bar:
                if i == 5:  # a line livebar logs at once, mid-bar
                    bar.activity.close()
                    bar.activity.update(3)
    finally:
        logging.getLogger("livebar").removeHandler(handler)
    text = terminal.getvalue()
    at = text.index("livebar: 'Loop' had ended")
    assert "\r" == text[at - 1] or "\n" == text[at - 1], repr(text[at - 40 : at])


def test_ctrl_c_during_the_demo_ends_its_cards_cancelled_and_exits_at_once() -> None:
    """Ctrl-C in ``livebar demo``: no traceback, the cards end Cancelled, exit 130 within a
    couple of seconds (it printed 14 lines of livebar's traceback and took 9 s)."""
    import os
    import signal
    import time

    env = {**os.environ, "LIVEBAR_DEMO_FAST": ""}
    with subprocess.Popen(
        [sys.executable, "-m", "livebar", "demo"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    ) as demo:
        assert demo.stdout is not None
        while "Resize images" not in (line := demo.stdout.readline()) and line:
            pass
        time.sleep(1.0)
        demo.send_signal(signal.SIGINT)
        interrupted = time.monotonic()
        out, err = demo.communicate(timeout=30)
        took = time.monotonic() - interrupted
    assert 130 == demo.returncode, err
    assert "Traceback" not in err
    assert "cards ended Cancelled" in out
    assert took < 8.0
