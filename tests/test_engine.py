"""The progress engine end to end: on a virtual clock (``livebar.testing.virtual_time``) where
time matters, and against the simulator served on loopback where threads, sockets and processes
are the point."""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any, Union

import pytest

import livebar
from livebar._engine import runtime as _dispatch
from livebar._engine.budgets import Budgets
from livebar.simulator import SimulatorHandle
from livebar.testing import VirtualTime, virtual_time

FAST = Budgets(min_update_gap=0.05)
EPOCH = 1_780_000_000.0


@pytest.fixture
def sim(sim: SimulatorHandle) -> SimulatorHandle:
    """conftest's simulator (spec-checked afterwards), with updates allowed 50 ms apart."""
    _dispatch.configure(budgets=FAST, flush_timeout=5.0)
    return sim


@pytest.fixture
def vt(spec_validator: Any) -> Iterator[VirtualTime]:
    """The real engine on a virtual clock (updates allowed 50 ms apart); every request it sent
    is checked against the spec afterwards."""
    with virtual_time(budgets=FAST) as clock:
        yield clock
        clock.flush(60.0)
        for request in clock.simulator.requests():
            spec_validator.validate_body(request["method"], request["path"], request["body"])


Server = Union[SimulatorHandle, VirtualTime]


def _handle(server: Server) -> SimulatorHandle:
    return server.simulator if isinstance(server, VirtualTime) else server


def opts(sim: Server, **extra: Any) -> dict[str, Any]:
    if isinstance(sim, VirtualTime):
        return dict(extra)
    return {"api_key": sim.api_key, "base_url": sim.url, **extra}


def statuses(sim: Server) -> list[int | None]:
    return [r["status"] for r in _handle(sim).requests()]


def kinds(sim: Server) -> list[str]:
    """``start``, ``update``, ``end``, ``push``: what each request did, in order, for either
    lifecycle (a stream's first PUT starts it, the later ones update it, DELETE ends it)."""
    names = []
    started: set[str] = set()
    for request in _handle(sim).requests():
        path = request["path"]
        if path.startswith("/live-activity/stream/"):
            if request["method"] == "DELETE":
                names.append("end")
            else:
                names.append("update" if path in started else "start")
                if request["status"] == 200:
                    started.add(path)
        else:
            names.append(path.rsplit("/", 1)[-1].replace("push-notification", "push"))
    return names


def only_activity(sim: Server) -> dict[str, Any]:
    [activity] = _handle(sim).activities()
    return activity


def at(request: dict[str, Any]) -> float:
    """A request's time on the virtual clock."""
    return float(request["t"]) - EPOCH


def test_stages_end_with_every_step_done(vt: VirtualTime) -> None:
    """A three-stage job ends showing 3 of 3 steps and 'Done in …'."""
    with livebar.live_activity("Deploy", steps=["build", "test", "ship"]) as act:
        for name in ("build", "test", "ship"):
            with act.stage(name):
                vt.advance(0.1)
    assert act.wait(5.0)
    shown = only_activity(vt)["displayed"]
    assert (3, 3) == (shown["current_step"], shown["number_of_steps"])
    assert "Done in 0.3s" == shown["subtitle"]
    assert "ended" == only_activity(vt)["state"]
    assert ["start", "update", "end"] == kinds(vt)
    assert 1 == act.stats.updates


def test_exception_mid_stage_fails_the_activity_and_propagates_unchanged(
    sim: SimulatorHandle,
) -> None:
    """The same exception object (same traceback) escapes; the phone shows the failed stage."""
    boom = ValueError("disk full")
    with pytest.raises(ValueError) as caught:
        with livebar.live_activity("Backup", steps=["dump", "upload"], **opts(sim)) as act:
            with act.stage("dump"):
                pass
            with act.stage("upload"):
                raise boom
    assert caught.value is boom
    assert "test_engine.py" in caught.traceback[-1].path.name
    assert act.wait(5.0)
    shown = only_activity(sim)["displayed"]
    assert "red" == shown["color"]
    assert "Failed at upload: ValueError: disk full" == shown["subtitle"]
    assert 1 == shown["current_step"]
    assert "failed" == act.outcome
    assert 30 == only_activity(sim)["auto_dismiss_minutes"]


