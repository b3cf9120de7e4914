"""livebar.tqdm against the simulator: what the phone shows, and how few requests it takes."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest

import livebar._integrations.tqdm
from livebar._integrations.tqdm import tqdm, trange
from livebar.auto import tqdm as auto_tqdm


@pytest.fixture(autouse=True)
def close_leftover_bars() -> Iterator[None]:
    """Close bars a failed test left open, so the next test's bar is the outermost again."""
    yield
    for bar in list(livebar._integrations.tqdm._mirroring):
        bar.close()


@pytest.fixture
def live(sim: Any) -> dict[str, Any]:
    """Keywords pointing a bar at the simulator, writing its terminal bar to a buffer."""
    return {"api_key": sim.api_key, "base_url": sim.url, "file": io.StringIO()}


def ended(bar: tqdm) -> None:
    """Wait until the bar's ending has reached the simulator."""
    assert bar.activity is not None
    assert bar.activity.wait(timeout=10)


def final_state(sim: Any, index: int = 0) -> dict[str, Any]:
    """The content state the phone shows for the index-th activity."""
    state: dict[str, Any] = sim.activities()[index]["displayed"]
    return state


def numbers(n: int) -> Iterator[int]:
    """A generator with no length."""
    yield from range(n)


def test_known_total_ends_done_at_100_percent(sim, live) -> None:
    """A finished loop ends the activity done, titled by desc, at 100%, in a handful of requests."""
    bar = tqdm(range(10_000), desc="Resize images", **live)
    for _ in bar:
        pass
    ended(bar)
    state = final_state(sim)
    assert ("Resize images", "progress", 100.0) == (
        state["title"],
        state["type"],
        state["percentage"],
    )
    assert state["subtitle"].startswith("Done in ")
    assert "ended" == sim.activities()[0]["state"]
    assert len(sim.requests()) <= 3


def test_title_wins_over_desc(sim, live) -> None:
    """title= names the activity while desc stays on the terminal bar."""
    bar = tqdm(range(3), desc="terminal text", title="Phone title", **live)
    list(bar)
    ended(bar)
    assert "Phone title" == final_state(sim)["title"]
    assert "terminal text" in live["file"].getvalue()


def test_unknown_total_shows_a_count(sim, live) -> None:
    """A generator with no length is shown as a count of items done, not a made-up percentage."""
    bar = tqdm(numbers(42), desc="Stream", mininterval=0, **live)
    for i in bar:
        if i == 20:
            running = bar.activity.content_state()
    ended(bar)
    assert ("metrics", None) == (running.type, running.percentage)
    assert ("Done", 20) == (running.metrics[0].label, running.metrics[0].value)
    assert ("done", 42) == (bar.activity.outcome, bar.n)


def test_break_in_bare_loop_stops_at_real_progress(sim, live) -> None:
    """break in a bare for loop ends the activity stopped where the loop was."""
    bar = tqdm(range(10), desc="Scan", **live)
    for i in bar:
        if i == 4:
            break
    ended(bar)
    state = final_state(sim)
    assert 40.0 == state["percentage"]
    assert state["subtitle"].startswith("Stopped at 40%")
    assert "stopped" == bar.activity.outcome


def test_exception_inside_with_fails_and_reraises(sim, live) -> None:
    """An exception inside ``with tqdm(...)`` fails the activity and comes out unchanged."""
    error = ValueError("bad row 3")
    with pytest.raises(ValueError) as caught, tqdm(range(10), desc="Import", **live) as bar:
        for i in bar:
            if i == 3:
                raise error
    assert error is caught.value
    ended(bar)
    state = final_state(sim)
    assert ("failed", "red") == (bar.activity.outcome, state.get("color"))
    assert "ValueError: bad row 3" in state["subtitle"]


def test_exception_after_the_loop_inside_with_fails(sim, live) -> None:
    """A loop that finished inside ``with`` still fails if the block then raises."""
    with pytest.raises(RuntimeError), tqdm(range(3), desc="Export", **live) as bar:
        for _ in bar:
            pass
        assert bar.activity.outcome is None  # the block decides, not the loop
        raise RuntimeError("upload refused")
    ended(bar)
    assert "failed" == bar.activity.outcome
    assert "RuntimeError: upload refused" in final_state(sim)["subtitle"]


def test_keyboard_interrupt_inside_with_cancels(sim, live) -> None:
    """Ctrl-C inside ``with tqdm(...)`` ends the activity cancelled."""
    with pytest.raises(KeyboardInterrupt), tqdm(total=5, **live) as bar:
        bar.update(2)
        raise KeyboardInterrupt
    ended(bar)
    assert "cancelled" == bar.activity.outcome
    assert final_state(sim)["subtitle"].startswith("Cancelled")


