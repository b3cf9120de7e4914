"""A job that cannot be shown says so, at the time (issue 17, item 10).

When an activity cannot reach the phone — the server unreachable, a base URL that does not lead
to the API, livebar's share of the account or its four slots taken — livebar says once, when it
happens, why and what will happen, and says again when it gets through. And a job whose card
waited for a slot or for room gets it (or its outcome push) as soon as there is one.
"""

from __future__ import annotations

import time
from pathlib import Path

import livebar
from livebar.simulator import SimulatorHandle, serve
from livebar.testing import virtual_time

from .support import capture_logs, run_child


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


def test_a_share_used_up_by_earlier_jobs_still_shows_the_next_one(tmp_path: Path) -> None:
    """The README's examples run back to back used livebar's 40 requests of the minute; the
    next job's card starts at once and ends Done (its start and end reach into the part of
    the window livebar leaves to other tools), instead of never appearing."""
    from livebar._ledger.settings import open_ledger
    from livebar._wire.account import account_for

    with serve() as sim:
        env = {**sim.env(), "LIVEBAR_LEDGER": str(tmp_path)}
        ledger = open_ledger(account_for(api_key=sim.api_key, base_url=sim.url), environ=env)
        for _ in range(40):  # what the earlier processes on the key sent this minute
            assert ledger.acquire(time.monotonic(), limit=40).admitted
        ledger.close(time.monotonic())
        began = time.monotonic()
        run = run_child(
            """
            import time, livebar
            with livebar.live_activity("Fourth job", total=3) as act:
                time.sleep(1.0)
                act.update(3)
            assert livebar.flush(5.0)
            """,
            env=env,
            timeout=40.0,
        )
        took = time.monotonic() - began
    assert 0 == run.returncode, run.stderr
    [card] = sim.activities()
    assert ("Fourth job", "ended") == (card["title"], card["state"])
    assert card["content_state"]["subtitle"].startswith("Done")
    assert took < 10.0, run.stderr  # it waited 5 s at exit, and never showed, before


def test_a_start_held_back_says_why_once_and_goes_when_it_can() -> None:
    """The window full as far as a start may fill it (48 of 60, other livebar processes'):
    one line says the card waits and about how long; it starts when the window frees."""
    from livebar._ledger.ledger import AccountLedger
    from livebar._ledger.memory import MemoryBackend

    ledger = AccountLedger(MemoryBackend(window=60.0))
    for _ in range(48):
        assert ledger.acquire(0.0, limit=60).admitted
    with capture_logs() as logs, virtual_time(ledgers=lambda account, window: ledger) as vt:
        acts = [livebar.live_activity(f"Held {i}", total=2).start() for i in range(2)]
        vt.advance(5.0)
        said = [line for line in logs.livebar() if "waits about" in line]
        assert 1 == len(said), logs.livebar()  # once, for both
        assert "'Held 0' waits about 1m 00s to start" in said[0]
        assert [] == vt.simulator.activities()
        vt.advance(60.0)
        for act in acts:
            act.update(2)
            act.close()
        assert vt.flush(30.0)
    assert 2 == len(vt.simulator.activities())
    assert all(a.stats.end_delivered and not a.stats.delivered_by_push for a in acts)


def test_a_start_waiting_for_a_slot_says_so_once() -> None:
    """Six jobs at once on an account of four: one line says the fifth waits for a slot and
    what happens if its job ends first; the sixth adds nothing."""
    with capture_logs() as logs, virtual_time() as vt:
        acts = [livebar.live_activity(f"Job {i}", total=2).start() for i in range(6)]
        vt.advance(5.0)
        said = [line for line in logs.livebar() if "waits to start" in line]
        assert 1 == len(said), logs.livebar()
        assert "'Job 4' waits to start: the account's 4 Live Activities" in said[0]
        assert "outcome goes out as a push" in said[0]
        for act in acts:
            act.update(2)
            act.close()
        assert vt.flush(60.0)