def test_a_million_iterations_cost_a_handful_of_requests(vt: VirtualTime) -> None:
    """A million-item loop that takes no time sends a start and an end, nothing else."""
    for _ in livebar.track(range(1_000_000), title="Crunch"):
        pass
    assert livebar.flush(5.0)
    activity = only_activity(vt)
    assert ["start", "end"] == kinds(vt)
    assert 0 == activity["warnings"]
    assert 100 == activity["displayed"]["percentage"]


def test_a_two_hour_job_runs_through_the_engine_on_the_virtual_clock(vt: VirtualTime) -> None:
    """Two virtual hours of a uniform job: spread updates, no iOS warning, the end arrives."""
    vt.dispatcher.set_budgets(Budgets())
    with livebar.live_activity("Backup", total=7200) as act:
        for second in range(7200):
            act.update(second)
            vt.advance(1.0)
    assert act.wait(5.0)
    activity = only_activity(vt)
    requests = vt.simulator.requests()
    assert (0, 0) == (activity["warnings"], activity["throttles"])
    assert ["start"] + ["update"] * act.stats.updates + ["end"] == kinds(vt)
    assert 45 <= act.stats.updates
    assert 7200.0 == pytest.approx(at(requests[-1]), abs=0.5)
    assert 100 == activity["displayed"]["percentage"]


def test_break_ends_at_the_real_progress(sim: SimulatorHandle) -> None:
    """Leaving a tracked loop early is 'stopped' at the real position, not failed."""
    with livebar.live_activity("Scan", **opts(sim)) as act:
        for i in act.track(list(range(100))):
            if i == 40:
                break
    assert act.wait(5.0)
    shown = only_activity(sim)["displayed"]
    assert 40 == shown["percentage"]
    assert "stopped" == act.outcome
    assert shown.get("color") != "red"


def test_keyboard_interrupt_is_cancelled(sim: SimulatorHandle) -> None:
    """Ctrl-C inside the block ends the activity as cancelled and re-raises."""
    with pytest.raises(KeyboardInterrupt):
        with livebar.live_activity("Train", total=10, **opts(sim)) as act:
            act.update(3)
            raise KeyboardInterrupt
    assert act.wait(5.0)
    assert "cancelled" == act.outcome
    assert only_activity(sim)["displayed"]["subtitle"].startswith("Cancelled")


def test_server_down_for_the_first_half_still_shows_the_end(vt: VirtualTime) -> None:
    """With the API unreachable at first, the job runs on and the phone ends up right."""
    vt.simulator.down()
    with livebar.live_activity("Import", total=20) as act:
        for i in act.track(range(20)):
            vt.advance(0.1)
            if i == 9:
                vt.simulator.up()
    assert act.wait(15.0)
    shown = only_activity(vt)["displayed"]
    assert 100 == shown["percentage"]
    refused = statuses(vt)[: act.stats.retried]
    assert [None] * act.stats.retried == refused
    assert act.stats.retried >= 1
    assert [200, 200] == statuses(vt)[act.stats.retried :]
    assert ["start"] * (act.stats.retried + 1) + ["end"] == kinds(vt)


def test_many_activities_and_pushes_never_see_a_429(vt: VirtualTime) -> None:
    """Six jobs plus failure pushes stay within the real limits: four run at once, the other
    two start as the failed ones free their slots, and every end arrives."""
    acts = [
        livebar.live_activity(f"Job {i}", total=30, notify_on=["failed"]).start() for i in range(6)
    ]
    for n in range(30):
        for i, act in enumerate(acts):
            act.update(n + 1)
            if i % 3 == 0 and n == 20:
                act.close(RuntimeError("flaky"))
        vt.advance(0.05)
    for act in acts:
        act.close()
    assert livebar.flush(30.0)
    assert 429 not in statuses(vt)
    assert all(a.stats.end_delivered for a in acts)
    assert ["Job 0 failed", "Job 3 failed"] == [p["title"] for p in vt.simulator.pushes()]
    started = [a["title"] for a in vt.simulator.activities()]
    assert ["Job 0", "Job 1", "Job 2", "Job 3", "Job 4", "Job 5"] == started
    log = list(zip(kinds(vt), vt.simulator.requests()))
    first_end = min(at(r) for kind, r in log if kind == "end")
    late_starts = [at(r) for kind, r in log if kind == "start"][4:]
    assert 2 == len(late_starts)
    assert all(t >= first_end for t in late_starts)