def test_with_and_break_ends_stopped(sim, live) -> None:
    """break inside ``with tqdm(...)`` (no exception) ends stopped at the real progress."""
    with tqdm(range(4), **live) as bar:
        for i in bar:
            if i == 1:
                break
    ended(bar)
    assert ("stopped", 25.0) == (bar.activity.outcome, final_state(sim)["percentage"])


def test_iterable_raising_fails(sim, live) -> None:
    """An iterable that raises ends the activity failed with its error."""

    def broken() -> Iterator[int]:
        yield 1
        raise OSError("disk gone")

    bar = tqdm(broken(), total=3, **live)
    with pytest.raises(OSError, match="disk gone"):
        list(bar)
    ended(bar)
    assert "failed" == bar.activity.outcome
    assert "OSError: disk gone" in final_state(sim)["subtitle"]


def test_close_twice_and_manual_updates(sim, live) -> None:
    """Manual update() then close() twice ends once, done."""
    bar = tqdm(total=1000, unit="B", unit_scale=True, **live)
    for _ in range(10):
        bar.update(100)
    bar.close()
    bar.close()
    ended(bar)
    assert ["start", "end"] == [entry["kind"] for entry in sim.activities()[0]["history"]]
    assert "done" == bar.activity.outcome


def test_reset_reuses_the_activity(sim, live) -> None:
    """reset(total=...) per epoch keeps one activity for the whole run."""
    bar = tqdm(total=3, desc="Train", **live)
    for size in (3, 5, 4):
        bar.reset(total=size)
        for _ in range(size):
            bar.update()
        assert size == bar.activity.total
    bar.close()
    ended(bar)
    assert 1 == len(sim.activities())
    assert 100.0 == final_state(sim)["percentage"]


def test_descriptions_and_postfix_become_the_subtitle(sim, live) -> None:
    """set_description and set_postfix show as the subtitle; write() never touches the activity."""
    bar = tqdm(total=10, desc="Train", **live)
    bar.set_description("Epoch 2")
    bar.set_postfix(loss=0.25)
    tqdm.write("a log line", file=live["file"])
    assert "Epoch 2 · loss=0.25" == bar.activity.content_state().subtitle
    bar.set_postfix_str("")
    bar.set_description("Train")
    assert bar.activity.content_state().subtitle is None
    bar.close()
    ended(bar)


def test_subtitle_keyword_stays_until_replaced(sim, live) -> None:
    """subtitle= is shown until a description or postfix replaces it."""
    bar = tqdm(total=2, subtitle="nightly", **live)
    assert "nightly" == bar.activity.content_state().subtitle
    bar.set_postfix(rows=5)
    assert "rows=5" == bar.activity.content_state().subtitle
    bar.close()
    ended(bar)


def test_only_the_outermost_bar_mirrors(sim, live) -> None:
    """Nested bars: the outer one mirrors, the inner ones do not."""
    outer = tqdm(range(3), desc="epochs", **live)
    inner_activities = []
    for _ in outer:
        inner = tqdm(range(5), desc="batches", leave=False, **live)
        inner_activities.append(inner.activity)
        list(inner)
    ended(outer)
    assert [None, None, None] == inner_activities
    assert ["epochs"] == [a["title"] for a in sim.activities()]


def test_inner_bar_with_live_true_mirrors(sim, live) -> None:
    """An inner bar passing live=True gets its own activity."""
    with tqdm(total=1, desc="outer", **live) as outer:
        inner = tqdm(range(2), desc="inner", live=True, **live)
        list(inner)
        outer.update()
    ended(outer)
    ended(inner)
    assert ["inner", "outer"] == sorted(a["title"] for a in sim.activities())


def test_sequential_bars_each_mirror(sim, live) -> None:
    """A bar opened after the previous one closed is outermost again."""
    first = tqdm(range(2), desc="first", **live)
    list(first)
    second = tqdm(range(2), desc="second", **live)
    list(second)
    ended(first)
    ended(second)
    assert ["first", "second"] == sorted(a["title"] for a in sim.activities())


def test_disable_true_and_live_false_send_nothing(sim, live) -> None:
    """disable=True and live=False create no activity and send nothing."""
    off = tqdm(range(5), disable=True, **live)
    assert [0, 1, 2, 3, 4] == list(off)
    quiet = tqdm(range(5), live=False, **live)
    list(quiet)
    assert (None, None) == (off.activity, quiet.activity)
    assert [] == sim.requests()


