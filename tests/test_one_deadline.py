"""One deadline, once: whatever front end ends the job, the process waits at most the flush
deadline in total after it (issue #19), and not at all for a server it never reached."""

from __future__ import annotations

import logging

import pytest

import livebar
from livebar._process import hooks
from livebar.testing import virtual_time

DEADLINE = 5.0


def test_flush_then_exit_waits_one_deadline_in_all_against_a_server_that_never_answers() -> None:
    """``flush()`` gives up at the deadline; the exit's own flush then waits what is left of
    that same deadline (nothing), even though the end was closed while a request hung."""
    with virtual_time() as vt:
        vt.simulator.delay(3600.0)
        with livebar.live_activity("Hangs", total=10):
            vt.advance(0.5)
        ended = vt.now
        assert not livebar.flush()
        hooks.at_exit()
        assert vt.now - ended <= DEADLINE + 1e-9


def test_an_exit_after_a_flush_that_gave_up_still_waits_for_work_handed_over_since() -> None:
    """A new activity after the flush that gave up gets its own deadline at exit."""
    with virtual_time() as vt:
        vt.simulator.delay(3600.0)
        with livebar.live_activity("First", total=10):
            vt.advance(0.5)
        assert not livebar.flush()
        vt.simulator.clear_faults()
        with livebar.live_activity("Second", total=10) as second:
            vt.advance(0.5)
        hooks.at_exit()
        assert second.stats.end_delivered


def test_the_exit_does_not_wait_for_a_server_that_refused_every_connection(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An offline laptop: nothing ever connected and the last connections were refused, so the
    exit gives up at once and its line says why."""
    with caplog.at_level(logging.WARNING, logger="livebar"), virtual_time() as vt:
        vt.simulator.down()
        with livebar.live_activity("Offline", total=10):
            vt.advance(5.0)
        ended = vt.now
        hooks.at_exit()
        assert vt.now - ended < 1.0
    assert "could not be reached during the whole run" in caplog.text
    assert "none ever connected" in caplog.text


def test_a_server_that_answered_once_gets_the_whole_deadline() -> None:
    """Once a request reached the server, refused connections later do not cut the exit
    short: an end that could still arrive is not given up lightly."""
    with virtual_time() as vt:
        with livebar.live_activity("Flaky", total=10):
            vt.advance(1.0)
            vt.simulator.down()
            vt.advance(1.0)
        ended = vt.now
        vt.call_later(2.0, vt.simulator.up)
        hooks.at_exit()
        assert vt.now - ended <= DEADLINE + 1e-9
        assert "ended" == vt.simulator.activities()[0]["state"]