def test_updates_from_many_threads(sim: SimulatorHandle) -> None:
    """advance() from several threads at once is safe and the end shows the total."""
    with livebar.live_activity("Fan-out", total=4000, **opts(sim)) as act:

        def work() -> None:
            for _ in range(1000):
                act.advance()

        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert 4000 == act.count
    assert act.wait(5.0)
    assert 100 == only_activity(sim)["displayed"]["percentage"]


def test_steps_can_change_mid_run(sim: SimulatorHandle) -> None:
    """set_steps() grows the bar; the end shows the new count, and the steps really done (3 of
    4: a bar the job did not reach is never shown full)."""
    with livebar.live_activity("Migrate", steps=2, **opts(sim)) as act:
        act.advance()
        act.set_steps(4)
        act.advance(2)
    assert act.wait(5.0)
    shown = only_activity(sim)["displayed"]
    assert (3, 4) == (shown["current_step"], shown["number_of_steps"])
    assert shown["subtitle"].startswith("Done in")


def test_stream_lifecycle(sim: SimulatorHandle) -> None:
    """stream_key= uses PUT to start and update and DELETE to end."""
    with livebar.live_activity("Reindex", total=3, stream_key="reindex-1", **opts(sim)) as act:
        act.update(3)
    assert act.wait(5.0)
    methods = [r["method"] for r in sim.requests()]
    assert "PUT" == methods[0]
    assert "DELETE" == methods[-1]


def test_decorator_runs_each_call_in_a_fresh_activity(sim: SimulatorHandle) -> None:
    """Each call of a decorated function is its own activity; its result comes back."""

    @livebar.live_activity("Nightly", steps=2, **opts(sim))
    def etl(x: int) -> int:
        act = livebar.current_activity()
        assert act is not None
        act.advance()
        return x * 2

    assert 4 == etl(2)
    assert 6 == etl(3)
    assert _dispatch.flush(5.0)
    assert 2 == len(sim.activities())


@pytest.mark.anyio
async def test_async_with_and_async_decorator(sim: SimulatorHandle) -> None:
    """`async with` and decorated coroutines work on asyncio and trio without blocking the loop."""

    @livebar.live_activity("Crawl", total=5, **opts(sim))
    async def crawl() -> str:
        act = livebar.current_activity()
        assert act is not None
        act.update(5)
        return "ok"

    assert "ok" == await crawl()
    async with livebar.live_activity("Fetch", total=2, **opts(sim)) as act:
        act.update(2)
    assert _dispatch.flush(5.0)
    assert ["ended", "ended"] == [a["state"] for a in sim.activities()]


def test_bad_key_stops_mirroring_with_one_log_line(
    vt: VirtualTime, caplog: pytest.LogCaptureFixture
) -> None:
    """A 401 is logged once, never retried in a loop, and the job carries on."""
    caplog.set_level(logging.ERROR, logger="livebar")
    with livebar.live_activity("Job", total=10, api_key="ask_wrong") as act:
        for i in range(10):
            act.update(i + 1)
            vt.advance(0.05)
    assert not act.wait(2.0)
    assert [401] == statuses(vt)
    refused = [r for r in caplog.records if "refused" in r.getMessage()]
    assert 1 == len(refused)
    assert "ask_wrong" not in caplog.text
    assert 1 == act.stats.dropped


def test_no_key_warns_once_and_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a key the job runs with mirroring off and one warning."""
    monkeypatch.delenv("ACTIVITYSMITH_API_KEY", raising=False)
    monkeypatch.delenv("LIVEBAR_DISABLE", raising=False)
    with livebar.live_activity("Offline", total=3) as act:
        act.update(3)
    assert not act.enabled
    assert act.closed


def test_disable_is_silent(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """LIVEBAR_DISABLE=1 turns mirroring off without a word."""
    monkeypatch.setenv("LIVEBAR_DISABLE", "1")
    monkeypatch.setenv("ACTIVITYSMITH_API_KEY", "ask_x")
    with livebar.live_activity("Quiet") as act:
        pass
    assert not act.enabled
    assert "" == caplog.text


def test_activity_limit_delivers_the_outcome_as_a_push() -> None:
    """When the account's slots are full, the job runs and its outcome arrives as a push."""
    budgets = Budgets(min_update_gap=0.05, activity_limit_initial=0.2)
    with virtual_time(budgets=budgets, max_activities=1) as vt:
        with livebar.live_activity("Holder") as holder:
            vt.advance(0.3)
            with livebar.live_activity("Squeezed", total=1) as act:
                vt.advance(0.5)
                act.update(1)
        assert act.wait(5.0)
        assert holder.wait(5.0)
        assert act.stats.delivered_by_push
        assert ["Squeezed finished"] == [p["title"] for p in vt.simulator.pushes()]
        assert ["Holder"] == [a["title"] for a in vt.simulator.activities()]
        refused = [r for r in vt.simulator.requests() if r["status"] == 429]
        assert refused
        assert all("limit" in r["response"] for r in refused)


