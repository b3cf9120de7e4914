"""The engine's seams: one-way imports, one option list, what the decorator wraps, configuration
resolved once, and flush() that waits without polling."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

import livebar
from livebar._engine import runtime as _dispatch
from livebar._engine.runtime import runtime
from livebar._job.options import ActivityOptions, SharedOptions, option_names
from livebar.simulator import SimulatorHandle
from livebar.testing import VirtualTime, virtual_time

SRC = Path(livebar.__file__).resolve().parent


def _imports_of(path: Path) -> set[str]:
    """The ``livebar`` modules ``path`` imports, at run time or for type checking."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "livebar":
                found.update(f"livebar.{alias.name}" for alias in node.names)
            elif node.module.startswith("livebar."):
                found.add(node.module)
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("livebar."))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_livebar_has_no_import_cycle() -> None:
    """No module of livebar imports (directly or through others) a module that imports it back."""
    graph = {
        _module_name(path): {m for m in _imports_of(path) if m != _module_name(path)}
        for path in SRC.rglob("*.py")
    }
    modules = set(graph)
    for name in graph:
        graph[name] = {m for m in graph[name] if m in modules and m != "livebar"}
    cycles = []
    for start in graph:
        stack = [(start, [start])]
        seen = set()
        while stack:
            node, path = stack.pop()
            for nxt in graph.get(node, ()):
                if nxt == start:
                    cycles.append(" -> ".join([*path, nxt]))
                elif nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, [*path, nxt]))
    assert [] == cycles


def test_the_activity_and_the_dispatcher_meet_only_at_the_spec_and_the_sample() -> None:
    """The dispatcher imports no activity code; the activity imports the dispatcher's API."""
    assert "livebar._activity" not in _imports_of(SRC / "_engine" / "dispatcher.py")
    assert "livebar._process.hooks" not in _imports_of(SRC / "_engine" / "dispatcher.py")
    assert "livebar._engine.runtime" in _imports_of(SRC / "_activity.py")


def test_the_option_list_is_written_once() -> None:
    """live_activity, track and tqdm take the options of one TypedDict; a typo is refused."""
    assert {"total", "show_count", "disable"} == option_names(ActivityOptions) - option_names(
        SharedOptions
    )
    with pytest.raises(livebar.ValidationError) as caught:
        livebar.live_activity("Typo", colour="red")  # type: ignore[call-arg]
    assert "colour" == caught.value.field
    with pytest.raises(livebar.ValidationError) as caught:
        livebar.track([1], title="Typo", totl=3)  # type: ignore[call-arg]
    assert "totl" == caught.value.field


def test_mypy_catches_a_mistyped_option(tmp_path: Path) -> None:
    """Every entry point exposes the options to mypy: a typo fails type checking, not the job."""
    script = tmp_path / "job.py"
    script.write_text(
        textwrap.dedent(
            """
            import livebar
            from livebar.contrib.concurrent import thread_map
            livebar.live_activity("Deploy", stepz=["a"])
            livebar.track([1, 2], title="Loop", totl=2)
            livebar.tqdm([1, 2], colr="red")
            livebar.push("Backup done", sond="ping")
            thread_map(str, [1, 2], subtitel="x")
            livebar.pandas(colr="red")
            livebar.live_activity("Ok", steps=["a"], total=3.0, color="red")
            livebar.push("Ok", subtitle="fine", badge=3)
            thread_map(str, [1, 2], subtitle="ok", total=2)
            """
        )
    )
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(script)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    errors = [line for line in proc.stdout.splitlines() if ": error:" in line]
    assert [4, 5, 6, 7, 8, 9] == sorted({int(line.split(":")[1]) for line in errors}), proc.stdout


def test_the_integrations_check_their_options_when_made() -> None:
    """A typo in a callback's options fails at the call that gave it, naming the option; a
    push with an option it does not know raises ValidationError, not TypeError."""
    from livebar._activity import checked_options

    with pytest.raises(livebar.ValidationError) as caught:
        checked_options({"subtitel": "x"})
    assert "subtitel" == caught.value.field
    with pytest.raises(livebar.ValidationError) as caught:
        checked_options({"total": 3})  # the framework knows the total
    assert "total" == caught.value.field
    with pytest.raises(livebar.ValidationError) as caught:
        livebar.push("Backup done", nonsense=0, disable=True)  # type: ignore[call-arg]
    assert "nonsense" == caught.value.field


def test_an_async_client_is_refused_at_construction() -> None:
    """An AsyncClient cannot be driven by the background sender: a clear error, at once."""
    client = livebar.AsyncClient(api_key="ask_test", base_url="http://127.0.0.1:1/api")
    with pytest.raises(livebar.ValidationError) as caught:
        livebar.live_activity("Async", client=client)  # type: ignore[arg-type]
    assert "client" == caught.value.field
    assert "AsyncClient" in str(caught.value)


def test_a_sync_client_of_ones_own_sends(sim: SimulatorHandle) -> None:
    """client=livebar.Client(...) is the client the engine sends with."""
    with livebar.Client(api_key=sim.api_key, base_url=sim.url) as client:
        with livebar.live_activity("Own client", client=client) as act:
            act.update(percentage=50)
        assert act.wait(5.0)
    assert ["Own client"] == [a["title"] for a in sim.activities()]


