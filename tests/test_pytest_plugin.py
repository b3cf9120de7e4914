"""The pytest plugin: ``pytest --livebar`` puts a session on the phone, and nothing else changes.

Each test runs an inner pytest session with ``pytester`` against the ``sim`` simulator (the
environment points livebar at it) and asserts what the phone showed.
"""

from __future__ import annotations

import os
import re
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

import livebar

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent

PASSING = """
import pytest

@pytest.mark.parametrize("i", range(12))
def test_ok(i):
    assert i >= 0

@pytest.mark.skip(reason="not today")
def test_skipped():
    pass
"""

FAILING = """
def test_a():
    pass

def test_b():
    assert 1 == 2

def test_c():
    pass

def test_d():
    raise ValueError("boom")
"""

INTERRUPTED = """
def test_first():
    pass

def test_second():
    raise KeyboardInterrupt

def test_never_run():
    pass
"""


def registered() -> bool:
    """Whether this environment installed livebar with its ``pytest11`` entry point."""
    points: Any = metadata.entry_points()
    group = (
        points.select(group="pytest11") if hasattr(points, "select") else points.get("pytest11", [])
    )
    return any(ep.name == "livebar" and ep.value == "livebar.pytest_plugin" for ep in group)


PLUGIN = [] if registered() else ["-p", "livebar.pytest_plugin"]
"""Installed (CI, a user's venv) the entry point loads it; a source checkout names it."""


@pytest.fixture
def phone(sim: Any, monkeypatch: pytest.MonkeyPatch, pytester: pytest.Pytester) -> Any:
    """``sim``, with the inner sessions pointed at it and no plugin asked for by default."""
    for name, value in sim.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("LIVEBAR_PYTEST", raising=False)
    # A subprocess (xdist) imports the livebar under test, wherever it was imported from.
    source = str(Path(livebar.__file__).resolve().parents[1])
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [source, os.environ.get("PYTHONPATH")]))
    )
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider\n")
    return sim


def shown(sim: Any) -> dict[str, Any]:
    """What the phone shows at the end for the session's one activity."""
    livebar.flush(10)
    [activity] = sim.activities()
    displayed: dict[str, Any] = activity["displayed"]
    return displayed


def test_a_passing_session_is_done_at_the_collected_total(
    phone: Any, pytester: pytest.Pytester
) -> None:
    """13 collected, 12 passed, 1 skipped: "13 / 13", Done; the exit status is untouched."""
    pytester.makepyfile(test_suite=PASSING)
    result = pytester.runpytest("--livebar", *PLUGIN)
    result.assert_outcomes(passed=12, skipped=1)
    displayed = shown(phone)
    assert ("Tests", 13, 13) == (
        displayed["title"],
        displayed["value"],
        displayed["upper_limit"],
    )
    assert displayed["subtitle"].startswith("Done in")


def test_a_failing_session_names_the_count_and_the_first_failure(
    phone: Any, pytester: pytest.Pytester
) -> None:
    """2 of 4 fail: red, "Failed: 2 of 4 · first: test_suite.py::test_b", exit status 1."""
    pytester.makepyfile(test_suite=FAILING)
    result = pytester.runpytest("--livebar", "--livebar-title", "Unit tests", *PLUGIN)
    assert pytest.ExitCode.TESTS_FAILED == result.ret
    displayed = shown(phone)
    assert ("Unit tests", "Failed: 2 of 4 \u00b7 first: test_suite.py::test_b", "red") == (
        displayed["title"],
        displayed["subtitle"],
        displayed["color"],
    )


def test_ctrl_c_ends_the_session_cancelled(phone: Any, pytester: pytest.Pytester) -> None:
    """A KeyboardInterrupt in the second test: Cancelled, at 1 of 3; pytest's exit status 2."""
    pytester.makepyfile(test_suite=INTERRUPTED)
    result = pytester.runpytest("--livebar", *PLUGIN, no_reraise_ctrlc=True)
    assert pytest.ExitCode.INTERRUPTED == result.ret
    displayed = shown(phone)
    assert displayed["subtitle"].startswith("Cancelled")
    assert (1, 3) == (displayed["value"], displayed["upper_limit"])


def test_the_environment_variable_turns_it_on(
    phone: Any, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """LIVEBAR_PYTEST=1 does what --livebar does."""
    monkeypatch.setenv("LIVEBAR_PYTEST", "1")
    pytester.makepyfile(test_suite=PASSING)
    pytester.runpytest(*PLUGIN).assert_outcomes(passed=12, skipped=1)
    assert 13 == shown(phone)["value"]


def test_without_being_asked_it_sends_nothing_and_prints_the_same(
    phone: Any, pytester: pytest.Pytester
) -> None:
    """Not asked: no request, and the output is the same as with the plugin blocked."""
    pytester.makepyfile(test_suite=FAILING)
    with_plugin = pytester.runpytest(*PLUGIN)
    without = pytester.runpytest("-p", "no:livebar", "-p", "no:livebar.pytest_plugin")
    assert (with_plugin.ret, summary(with_plugin)) == (without.ret, summary(without))
    livebar.flush(10)
    assert [] == phone.requests()


def test_asked_it_prints_nothing_of_its_own(phone: Any, pytester: pytest.Pytester) -> None:
    """--livebar changes neither the exit status nor a line of the report."""
    pytester.makepyfile(test_suite=FAILING)
    asked = pytester.runpytest("--livebar", *PLUGIN)
    plain = pytester.runpytest(*PLUGIN)
    assert (plain.ret, report_lines(plain)) == (asked.ret, report_lines(asked))


def test_under_xdist_only_the_controller_mirrors(phone: Any, pytester: pytest.Pytester) -> None:
    """-n 2: one activity (the workers send nothing), counting every worker's tests."""
    pytest.importorskip("xdist")
    pytester.makepyfile(test_suite=FAILING, test_more=PASSING)
    result = pytester.runpytest_subprocess("--livebar", "-n", "2", *PLUGIN)
    assert pytest.ExitCode.TESTS_FAILED == result.ret
    displayed = shown(phone)
    assert (17, 17) == (displayed["value"], displayed["upper_limit"])
    assert re.fullmatch(r"Failed: 2 of 17 · first: test_suite.py::test_[bd]", displayed["subtitle"])
    starts = [r for r in phone.requests() if r["method"] == "PUT" and r["status"] == 200]
    assert 1 == len({r["path"] for r in starts})


def test_the_entry_point_is_declared() -> None:
    """pyproject.toml registers the plugin under pytest11 as ``livebar``."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    section = text.split("[project.entry-points.pytest11]", 1)[1].split("[", 1)[0]
    assert 'livebar = "livebar.pytest_plugin"' in section


def test_loading_the_plugin_imports_no_engine() -> None:
    """Loaded but not asked, the plugin costs an import of itself: no httpx, no engine."""
    import subprocess

    code = (
        "import sys, livebar.pytest_plugin; "
        "print(sorted(m for m in sys.modules if m.startswith(('httpx', 'livebar._engine', "
        "'livebar._activity', 'tqdm'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "[]" == out.stdout.strip()


def summary(result: pytest.RunResult) -> str:
    return result.outlines[-1].split(" in ")[0]


def report_lines(result: pytest.RunResult) -> list[str]:
    """The report without timings and the header's plugin list."""
    return [
        re.sub(r" in [\d.]+s", "", line)
        for line in result.outlines
        if not line.startswith(("plugins:", "rootdir:", "configfile:"))
    ]
