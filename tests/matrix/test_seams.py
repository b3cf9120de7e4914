"""Where livebar meets the rest of the user's world, on the virtual clock: text the phone cannot
take as it is, ends that can never be delivered, outages over the start, retries and the flush
deadline, answers the API does not document, inputs at the edge of what a card can show.

Each cell failed before the fix it pins (issue 17, "The truth at every seam"); what the user now
sees is tabulated in ``docs/reliability.md``.
"""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import pytest

import livebar
from livebar.testing import VirtualTime, virtual_time

from .support import capture_logs, open_cards

SURROGATE = "photo-\udcff.jpg"
"""A file name ``os.fsdecode`` could not decode: a lone surrogate, which UTF-8 cannot carry."""


def bodies(vt: VirtualTime) -> list[dict[str, Any]]:
    return [r["body"] or {} for r in vt.state.requests()]


def last_state(vt: VirtualTime) -> dict[str, Any]:
    [card] = vt.simulator.activities()
    return dict(card["content_state"])


# -- text that cannot be encoded -------------------------------------------------------------------


@pytest.mark.parametrize(
    "where",
    ["title", "subtitle", "stage", "exception", "tqdm desc", "push"],
)
def test_text_that_cannot_be_encoded_is_made_sendable(where: str) -> None:
    """A lone surrogate or a control character anywhere a string reaches the wire: the card
    ends truthfully, the text shows U+FFFD, and flush() is True because it was delivered."""
    with virtual_time() as vt:
        try:
            if where == "tqdm desc":
                for _ in livebar.tqdm(range(3), desc=SURROGATE, file=io.StringIO()):
                    vt.advance(1.0)
            elif where == "push":
                assert livebar.push(SURROGATE, message="bad\x07name\n" + SURROGATE)
            else:
                title = SURROGATE if where == "title" else "Resize"
                subtitle = SURROGATE if where == "subtitle" else None
                with livebar.live_activity(title, total=3, subtitle=subtitle) as act:
                    act.update(1)
                    vt.advance(1.0)
                    with act.stage(SURROGATE if where == "stage" else "resize"):
                        if where in ("stage", "exception"):
                            raise ValueError(f"cannot decode {SURROGATE}")
        except ValueError:
            pass
        assert livebar.flush(5.0)
        sent = json.dumps(bodies(vt), ensure_ascii=False)
        assert "\ufffd" in sent
        sent.encode("utf-8")  # everything that went out is valid UTF-8
        if where == "push":
            [push] = vt.simulator.pushes()
            assert "badname photo-\ufffd.jpg" == push["message"]
        else:
            assert [] == open_cards(vt.simulator)


def test_a_control_character_title_is_refused_at_the_call() -> None:
    """A title of nothing but control characters is as empty as it looks: refused, named."""
    with pytest.raises(livebar.ValidationError) as caught:
        livebar.live_activity("\x00\x07", total=3)
    assert "title" == caught.value.field


# -- an end that can never be delivered ------------------------------------------------------------


def test_flush_never_reports_an_undelivered_end_as_done() -> None:
    """The server refuses the end twice (as it was, then plainly): flush() says False once,
    and the exit line names what was not delivered."""
    with virtual_time() as vt, capture_logs() as logs:
        with livebar.live_activity("Refused end", total=2) as act:
            act.update(1)
            vt.advance(3.0)
            vt.simulator.fail_next(2, status=400)
        assert not livebar.flush(5.0)
        assert livebar.flush(5.0)  # said once: nothing new was lost since
    assert (False, 1) == (act.stats.end_delivered, act.stats.dropped)
    assert any("the end of 'Refused end' was refused" in line for line in logs.livebar())


# -- an outage over the start ----------------------------------------------------------------------


