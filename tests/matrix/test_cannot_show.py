"""A job that cannot be shown says so, at the time (issue 17, item 10).

When an activity cannot reach the phone — the server unreachable, a base URL that does not lead
to the API, livebar's share of the account or its four slots taken — livebar says once, when it
happens, why and what will happen, and says again when it gets through. And a job whose card
waited for a slot or for room gets it (or its outcome push) as soon as there is one.
"""

from __future__ import annotations

import time

import livebar
from livebar.simulator import SimulatorHandle, serve
from livebar.testing import virtual_time

from .support import capture_logs


def test_an_unreachable_server_is_named_when_it_happens_and_when_it_answers() -> None:
    """Connections refused for 20 s over the start: one line at the first refusal, naming the
    server, the connection error and that the card is not on the phone yet; one when the
    server answers again; then the card shows and ends Done."""
    with virtual_time() as vt, capture_logs() as logs:
        vt.simulator.down()
        vt.call_later(20.0, vt.simulator.up)
        with livebar.live_activity("Nightly backup", total=10) as act:
            vt.advance(1.0)
            said = [line for line in logs.livebar() if "cannot reach" in line]
            assert 1 == len(said), logs.livebar()
            assert "ConnectError" in said[0]
            assert "'Nightly backup' is not on the phone" in said[0]
            assert vt.state.config.api_key not in said[0]
            vt.advance(30.0)
            act.update(10)
        assert livebar.flush(10.0)
    lines = logs.livebar()
    assert 1 == sum("cannot reach" in line for line in lines), lines
    [back] = [line for line in lines if "answers again" in line]
    assert "unreachable for" in back
    [card] = vt.simulator.activities()
    assert card["state"] == "ended"
    assert card["content_state"]["subtitle"].startswith("Done")


def test_a_base_url_without_api_is_said_at_once_and_never_retried() -> None:
    """The base URL lacks ``/api``: the server answers the start 404. One error line at once,
    naming the URL and what is likely wrong; nothing is sent again; flush() says it was not
    delivered, at once."""
    with serve() as sim, capture_logs() as logs:
        wrong = sim.url.removesuffix("/api")
        with livebar.live_activity("Fourth job", api_key=sim.api_key, base_url=wrong) as act:
            act.wait(5.0)
            [said] = [line for line in logs.livebar() if "404" in line]
        began = time.monotonic()
        assert not livebar.flush(5.0)
        assert time.monotonic() - began < 1.0
    assert wrong in said
    assert "is /api missing?" in said
    assert "'Fourth job'" in said
    assert sim.api_key not in said
    assert 1 == sum("404" in line for line in logs.livebar())
    assert (1, 1, False) == (act.stats.requests, act.stats.dropped, act.stats.end_delivered)


def test_a_loss_is_reported_by_the_engine_that_lost_it_only() -> None:
    """The background engine loses an end (a 404 to its start) and a flush says so; after a
    ``virtual_time`` block, a delivered job's flush is True (it said False again: a suite
    mixing both saw stray Falses). A loss not yet reported is still said after such a block."""

    def lose(sim: SimulatorHandle, title: str) -> None:
        wrong = sim.url.removesuffix("/api")
        with livebar.live_activity(title, api_key=sim.api_key, base_url=wrong) as act:
            act.wait(5.0)

    def virtual_job() -> None:
        with virtual_time():
            with livebar.live_activity("Virtual", total=1) as act:
                act.update(1)
            assert livebar.flush(5.0)

    with serve() as sim:
        lose(sim, "Lost")
        assert not livebar.flush(5.0)
        virtual_job()
        with livebar.live_activity("Shown", api_key=sim.api_key, base_url=sim.url) as shown:
            shown.update(subtitle="fine")
        assert livebar.flush(5.0)
        lose(sim, "Lost again")
        virtual_job()
        assert not livebar.flush(5.0)
