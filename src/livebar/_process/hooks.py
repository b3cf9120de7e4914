"""The process hooks that make the end arrive, whichever way the process goes.

Installed with the first mirrored activity, they act on the runtime's registry of open
activities; every ending they make is ``endings.decide``'s, from the facts they gather:

* ``atexit``: ends what is still open (the exception that escaped the program, a SIGTERM, or
  whether the work was done: ``Facts(at_exit=True)``) and waits up to the flush deadline, once;
  Ctrl-C or SIGTERM during that wait stops it quietly.
* ``sys.excepthook`` and ``threading.excepthook``: an exception that escapes corrects the
  ending of a bare loop it left (whose exception livebar could not see) before it is sent.
* SIGTERM (``docker stop``, Kubernetes): taken by ``livebar._process.signals`` at import;
  ``on_sigterm`` decides how open jobs end. A handler the program installed itself is
  chained, never replaced: it decides.
* notebooks: IPython never calls ``sys.excepthook``; its cell hook does the same work.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any, Callable

from livebar._engine.runtime import in_a_worker_process, runtime
from livebar._job.endings import Facts, Outcome, Terminated
from livebar._log import WARNING, log
from livebar._process import signals
from livebar._process.exit import place as exit_place

__all__ = ["at_exit", "handling_sigterm", "install", "on_sigterm", "report_uncaught", "track_open"]


def track_open(activity: Any) -> None:
    """Register a mirrored activity that has started; installs the hooks on first use."""
    install()
    runtime.track_open(activity)
    if runtime.exit_deadline is not None:
        runtime.say_once(
            "opened at exit",
            "livebar: %r was opened by an exit handler that runs after livebar's: it is ended "
            "(and its end delivered) only if that handler closes it",
            activity.title,
            level=WARNING,
        )


def install() -> None:
    """Install atexit, the exception hooks and (from the main thread) SIGTERM, once."""
    with runtime.lock:
        if runtime.hooks_installed:
            return
        runtime.hooks_installed = True
    exit_place.hook = at_exit
    exit_place.take()  # taken at import already, unless livebar's modules were loaded alone
    if in_a_worker_process():
        # A multiprocessing worker leaves through os._exit (no atexit): its pool's finalizers
        # are where the ends of the tasks it ran are delivered, after the handles' counts.
        from multiprocessing import util

        util.Finalize(None, at_exit, exitpriority=50)
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

        watch_running_shell(runtime.open_activities)
    signals.sigterm.listener = on_sigterm
    signals.sigterm.noted = runtime.note_signal
    signals.prepare()  # in case `import livebar` happened outside the main thread


def report_uncaught(exc: BaseException) -> None:
    """An exception escaped the program (or a thread, or a notebook cell): correct the bare
    loops it left, whose exception livebar could not see, before their ends go out."""
    if isinstance(exc, SystemExit) and not isinstance(exc, Terminated):
        return
    runtime.uncaught = exc
    for activity in runtime.open_activities():
        activity.correct(exc)


def on_sigterm(signum: int, frame: Any, previous: Any) -> bool:
    """SIGTERM arrived (``livebar._process.signals`` took it): True when handled here.

    A handler the program installed before livebar decides what happens (livebar only noted
    the signal, so a job that then stops with its work undone ends ``cancelled``): False.
    Otherwise, when an activity was started in the main thread, raise ``Terminated`` there, so
    ``with`` blocks unwind ("Cancelled at <stage>") and ``atexit`` delivers the ends; when only
    worker threads have activities, end them as cancelled, flush (bounded) and die of the signal
    as the default would; with none open, leave it to the default.
    """
    if runtime.exiting:
        if in_a_worker_process():
            # A pool terminates its workers with SIGTERM as it closes: the exit delivering
            # their tasks' ends (bounded by its deadline) goes on.
            return True
        raise Terminated(128 + signum)  # the exit's wait is stopped: exit now
    if callable(previous):
        return False
    main = threading.main_thread().ident
    opened = runtime.open_threads()
    if not opened:
        # Nothing runs, but ends may still be on their way (a pool's worker, terminated by
        # SIGTERM once its tasks are done): deliver them (bounded) before dying of the signal.
        driver = runtime.driver
        if driver is not None and driver.intake.pending():
            with contextlib.suppress(BaseException):
                runtime.flush(None, again=True)
        return False
    if any(thread == main for _, thread in opened):
        raise Terminated(128 + signum)
    for activity, _thread in opened:
        activity.finish(Facts(asked=Outcome.CANCELLED))
    with contextlib.suppress(BaseException):
        runtime.flush(None, again=True)
    signals.die_of(signum)
    return True


@contextlib.contextmanager
def handling_sigterm() -> Iterator[None]:
    """Within the block, SIGTERM raises ``Terminated`` in the main thread (the CLI's pipe mode
    and any other caller that owns the process); the previous handler is restored after."""

    def raise_terminated(signum: int, frame: Any) -> None:
        runtime.note_signal()
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


def at_exit() -> None:
    """The interpreter exits: end what is still open, wait for the ends once, say what is not
    delivered."""
    if runtime.driver is None:
        return
    timeout = runtime.deadline()
    clock = runtime.clock()
    started = clock()
    runtime.exiting = True  # from here a SIGTERM stops the exit's wait (a pool's worker: not)
    try:
        for activity in runtime.open_activities():
            if not activity.closed:
                activity.finish(activity.exit_facts(runtime.uncaught))
        delivered = runtime.flush(timeout, again=False)  # what is left of one deadline
        waited = runtime.waited
    except (KeyboardInterrupt, SystemExit):  # a second Ctrl-C or SIGTERM: stop waiting, quietly
        delivered = False
        waited = min(clock() - started, timeout)
        log.warning("livebar: interrupted while delivering the last updates")
    finally:
        runtime.exiting = False
    if delivered:
        _close_ledgers()  # nothing of ours is left on the phone: nothing for others to reap
    else:
        from livebar._process.courier import send_courier, wanted  # only when one may be sent

        runtime.report_undelivered(waited, courier=send_courier if wanted() else None)
    # What exit handlers after this one may still use: what is left of the one deadline.
    given = runtime.gave_up
    runtime.exit_deadline = given[2] if given is not None else started + timeout
    if isinstance(runtime.uncaught, KeyboardInterrupt):
        _exit_as_interrupted()


def _close_ledgers(timeout: float = 1.0) -> None:
    """A clean exit: the ledgers forget this process's settled activities (the engine's thread
    does it; this waits at most ``timeout`` for it)."""
    driver = runtime.driver
    if driver is not None:
        driver.intake.close()
        driver.flush(timeout)


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