def test_an_outage_over_the_start_still_tells_the_phone() -> None:
    """Both start attempts are dropped mid-answer by an outage (so taken as started), the
    recovered server answers 404 to the end: the outcome goes out as a push, not "already
    gone"."""
    with virtual_time() as vt, capture_logs() as logs:
        vt.simulator.drop_next(1000)  # connections dropped mid-answer: it may have arrived
        vt.call_later(7.0, vt.simulator.clear_faults)
        with livebar.live_activity("Over an outage", total=10) as act:
            act.update(3)
            vt.advance(5.0)
            act.update(10)
        assert livebar.flush(5.0)
    pushes = vt.simulator.pushes()
    assert ["Over an outage finished"] == [p["title"] for p in pushes]
    assert (True, True) == (act.stats.end_delivered, act.stats.delivered_by_push)
    assert not any("already gone" in line for line in logs.livebar())


# -- retries and the flush deadline ----------------------------------------------------------------


@pytest.mark.parametrize("seed", range(12))
def test_the_last_try_of_an_end_fits_inside_the_flush_deadline(seed: int) -> None:
    """Three 500s on the end, then a healthy server: whatever the backoff's jitter, the next
    try comes before the 5-s deadline and the end is delivered."""
    with virtual_time(seed=seed) as vt:
        with livebar.live_activity("Flaky end", total=10, lifecycle="manual") as act:
            act.update(2)
            vt.advance(10.0)
            vt.simulator.fail_next(3, status=500)
        started = vt.now
        assert livebar.flush(5.0)
    ends = [r for r in vt.state.requests() if r["path"] == "/live-activity/end"]
    assert [500, 500, 500, 200] == [r["status"] for r in ends]
    assert ends[-1]["t"] - ends[0]["t"] <= 5.0
    assert vt.now - started <= 5.0


# -- logging that raises ---------------------------------------------------------------------------


class Raising(logging.Handler):
    """A program's handler with a bug: every record it is given raises."""

    def emit(self, record: logging.LogRecord) -> None:
        raise RuntimeError("the log server is down")


class RaisingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        raise KeyError("filter bug")


@pytest.mark.parametrize("what", ["handler", "filter"])
def test_logging_that_raises_never_stops_the_engine(what: str) -> None:
    """The program's logging raises on every livebar record: the engine logs through it (a
    refused update, a refused end), carries on, and every later activity still ends."""
    logger = logging.getLogger("livebar")
    raising = Raising()
    raising_filter = RaisingFilter()
    if what == "handler":
        logger.addHandler(raising)
    else:
        logger.addFilter(raising_filter)
    try:
        with virtual_time() as vt:
            with livebar.live_activity("First", total=10) as act:
                vt.advance(1.0)
                act.update(5)
                vt.simulator.fail_next(1, status=400)  # "update request dropped": logged
                vt.advance(30.0)
            with livebar.live_activity("Second", total=1) as later:
                later.update(1)
            assert livebar.flush(5.0)
            assert [] == open_cards(vt.simulator)
    finally:
        logger.removeHandler(raising)
        logger.removeFilter(raising_filter)
    assert (True, True) == (act.stats.end_delivered, later.stats.end_delivered)


# -- values at the edge of what a card can show ----------------------------------------------------


@pytest.mark.parametrize(
    "values",
    [
        {"total": 1.33e-13, "n": 1.8e308},
        {"total": 3.0, "n": 1e-9},
        {"total": 1e-300, "n": 1e-301},
    ],
)
def test_values_at_the_edge_of_a_card_still_end_it(values: dict[str, float]) -> None:
    """``update()`` with a tiny total and a huge or tiny count, shown as counts: the card moves
    and ends (it stayed open for good: "upper_limit: must be > 0")."""
    with virtual_time() as vt:
        with livebar.live_activity("Edge", total=10, show_count=True) as act:
            vt.advance(1.0)
            act.update(**values)
            vt.advance(10.0)
        assert livebar.flush(5.0)
    assert [] == open_cards(vt.simulator)
    assert act.stats.end_delivered


