"""The pytest plugin: ``pytest --livebar`` (or ``LIVEBAR_PYTEST=1``) puts the session on the phone.

Registered through the ``pytest11`` entry point, so it loads in every pytest run of an
environment where livebar is installed, and does nothing unless asked: loading it imports only
this module (no livebar engine, no httpx) and adds the ``--livebar`` options. Asked, the session
is one Live Activity::

    Tests   812 / 1400   3 failed

the total from collection, a count per finished test, red from the first failure, and at the
end "Done in 4m 12s", or "Failed: 3 of 1400 · first: tests/test_x.py::test_y", or "Cancelled"
on Ctrl-C. Under pytest-xdist only the controller mirrors (it sees every worker's reports);
workers send nothing.

The plugin never changes the suite's outcome, output or exit status: every livebar call is
guarded, and a test costs one counter increment (``advance()``) and a check of its report.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import pytest

from livebar._defaults import ENV_PYTEST

if TYPE_CHECKING:
    from livebar._activity import LiveActivity

__all__ = ["ENV_PYTEST", "SessionMirror"]

DEFAULT_TITLE = "Tests"
_TRUE = ("1", "true", "yes", "on")
_PLUGIN_NAME = "livebar-session"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("livebar", "mirror the session to an iPhone Live Activity")
    group.addoption(
        "--livebar",
        action="store_true",
        default=False,
        help=f"show this test session as a Live Activity (also {ENV_PYTEST}=1)",
    )
    group.addoption(
        "--livebar-title",
        default=None,
        metavar="TITLE",
        help=f"the Live Activity's title (default: {DEFAULT_TITLE})",
    )


def pytest_configure(config: pytest.Config) -> None:
    if not asked(config) or hasattr(config, "workerinput"):  # an xdist worker: the controller
        return  # mirrors, from the reports it receives
    title = config.getoption("livebar_title") or DEFAULT_TITLE
    config.pluginmanager.register(SessionMirror(title), _PLUGIN_NAME)


def asked(config: pytest.Config) -> bool:
    """``--livebar`` on the command line, or ``LIVEBAR_PYTEST=1`` in the environment."""
    if config.getoption("livebar", default=False):
        return True
    return os.environ.get(ENV_PYTEST, "").strip().lower() in _TRUE


class SessionMirror:
    """The session's one activity. Every livebar call is guarded: the suite comes first."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.activity: LiveActivity | None = None
        self.total: int | None = None
        self.failed: list[str] = []
        self._failed_ids: set[str] = set()
        self.errors = 0
        """Collection errors (a module that does not import)."""
        self.interrupted = False
        self.broken = False

    # -- what pytest tells us -------------------------------------------------------------------

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self._begin(len(session.items))

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        """xdist: every worker collects the whole suite; the first to finish gives the total."""
        if self.total is None:
            self._begin(len(ids))

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.errors += 1
            self._note_failure(report.nodeid or str(report.fspath))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed and report.nodeid not in self._failed_ids:
            self._note_failure(report.nodeid)
        if report.when == "teardown" and self.activity is not None:
            self.activity.advance()  # a C counter: nothing else per test

    def pytest_keyboard_interrupt(self, excinfo: Any) -> None:
        self.interrupted = True

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self._guarded(self._end, int(exitstatus))

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        activity = self.activity
        if activity is not None:
            self._guarded(lambda: activity.wait())  # bounded by the flush deadline

    # -- the card ---------------------------------------------------------------------------------

    def _begin(self, total: int) -> None:
        self.total = total
        self._guarded(self._start, total)

    def _start(self, total: int) -> None:
        import livebar

        activity = livebar.live_activity(self.title, total=total or None, show_count=True)
        activity.start()
        self.activity = activity
        if self.failed:
            self._show_failures()

    def _note_failure(self, nodeid: str) -> None:
        self._failed_ids.add(nodeid)
        self.failed.append(nodeid)
        if self.activity is not None:
            self._guarded(self._show_failures)

    def _show_failures(self) -> None:
        assert self.activity is not None
        self.activity.update(subtitle=f"{len(self.failed)} failed", color="red")

    def _end(self, exitstatus: int) -> None:
        if self.activity is None:
            self._start(self.total or 0)
        activity = self.activity
        assert activity is not None
        if self.interrupted:
            activity.close(outcome="cancelled")
        elif self.failed or exitstatus not in (
            pytest.ExitCode.OK,
            pytest.ExitCode.NO_TESTS_COLLECTED,
        ):
            activity.close(outcome="failed", subtitle=self._failure_text(exitstatus))
        else:
            activity.close()

    def _failure_text(self, exitstatus: int) -> str:
        if not self.failed:
            return f"Failed: pytest exit status {exitstatus}"
        first = self.failed[0]
        if self.errors and len(self.failed) == self.errors:
            count = f"{self.errors} error{'s' * (self.errors > 1)} during collection"
        else:
            count = f"{len(self.failed)} of {self.total or len(self.failed)}"
        return f"Failed: {count} \u00b7 first: {first}"

    def _guarded(self, fn: Any, *args: Any) -> None:
        """Run a livebar call; after one unexpected error, stop mirroring (the suite goes on)."""
        if self.broken:
            return
        try:
            fn(*args)
        except Exception:
            self.broken = True
