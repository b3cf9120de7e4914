"""The process hooks that make the end arrive, whichever way the process goes.

* A registry of this process's mirrored activities whose ending is not settled yet.
* ``atexit``: ends what is still open (``failed`` with an uncaught exception, ``cancelled``
  after SIGTERM, ``done`` when the bar is full, else ``stopped``) and waits up to the flush
  deadline; Ctrl-C or SIGTERM during that wait stops it quietly.
* ``sys.excepthook`` and ``threading.excepthook``: an exception that escapes corrects the
  ending of a bare loop it left (whose exception livebar could not see) before it is sent.
* SIGTERM (``docker stop``, Kubernetes): taken by ``livebar._process.signals`` at import;
  ``on_sigterm`` decides how open jobs end. A handler the program installed itself is
  chained, never replaced.
* ``fork``: the child starts with no activities of its own.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any, Callable, Protocol

from livebar._engine import runtime as _dispatch
from livebar._job.endings import Outcome, Terminated
from livebar._process import signals as _signals


class LiveActivity(Protocol):
    """What the hooks need of an activity (``livebar._activity.LiveActivity``)."""

    _clock: Callable[[], float]
    _sealed: bool

    @property
    def closed(self) -> bool: ...

    def close(self, exc: BaseException | None = None, *, outcome: str | None = None) -> None: ...

    def correct(self, exc: BaseException) -> bool: ...

    def fraction(self) -> float | None: ...


__all__ = [
    "handling_sigterm",
    "forget_engine",
    "install",
    "on_sigterm",
    "report_uncaught",
    "terminating",
    "track_open",
]

log = logging.getLogger("livebar")

_lock = threading.Lock()
_open: dict[int, tuple[LiveActivity, int]] = {}
"""id(activity) -> (activity, the thread that started it), until its ending is settled."""
_uncaught: BaseException | None = None
_installed = False
_exiting = False
"""True while the exit waits for the last deliveries (a signal then stops the wait)."""


def track_open(activity: LiveActivity) -> None:
    """Register a mirrored activity that has started; installs the hooks on first use."""
    install()
    with _lock:
        for key, (other, _thread) in list(_open.items()):
            if other._sealed:  # its story is over: the engine has its ending
                del _open[key]
        _open[id(activity)] = (activity, threading.get_ident())


def forget_engine(clock: Callable[[], float]) -> None:
    """Drop the activities of an engine that is going away (``virtual_time()`` leaving)."""
    with _lock:
        for key, (activity, _thread) in list(_open.items()):
            if activity._clock == clock:
                del _open[key]


def terminating() -> bool:
    """True once this process received SIGTERM (a job that stops now was cancelled)."""
    return _signals.terminating()


def install() -> None:
    """Install atexit, the exception hooks and (from the main thread) SIGTERM, once."""
    global _installed
    with _lock:
        if _installed:
            return
        _installed = True
    atexit.register(_at_exit)
    previous = sys.excepthook

    def excepthook(tp: type[BaseException], exc: BaseException, tb: Any) -> None:
        report_uncaught(exc)
        previous(tp, exc, tb)

    sys.excepthook = excepthook
    previous_thread_hook = threading.excepthook

    def thread_excepthook(args: Any) -> None:
        if args.exc_value is not None:
            report_uncaught(args.exc_value)
        previous_thread_hook(args)

    threading.excepthook = thread_excepthook
    if "IPython" in sys.modules:  # IPython never calls sys.excepthook
        from livebar._integrations.ipython import watch_running_shell

        watch_running_shell(_activities)
    _signals.prepare()  # in case `import livebar` happened outside the main thread


def report_uncaught(exc: BaseException) -> None:
    """An exception escaped the program (or a thread, or a notebook cell): correct the bare
    loops it left, whose exception livebar could not see, before their ends go out."""
    global _uncaught
    if isinstance(exc, SystemExit) and not isinstance(exc, Terminated):
        return
    _uncaught = exc
    for activity in _activities():
        activity.correct(exc)


def _activities() -> list[LiveActivity]:
    with _lock:
        return [a for a, _ in _open.values()]


# -- SIGTERM ------------------------------------------------------------------------------------


def on_sigterm(signum: int, frame: Any, previous: Any) -> bool:
    """SIGTERM arrived (``livebar._process.signals`` took it): True when handled here.

    A handler the program installed before livebar decides what happens (livebar only noted
    that the job was asked to stop, so it ends ``cancelled``): False. Otherwise, when an
    activity was started in the main thread, raise ``Terminated`` there, so ``with`` blocks
    unwind ("Cancelled at <stage>") and ``atexit`` delivers the ends; when only worker threads
    have activities, end them as cancelled, flush (bounded) and die of the signal as the
    default would; with none open, leave it to the default.
    """
    if _exiting:  # the exit is delivering the last updates: stop waiting, and exit
        raise Terminated(128 + signum)
    if callable(previous):
        return False
    main = threading.main_thread().ident
    opened = [(a, thread) for a, thread in list(_open.values()) if not a.closed]
    if not opened:
        return False
    if any(thread == main for _, thread in opened):
        raise Terminated(128 + signum)
    for activity, _thread in opened:
        activity.close(outcome=Outcome.CANCELLED.value)
    with contextlib.suppress(BaseException):
        _dispatch.flush(_dispatch.flush_timeout())
    _signals.die_of(signum)
    return True


@contextlib.contextmanager
def handling_sigterm() -> Iterator[None]:
    """Within the block, SIGTERM raises ``Terminated`` in the main thread (the CLI's pipe mode
    and any other caller that owns the process); the previous handler is restored after."""

    def raise_terminated(signum: int, frame: Any) -> None:
        _signals.note_terminated()
        raise Terminated(128 + signum)

    try:
        previous: Callable[..., Any] | int | None = signal.signal(signal.SIGTERM, raise_terminated)
    except (ValueError, OSError):
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# -- exit and fork ------------------------------------------------------------------------------


def _at_exit() -> None:
    if not _dispatch.running():
        return
    for activity in _activities():
        if activity.closed:
            continue
        if _uncaught is not None:
            activity.close(_uncaught)
        elif _signals.terminating():
            activity.close(outcome=Outcome.CANCELLED.value)
        else:
            fraction = activity.fraction()
            full = fraction is None or fraction >= 1
            activity.close(outcome=(Outcome.DONE if full else Outcome.STOPPED).value)
    global _exiting
    timeout = _dispatch.flush_timeout()
    clock = _dispatch.clock()
    started = clock()
    waited = timeout  # or an earlier flush waited it, and this one does not wait again
    _exiting = True
    try:
        delivered = _dispatch.flush(timeout, again=False)
    except (KeyboardInterrupt, SystemExit):  # a second Ctrl-C or SIGTERM: stop waiting, quietly
        delivered = False
        waited = min(clock() - started, timeout)
        log.warning("livebar: interrupted while delivering the last updates")
    finally:
        _exiting = False
    if delivered:
        _dispatch.close()  # nothing of ours is left on the phone: nothing for others to reap
    else:
        _dispatch.report_undelivered(waited)
    if isinstance(_uncaught, KeyboardInterrupt):
        _exit_as_interrupted()


def _exit_as_interrupted() -> None:
    """Keep Ctrl-C's exit status (the process dies of SIGINT, as without livebar).

    CPython remembers an uncaught KeyboardInterrupt in a flag it reads after finalizing, and
    clears that flag whenever source text is evaluated (``exec``/``eval`` of a string, which
    ``namedtuple`` and ``dataclasses`` do). Anything imported while the exit delivers the last
    updates may do that, and the job would then exit 1 instead of dying of SIGINT. Raising the
    interrupt once more from evaluated text sets the flag again; it is caught at once.
    """
    with contextlib.suppress(KeyboardInterrupt):
        exec("raise KeyboardInterrupt")  # a constant text: it only sets CPython's flag


def _after_fork_in_child() -> None:
    global _lock, _uncaught
    _lock = threading.Lock()
    _open.clear()
    _uncaught = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