def test_a_state_the_rules_refuse_is_shown_plainly_and_ends() -> None:
    """Whatever a state the payload's rules refuse, the end still goes out, shown plainly."""
    with virtual_time() as vt, capture_logs() as logs:
        with livebar.live_activity("Refused", total=10) as act:
            vt.advance(1.0)
            act.update(value=5, upper_limit=1e-320)  # denormal: "must be > 0" once rounded
            vt.advance(10.0)
        assert livebar.flush(5.0)
    assert [] == open_cards(vt.simulator)
    assert act.stats.end_delivered
    assert 1 >= sum("shown plainly" in line for line in logs.livebar())


# -- answers the API does not document -------------------------------------------------------------


def test_a_redirect_within_the_server_is_followed() -> None:
    """A 307 to the same server (a load balancer's) on the start is followed, key and body
    kept: the card starts and ends (it was "start request dropped", nothing for the job)."""
    with virtual_time() as vt:
        location = "/api/live-activity/start"
        vt.state.answer_next(1, body="", status=307, headers={"Location": location})
        with livebar.live_activity("Redirected", total=2, lifecycle="manual") as act:
            act.update(1)
            vt.advance(5.0)
        assert livebar.flush(5.0)
    assert [] == open_cards(vt.simulator)
    assert [307, 200, 200] == [r["status"] for r in vt.state.requests()]


def test_a_redirect_to_another_server_is_not_followed() -> None:
    """A redirect elsewhere is not followed (the key stays home); the error names where."""
    with livebar.Client(
        api_key="ask_x",
        base_url="http://127.0.0.1:9/api",
        transport=_redirecting("https://elsewhere.example/api/push-notification"),
        retry=False,
    ) as client:
        with pytest.raises(livebar.TransportError) as caught:
            client.push(livebar.PushNotification(title="x"))
    assert "elsewhere.example" in str(caught.value)
    assert "ask_x" not in str(caught.value)


def _redirecting(location: str) -> Any:
    import httpx

    def handler(request: httpx.Request) -> httpx.Response:
        assert "elsewhere" not in str(request.url)
        return httpx.Response(307, headers={"Location": location})

    return httpx.MockTransport(handler)


# -- objects used in ways that cannot work ---------------------------------------------------------


def test_an_activity_entered_again_after_its_end_says_so() -> None:
    """``with act:`` a second time: one clear error pointing to ``act.copy()`` (it silently did
    nothing)."""
    with virtual_time():
        act = livebar.live_activity("Once", total=1)
        with act:
            act.update(1)
        with pytest.raises(livebar.MisuseError) as caught:
            with act:
                pass
    assert "act.copy()" in str(caught.value)
    assert isinstance(caught.value, RuntimeError)


def test_copying_or_pickling_an_activity_says_what_to_do_instead() -> None:
    """``copy.copy`` points to ``act.copy()``; pickling points to ``act.handle()``."""
    import copy
    import pickle

    act = livebar.live_activity("Job", total=3, disable=True)
    with pytest.raises(livebar.MisuseError, match=r"act\.copy\(\)"):
        copy.copy(act)
    with pytest.raises(livebar.MisuseError):
        copy.deepcopy(act)
    with pytest.raises(TypeError, match=r"act\.handle\(\)"):
        pickle.dumps(act)
    fresh = act.copy()
    assert (fresh is not act, fresh.title, fresh.total) == (True, "Job", 3)


def test_progress_after_the_end_is_counted_and_said_once() -> None:
    """``update()``/``advance()`` after ``close()`` change nothing, are counted in
    ``stats.ignored`` and said once."""
    with virtual_time() as vt, capture_logs() as logs:
        with livebar.live_activity("Ended", total=10) as act:
            act.update(4)
        act.update(9)
        act.advance()
        act.advance(2)
        assert livebar.flush(5.0)
    assert 3 == act.stats.ignored
    assert 4 == act.count
    assert 1 == sum("had ended" in line for line in logs.livebar())
    [card] = vt.simulator.activities()
    assert 40.0 == card["content_state"]["percentage"]