def test_a_decorated_generator_spans_its_iteration(vt: VirtualTime) -> None:
    """The activity of a decorated generator starts with the first item and ends after the last."""

    @livebar.live_activity("Rows", total=3)
    def rows() -> Iterator[int]:
        act = livebar.current_activity()
        assert act is not None
        for i in range(3):
            act.update(i + 1)
            yield i

    gen = rows()
    assert [] == vt.simulator.activities()  # nothing started before the first item is asked
    assert [0, 1, 2] == list(gen)
    assert vt.flush(5.0)
    [activity] = vt.simulator.activities()
    assert "ended" == activity["state"]
    assert 100 == activity["displayed"]["percentage"]


def test_a_decorated_generator_left_early_stops(vt: VirtualTime) -> None:
    """Closing a decorated generator early ends its activity stopped, not failed or done."""

    @livebar.live_activity("Rows", total=10)
    def rows() -> Iterator[int]:
        yield from range(10)

    gen = rows()
    next(gen)
    gen.close()
    assert vt.flush(5.0)
    [activity] = vt.simulator.activities()
    assert activity["displayed"]["subtitle"].startswith("Stopped")


@pytest.mark.anyio
async def test_a_decorated_async_generator_spans_its_iteration(vt: VirtualTime) -> None:
    """Async generators too: the activity ends when the iteration does, with its outcome."""

    @livebar.live_activity("Pages", total=2)
    async def pages() -> AsyncIterator[int]:
        yield 1
        yield 2
        raise ValueError("page 3 is broken")

    seen = []
    with pytest.raises(ValueError, match="page 3"):
        async for page in pages():
            seen.append(page)
    assert [1, 2] == seen
    assert vt.flush(5.0)
    [activity] = vt.simulator.activities()
    assert "Failed: ValueError: page 3 is broken" == activity["displayed"]["subtitle"]


def test_a_bare_decorator_takes_the_functions_name() -> None:
    """@live_activity without parentheses works and titles the activity after the function."""
    with virtual_time() as clock:

        @livebar.live_activity
        def nightly_backup() -> str:
            return "ok"

        assert "ok" == nightly_backup()
        assert clock.flush(5.0)
        assert ["nightly_backup"] == [a["title"] for a in clock.simulator.activities()]


def test_configure_resolves_only_what_it_was_given(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A bad unrelated variable does not make configure(flush_timeout=...) raise."""
    monkeypatch.setenv("LIVEBAR_REQUESTS_PER_MINUTE", "abc")
    livebar.configure(flush_timeout=1.0)
    assert 1.0 == _dispatch.flush_timeout()
    with pytest.raises(livebar.ConfigurationError) as caught:
        livebar.configure(requests_per_minute=0)
    assert "requests_per_minute" == caught.value.option
    livebar.configure(flush_timeout=5.0)


def test_a_bad_share_in_the_environment_logs_one_line_and_uses_the_default(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """LIVEBAR_REQUESTS_PER_MINUTE=abc never fails a job: the engine logs it and uses 40."""
    monkeypatch.setenv("LIVEBAR_REQUESTS_PER_MINUTE", "abc")
    monkeypatch.setattr(runtime, "budgets", None)
    monkeypatch.setattr(runtime, "warned", set())
    assert 40 == runtime.default_budgets().requests_per_window
    assert 40 == runtime.default_budgets().requests_per_window
    lines = [r for r in caplog.records if "LIVEBAR_REQUESTS_PER_MINUTE" in r.getMessage()]
    assert 1 == len(lines)


FLUSH_PROBE = """
import sys, livebar
from livebar._engine.runtime import runtime
from livebar.simulator import serve
with serve() as sim:
    where = {"api_key": sim.api_key, "base_url": sim.url}
    with livebar.live_activity("Stuck", **where) as act:
        pass
    assert act.wait(5.0)
    sim.down()
    with livebar.live_activity("Stuck", **where):
        pass
    dispatcher = runtime.engine().dispatcher
    before = dispatcher.intake.turns_started
    assert not livebar.flush(1.5)
    print(dispatcher.intake.turns_started - before)
    sim.up()
    assert livebar.flush(10.0)
"""


def test_flush_waits_without_polling() -> None:
    """While an end cannot be delivered, flush() sleeps until the engine's own next try (in a
    fresh process, so no other test's activity keeps the engine sampling)."""
    done = subprocess.run(
        [sys.executable, "-c", FLUSH_PROBE], capture_output=True, text=True, timeout=60
    )
    assert 0 == done.returncode, done.stderr
    assert int(done.stdout.strip()) <= 5  # a 50-ms poll would have made 30


@pytest.fixture
def vt() -> Iterator[VirtualTime]:
    """The real engine on a virtual clock."""
    with virtual_time() as clock:
        yield clock


def test_counts_after_the_end_do_not_change_what_the_end_shows() -> None:
    """Progress recorded after close() (a late worker, a stray thread) never moves the ending."""
    with virtual_time() as clock:
        act = livebar.live_activity("Frozen", total=10).start()
        act.update(4)
        act.close()
        act.advance(5)  # before the engine has even looked
        assert clock.flush(5.0)
        [activity] = clock.simulator.activities()
    assert 40 == activity["displayed"]["percentage"]
    assert activity["displayed"]["subtitle"].startswith("Done in")