def test_hidden_bar_keeps_counting(sim, live) -> None:
    """disable=None on a non-TTY prints nothing but the activity still follows the loop."""
    bar = tqdm(range(10), desc="Batch job", disable=None, **live)
    for i in bar:
        if i == 6:
            break
    ended(bar)
    assert "" == live["file"].getvalue()
    assert (6, 60.0) == (bar.n, final_state(sim)["percentage"])


def test_hidden_bar_counts_manual_updates(sim, live) -> None:
    """Manual update() on a hidden bar counts, so the activity ends at the real value."""
    bar = tqdm(total=8, disable=None, **live)
    bar.update(3)
    bar.update(3)
    assert 6 == bar.n
    bar.reset(total=4)
    bar.update(4)
    bar.close()
    ended(bar)
    assert "done" == bar.activity.outcome


def test_tqdm_colour_names_the_activity_colour(sim, live) -> None:
    """A tqdm colour the API knows colours the activity; color= wins over it."""
    named = tqdm(total=1, colour="green", **live)
    assert "green" == named.activity.color
    named.close()
    explicit = tqdm(total=1, colour="green", color="orange", **live)
    assert "orange" == explicit.activity.color
    explicit.close()
    hex_colour = tqdm(total=1, colour="#00ff00", **live)
    assert hex_colour.activity.color is None
    hex_colour.close()
    for bar in (named, explicit, hex_colour):
        ended(bar)


def test_bad_livebar_option_raises_before_printing(sim, live) -> None:
    """A bad livebar option raises ValidationError before tqdm prints anything."""
    from livebar._wire.errors import ValidationError

    with pytest.raises(ValidationError):
        tqdm(range(3), color="not-a-colour", **live)
    assert "" == live["file"].getvalue()
    assert [] == sim.requests()


def test_trange_and_auto_module(sim, live) -> None:
    """trange and livebar.auto.tqdm are the same mirrored bar."""
    assert auto_tqdm is tqdm
    bar = trange(4, desc="Range", **live)
    assert [0, 1, 2, 3] == list(bar)
    ended(bar)
    assert "Range" == final_state(sim)["title"]


@pytest.mark.anyio
async def test_async_for_mirrors(sim, live) -> None:
    """``async for`` over a livebar bar ends the activity done."""

    async def agen() -> Any:
        for i in range(5):
            yield i

    bar = tqdm(agen(), total=5, desc="Async", **live)
    assert [0, 1, 2, 3, 4] == [x async for x in bar]
    ended(bar)
    assert ("done", 100.0) == (bar.activity.outcome, final_state(sim)["percentage"])


def test_uncaught_exception_in_bare_loop_ends_failed(sim) -> None:
    """An exception escaping a bare for loop ends the activity failed once it reaches excepthook."""
    script = textwrap.dedent(
        """
        import io, time
        from livebar._integrations import tqdm as _tqdm
        for i in _tqdm.tqdm(range(10), desc="Crash", file=io.StringIO()):
            if i == 2:
                time.sleep(0.3)  # a job that ran a while (the dispatcher has seen it start)
                raise RuntimeError("boom")
        """
    )
    env = {**os.environ, "ACTIVITYSMITH_API_KEY": sim.api_key, "ACTIVITYSMITH_BASE_URL": sim.url}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=30
    )
    assert 1 == done.returncode
    assert "RuntimeError: boom" in done.stderr
    activity = sim.activities()[0]
    assert ("Crash", "ended") == (activity["title"], activity["state"])
    assert "RuntimeError: boom" in activity["displayed"]["subtitle"]


def test_a_unit_of_its_own_shows_counts(sim, live) -> None:
    """unit="files" shows "n of total" on the phone; a scaled bar shows percentages."""
    bar = tqdm(range(40), unit="files", mininterval=0, miniters=1, **live)
    for i in bar:
        if i == 9:
            running = bar.activity.content_state()
    ended(bar)
    assert (9, 40) == (running.value, running.upper_limit)
    assert (40, 40) == (final_state(sim)["value"], final_state(sim)["upper_limit"])
    scaled = tqdm(total=1000, unit="B", unit_scale=True, **live)
    scaled.update(500)
    assert 50.0 == scaled.activity.content_state().percentage
    scaled.close()


def test_reset_to_a_large_total_switches_to_a_percentage(sim, live) -> None:
    """A bar that counted 40 files shows a percentage once reset to a million of them."""
    bar = tqdm(total=40, unit="files", **live)
    assert bar.activity is not None
    assert bar.activity.show_count
    bar.reset(total=1_000_000)
    bar.update(250_000)
    assert not bar.activity.show_count
    bar.close()