def test_bad_input_is_refused_before_anything_is_sent(sim: SimulatorHandle) -> None:
    """A wrong colour or step count raises a ValueError naming the field."""
    with pytest.raises(ValueError, match="color"):
        livebar.live_activity("X", color="pink", **opts(sim))
    with pytest.raises(ValueError, match="steps"):
        livebar.live_activity("X", steps=0, **opts(sim))
    assert [] == sim.requests()


EXIT_SCRIPT = """
import sys, time, livebar
act = livebar.live_activity("Left open", total=10)
act.start()
act.update(10)
{tail}
"""


def run_script(sim: SimulatorHandle, tail: str, extra_env: dict[str, str] | None = None) -> Any:
    import subprocess

    env = {
        "ACTIVITYSMITH_API_KEY": sim.api_key,
        "ACTIVITYSMITH_BASE_URL": sim.url,
        "PATH": "/usr/bin:/bin",
        "LIVEBAR_LEDGER": os.environ["LIVEBAR_LEDGER"],  # the run's own (conftest), not ~/.cache
        "LIVEBAR_COURIER": "0",
        **(extra_env or {}),
    }
    return subprocess.run(
        [sys.executable, "-c", EXIT_SCRIPT.format(tail=tail)],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_interpreter_exit_ends_what_is_left_open(sim: SimulatorHandle) -> None:
    """An activity never closed is ended by atexit, showing its real progress."""
    proc = run_script(sim, "")
    assert 0 == proc.returncode, proc.stderr
    activity = only_activity(sim)
    assert "ended" == activity["state"]
    assert 100 == activity["displayed"]["percentage"]


def test_uncaught_exception_at_exit_marks_failed(sim: SimulatorHandle) -> None:
    """An exception that kills the program ends the open activity as failed."""
    proc = run_script(sim, "raise RuntimeError('crashed')")
    assert 1 == proc.returncode
    assert "RuntimeError: crashed" in only_activity(sim)["displayed"]["subtitle"]


def test_sigterm_is_cancelled(sim: SimulatorHandle) -> None:
    """SIGTERM unwinds `with` blocks: the phone says Cancelled; the exit code is 143."""
    tail = (
        "import os, signal\n"
        "with livebar.live_activity('Served', total=5) as b:\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    time.sleep(5)\n"
    )
    proc = run_script(sim, tail)
    assert 143 == proc.returncode
    served = [a for a in sim.activities() if a["title"] == "Served"]
    assert served[0]["displayed"]["subtitle"].startswith("Cancelled")


def test_rate_limit_429_backs_off_and_delivers_the_latest_state(vt: VirtualTime) -> None:
    """After a 429 with Retry-After the sender waits exactly that long, then the end arrives."""
    with livebar.live_activity("Sync", total=10) as act:
        vt.advance(0.3)
        vt.simulator.fail_next(2, status=429, retry_after=0.5)
        act.update(5)
        vt.advance(0.3)
        act.update(10)
    assert act.wait(10.0)
    assert 100 == only_activity(vt)["displayed"]["percentage"]
    log = vt.simulator.requests()
    refused = [r for r in log if r["status"] == 429]
    assert [200, 429, 429, 200] == statuses(vt)
    assert ["start", "update", "end", "end"] == kinds(vt)
    assert 2 == act.stats.retried
    assert 0.5 == pytest.approx(at(log[2]) - at(log[1]))
    assert 0.5 == pytest.approx(at(log[3]) - at(refused[-1]))


def test_nested_stages_name_the_path(sim: SimulatorHandle) -> None:
    """An inner stage shows as the path of stage names and does not count as a step."""
    with livebar.live_activity("Build", steps=["compile", "link"], **opts(sim)) as act:
        with act.stage("compile"):
            with act.stage("parser"):
                inner = act.content_state()
        outer_done = act.content_state()
    assert "compile \u203a parser" == inner.subtitle
    assert (0, 2) == (inner.current_step, inner.number_of_steps)
    assert 1 == outer_done.current_step
    assert act.wait(5.0)


def test_undelivered_end_is_reported_at_exit(sim: SimulatorHandle) -> None:
    """With the API gone for good, exit waits the flush deadline and names what was lost."""
    sim.down()
    proc = run_script(sim, "", extra_env={"LIVEBAR_FLUSH_TIMEOUT": "1"})
    assert 0 == proc.returncode
    # The served simulator's outage closes each connection unanswered: the end may have
    # arrived, so it is named as sent but unconfirmed.
    assert "gave up after 1.0s; " in proc.stderr
    assert "Left open" in proc.stderr
    assert sim.api_key not in proc.stderr


FORK_TAIL = """
import os
child = os.fork()
if child == 0:
    with livebar.live_activity("Child", total=1) as c:
        c.update(1)
    sys.exit(0)
os.waitpid(child, 0)
import json, urllib.request
root = os.environ["ACTIVITYSMITH_BASE_URL"].rsplit("/api", 1)[0]
with urllib.request.urlopen(root + "/_sim/activities") as answer:
    print(json.dumps({a["title"]: a["state"] for a in json.load(answer)}))
"""


def test_fork_child_has_its_own_sender_and_leaves_the_parent_alone(sim: SimulatorHandle) -> None:
    """A forked child sends its own activity and never ends the parent's: once the child has
    exited, the parent's activity is still open; the parent's own exit ends it. (Ends are
    counted per activity, not per request: a DELETE whose answer was lost is sent again.)"""
    proc = run_script(sim, FORK_TAIL)
    assert 0 == proc.returncode, proc.stderr
    after_child = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "ended" == after_child["Child"]
    assert "ended" != after_child.get("Left open")
    titles = sorted(a["title"] for a in sim.activities())
    assert ["Child", "Left open"] == titles
    assert all("ended" == a["state"] for a in sim.activities())


def test_failure_in_a_nested_stage_names_the_whole_path(sim: SimulatorHandle) -> None:
    """An exception inside an inner stage says where, outer and inner."""
    with pytest.raises(KeyError):
        with livebar.live_activity("Build", steps=["compile", "link"], **opts(sim)) as act:
            with act.stage("compile"), act.stage("parser"):
                raise KeyError("token")
    assert act.ending is not None
    assert act.ending.subtitle.startswith("Failed at compile \u203a parser: KeyError")


def test_a_stage_inside_an_except_block_still_completes(sim: SimulatorHandle) -> None:
    """A stage run while handling an earlier exception is not mistaken for a failed one."""
    with livebar.live_activity("Retry", steps=["try", "fallback"], **opts(sim)) as act:
        try:
            with act.stage("try"):
                raise OSError("first attempt")
        except OSError:
            with act.stage("fallback"):
                pass
        assert 2 == act.current_step


def test_crash_in_a_bare_loop_right_at_the_start_is_failed(sim: SimulatorHandle) -> None:
    """An exception escaping a one-liner loop at once still ends it failed, not stopped."""
    tail = "for i in livebar.track(range(10), title='Crash'):\n    raise RuntimeError('boom')\n"
    for _ in range(3):
        sim.reset()
        proc = run_script(sim, tail)
        assert 1 == proc.returncode
        crash = [a for a in sim.activities() if a["title"] == "Crash"]
        assert crash[0]["displayed"]["subtitle"].startswith("Failed: RuntimeError: boom")


def test_empty_inputs_start_and_end_done(sim: SimulatorHandle) -> None:
    """track([]) and a generator that yields nothing both run, and end done."""
    assert [] == list(livebar.track([], title="Nothing", **opts(sim)))
    assert [] == list(livebar.track(iter(()), title="Still nothing", **opts(sim)))
    assert _dispatch.flush(5.0)
    assert 2 == len(sim.activities())
    for activity in sim.activities():
        assert activity["displayed"]["subtitle"].startswith("Done in")


@pytest.mark.anyio
async def test_atrack_counts_an_async_iterable(sim: SimulatorHandle) -> None:
    """`async for` over livebar.atrack ends done with the count, on asyncio and trio."""

    async def pages() -> Any:
        for i in range(25):
            yield i

    seen = [page async for page in livebar.atrack(pages(), title="Pages", **opts(sim))]
    assert list(range(25)) == seen
    assert _dispatch.flush(5.0)
    shown = only_activity(sim)["displayed"]
    assert {"label": "Done", "value": 25} == shown["metrics"][0]
    assert shown["subtitle"].startswith("Done in")


@pytest.mark.parametrize(("code", "outcome"), [(0, "done"), (None, "done"), (3, "failed")])
def test_sys_exit_is_the_jobs_own_status(
    sim: SimulatorHandle, code: int | None, outcome: str
) -> None:
    """sys.exit(0) inside the block ends done; a non-zero code ends failed."""
    with pytest.raises(SystemExit):
        with livebar.live_activity("Script", **opts(sim)) as act:
            sys.exit(code)
    assert outcome == act.outcome


def test_track_counts_items_even_when_the_total_says_otherwise(sim: SimulatorHandle) -> None:
    """An explicit total sets the bar's length; the count is still the items taken."""
    with livebar.live_activity("Partial", **opts(sim)) as act:
        for i in act.track(list(range(50)), total=200):
            if i == 10:
                assert 10 == act.count
        assert (50, 0.25) == (act.count, act.fraction())
    assert act.wait(5.0)
    assert "done" == act.outcome  # the block finished: the job is done, whatever the estimate


def test_configure_mid_job_keeps_open_activities_mirrored(sim: SimulatorHandle) -> None:
    """New budgets apply to the running sender; an activity open across the change still ends."""
    with livebar.live_activity("Across", total=2, **opts(sim)) as act:
        act.update(1)
        livebar.configure(requests_per_minute=30)
        act.update(2)
    assert act.wait(5.0)
    assert "ended" == only_activity(sim)["state"]


def test_rejected_updates_are_counted_and_logged_once(
    vt: VirtualTime, caplog: pytest.LogCaptureFixture
) -> None:
    """Updates the server refuses (400) are dropped, counted, and logged a single time."""
    caplog.set_level(logging.WARNING, logger="livebar")
    with livebar.live_activity("Refused", total=10) as act:
        vt.advance(0.3)
        vt.simulator.fail_next(3, status=400)
        for n in (3, 6, 9):
            act.update(n)
            vt.advance(0.4)
    assert act.wait(5.0)
    assert 3 == act.stats.dropped
    assert [200, 400, 400, 400, 200] == statuses(vt)
    assert ["start", "update", "update", "update", "end"] == kinds(vt)
    assert 1 == sum("request dropped" in r.getMessage() for r in caplog.records)
    assert act.stats.end_delivered


def test_a_start_refused_with_429_is_started_again(vt: VirtualTime) -> None:
    """The account 429 on the very first request delays the start by Retry-After; it happens."""
    vt.simulator.fail_next(1, status=429, retry_after=0.3)
    with livebar.live_activity("Patient", total=1) as act:
        vt.advance(1.0)
        act.update(1)
    assert act.wait(10.0)
    log = vt.simulator.requests()
    assert [429, 200, 200] == statuses(vt)
    assert ["start", "start", "end"] == kinds(vt)
    assert 0.3 == pytest.approx(at(log[1]) - at(log[0]))
    assert "ended" == only_activity(vt)["state"]


def test_pushes_after_a_refused_key_do_not_hold_up_the_exit(sim: SimulatorHandle) -> None:
    """Once the key is refused, later pushes are dropped at once; flush does not wait for them,
    and says (False) that they were not delivered."""
    where = {"api_key": "ask_wrong", "base_url": sim.url}
    with livebar.live_activity("Refused", **where):
        pass
    assert not livebar.flush(5.0)  # the refused activity's end was never delivered
    assert livebar.push("after", **where)
    started = time.monotonic()
    assert not livebar.flush(5.0)
    assert time.monotonic() - started < 1.0
    assert 1 == len(sim.requests())
