"""Live Activities for jobs: ``live_activity()``, ``track()``, stages and the decorator.

``LiveActivity`` is the facade the user holds. Its progress is a ``Progress`` recorder (the hot
path: ``update()``, ``advance()``, each item of ``track()`` write a number and return); how it
reads on the phone is ``view.render``'s, on the engine's thread; how it ended is
``endings.decide``'s, from the facts the activity gathers (an exception, a loop left early, a
SIGTERM, the exit). The engine reads it through one call, ``sample()``; everything it learns
about delivery it keeps in its own record (``act.stats``, ``act.wait()``), which the activity
only reads. Once the engine has sealed an ending (it is being sent), that ending is the truth:
a later correction cannot change what the phone is shown, nor what ``act.ending`` says.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import threading
import time
from collections.abc import AsyncIterator, Generator, Iterable, Iterator, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Callable, TypeVar, overload

from livebar._job.endings import Ending, Facts, Outcome, ending_of
from livebar._job.loops import LoopExit, loop_site
from livebar._job.options import (
    ActivityOptions,
    IntegrationOptions,
    check_names,
    check_text,
    resolve_spec,
)
from livebar._job.view import Sample, render
from livebar._recording import Recording
from livebar._wire.errors import LivebarError, MisuseError, ValidationError, detached

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from livebar._engine.intake import Opening
    from livebar._engine.jobs import ActivityJob, ActivityStats
    from livebar._integrations.handle import ProgressHandle
    from livebar._wire.payload import ContentState

__all__ = [
    "LiveActivity",
    "atrack",
    "checked_options",
    "current_activity",
    "live_activity",
    "track",
]

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

_DEFAULT_TITLE = "Working"
_TAKE_TIMEOUT = 5.0
"""How long ``enabled`` waits for the engine to take a just-started activity in."""

_current: contextvars.ContextVar[LiveActivity | None] = contextvars.ContextVar(
    "livebar_current_activity", default=None
)


def current_activity() -> LiveActivity | None:
    """The activity of the innermost ``with live_activity(...)`` (or decorated call), if any."""
    return _current.get()


class LiveActivity(Recording):
    """One job mirrored to a Live Activity.

    Use it as a context manager (sync or async), as a decorator, or call :meth:`start` and
    :meth:`close` yourself (an activity still open when the interpreter exits is ended then).
    """

    def __init__(self, title: str, **options: Unpack[ActivityOptions]) -> None:
        try:
            self.spec = spec = resolve_spec(title, options)
        except LivebarError as exc:
            raise _refused(exc, options) from None
        super().__init__(spec)
        self.started_at: float | None = None
        self.ended_at: float | None = None
        self._clock: Callable[[], float] = time.monotonic
        self._opening: Opening | None = None
        """What ``start()`` handed the engine; the engine's record of the activity (its
        ``job``) is made on the engine's thread, soon after."""
        self._frozen: float | None = None
        self._end_lock = threading.Lock()  # endings only: close, correct
        self._tokens: list[contextvars.Token[LiveActivity | None]] = []

    # -- what it is now -----------------------------------------------------------------------

    @property
    def _job(self) -> ActivityJob | None:
        """The engine's record of this activity, once the engine has taken it in."""
        opening = self._opening
        return None if opening is None else opening.job

    def _taken(self, timeout: float | None = _TAKE_TIMEOUT) -> ActivityJob | None:
        """The engine's record, waiting (bounded) for the engine to take the activity in: the
        first activity of a process is handed over before the engine has even loaded."""
        opening = self._opening
        if opening is None:
            return None
        opening.taken.wait(timeout)
        return opening.job

    @property
    def ending(self) -> Ending | None:
        """How the phone shows the end (subtitle, colour), once the job is over: the engine's
        sealed copy once it is being sent, else the activity's own."""
        job = self._job
        sealed = job.ending if job is not None else None
        return sealed if sealed is not None else self._ending

    @property
    def outcome(self) -> Outcome | None:
        """How the job ended (``done``, ``failed``, ``cancelled``, ``stopped``), or None."""
        ending = self.ending
        return None if ending is None else ending.outcome

    @property
    def closed(self) -> bool:
        """True once the activity has ended (whether or not the end reached the phone)."""
        return self._ending is not None

    @property
    def settled(self) -> bool:
        """True once the engine has sealed the ending: nothing can change it any more."""
        return self._job is not None and self._job.ending is not None

    @property
    def handed_over(self) -> bool:
        """True once ``start()`` handed this activity to the engine (it may be mirrored; not
        when mirroring is certainly off: switched off, no key anywhere)."""
        return self._opening is not None

    @property
    def declined(self) -> bool:
        """True once the engine has taken this activity in and does not mirror it (no usable
        account)."""
        opening = self._opening
        return opening is not None and opening.taken.is_set() and opening.job is None

    @property
    def enabled(self) -> bool:
        """True when this activity is mirrored to the phone (once started: the engine decides,
        from the account, as it takes the activity in)."""
        return self._taken() is not None

    @property
    def stats(self) -> ActivityStats:
        """What happened to this activity's requests (kept by the engine)."""
        if self._job is None:
            from livebar._engine.jobs import ActivityStats

            stats = ActivityStats()
        else:
            stats = self._job.stats
        if not self._late:
            return stats
        import dataclasses

        return dataclasses.replace(stats, ignored=stats.ignored + self._late)

    def content_state(self) -> ContentState:
        """The content state the phone should show now (or at the end)."""
        sample = self.sample(float("inf"))
        now = sample.ended_at if sample.ended_at is not None else self._clock()
        return render(self.spec, sample.view, sample.ending, started_at=self.started_at, now=now)

    def __repr__(self) -> str:
        if not hasattr(self, "_progress"):  # refused while being made (a traceback's locals)
            return "<LiveActivity refused>"
        state = self.outcome or ("open" if self.started_at is not None else "new")
        return f"<LiveActivity {self.title!r} {state}>"

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[LiveActivity]:
        """Run one stage: entering shows it, leaving completes it. Stages nest."""
        progress = self._progress
        progress.enter_stage(name)
        try:
            yield self
        except BaseException:
            progress.leave_stage(name, failed=True, ended=self.closed)
            raise
        progress.leave_stage(name, failed=False, ended=self.closed)

    def handle(self) -> ProgressHandle:
        """A small picklable handle that other processes use to advance this activity."""
        from livebar._integrations.handle import handle_for

        return handle_for(self)

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> LiveActivity:
        """Start mirroring (idempotent). Never raises for network or account trouble."""
        if self.started_at is not None:
            return self
        from livebar._engine import runtime  # the engine loads with the first activity
        from livebar._process import hooks

        self._clock = runtime.clock()
        self.started_at = self._clock()
        self._opening = self._open_job()
        if self._opening is not None:
            self._progress.changed = runtime.nudge
            hooks.track_open(self)
        return self

    def _open_job(self) -> Opening | None:
        """Hand this activity to the engine (a fleet member hands over a fleet job instead)."""
        from livebar._engine import runtime

        return runtime.open_activity(self.spec, self.sample)

    def close(
        self,
        exc: BaseException | None = None,
        *,
        outcome: str | None = None,
        subtitle: str | None = None,
    ) -> None:
        """End the activity: ``done`` unless ``exc`` or ``outcome`` says otherwise.

        ``subtitle`` replaces the ending's own words ("Stopped early at epoch 3", "Failed: exit
        code 7"). Returns at once; the end is sent by the engine (see :meth:`wait`). Closing
        twice is harmless: the first ending wins.
        """
        asked = _outcome(outcome)
        text = check_text(subtitle, "subtitle")
        self.finish(Facts(exception=exc, asked=asked), subtitle=text)

    def fail(self, exc: BaseException | None = None) -> None:
        """End the activity as failed (with ``exc``'s text when given)."""
        self.close(exc, outcome="failed")

    def cancel(self) -> None:
        """End the activity as cancelled."""
        self.close(outcome="cancelled")

    def finish(self, facts: Facts, *, subtitle: str | None = None) -> None:
        """End the activity as ``facts`` decide (the progress and the signal facts are added
        here); the first ending wins. The process hooks and the integrations end through this."""
        if self._ending is not None:
            return
        if self.started_at is None:
            self.start()
        with self._end_lock:
            if self._ending is not None:
                return
            self.ended_at = self._clock()
            self._frozen = self._progress.count()  # what the ending shows, whatever comes later
            self._ending = self._ending_for(facts, subtitle)
        if self._opening is not None:  # handed over (its job may not be made yet)
            from livebar._engine.runtime import runtime

            _wake_engine()
            runtime.deliver_late()

    def correct(self, exc: BaseException) -> bool:
        """An exception escaped the program: a loop left by it (not yet reported) failed with it.

        Called by the process hooks; True when the ending changed (never once it is sealed).
        """
        with self._end_lock:
            ending = self._ending
            if ending is None or self.settled or not ending.provisional:
                return False
            self._ending = self._ending_for(Facts(exception=exc), None)
        if self._opening is not None:
            _wake_engine()
        return not self.settled or self.ending is self._ending

    def _ending_for(self, facts: Facts, subtitle: str | None) -> Ending:
        assert self.ended_at is not None
        return ending_of(
            facts,
            self._progress.view(self._frozen),
            started_at=self.started_at,
            ended_at=self.ended_at,
            signal_at=_signal_since(self.started_at),
            dismiss_minutes=self.spec.dismiss_minutes,
            subtitle=subtitle,
        )

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the end has been delivered (or given up on); True if it was delivered."""
        from livebar._engine import runtime

        if timeout is None:
            timeout = self.spec.flush_timeout
        if timeout is None:
            timeout = runtime.flush_timeout()
        began = time.monotonic()
        job = self._taken(timeout)
        if job is None:
            return False
        return runtime.wait_for(job, max(0.0, timeout - (time.monotonic() - began)))

    def sample(self, seal_before: float) -> Sample:
        """One look by the engine: the progress and, once the job is over, its ending.

        A provisional ending made at or before ``seal_before`` is final here: the engine seals
        it (keeps its own copy), and a correction arriving later no longer changes it.
        """
        ending = self._ending
        pending = ending is not None and ending.provisional and ending.at > seal_before
        view = self._progress.view(None if ending is None else self._frozen)
        final = None if ending is None or pending else ending
        return Sample(view, self.started_at, self.ended_at, final, pending)

    # -- a bare loop that owns the activity -------------------------------------------------------

    def loop_finished(self) -> None:
        self.finish(Facts())

    def loop_raised(self, exc: BaseException) -> None:
        self.finish(Facts(exception=exc))

    def loop_left(self, how: LoopExit) -> None:
        """A bare loop that owns this activity was left before its end (``break`` or raise)."""
        self.finish(Facts(left=how))

    left_early = loop_left

    def exit_facts(self, uncaught: BaseException | None) -> Facts:
        """What is known when the interpreter exits with this activity open: the exception
        that escaped, and how a bare loop still holding its iterator was left (a
        ``sys.exit()`` in its body at module level: its frame still says where it stopped)."""
        return Facts(exception=uncaught, at_exit=True, left=self._progress.loop_stands())

    # -- with, async with, the decorator ------------------------------------------------------

    def __enter__(self) -> LiveActivity:
        if self.closed:
            raise MisuseError(
                f"{self.title!r} has ended: an activity is entered once; for another run make "
                "a new one (act.copy() has the same options)"
            )
        self.start()
        self._tokens.append(_current.set(self))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._tokens:
            _current.reset(self._tokens.pop())
        self.close(exc)

    async def __aenter__(self) -> LiveActivity:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    def __call__(self, fn: F) -> F:
        """Use as a decorator: each call of ``fn`` runs in a fresh activity like this one.

        Plain functions and coroutines run inside the activity; for generator and async
        generator functions the activity spans the iteration, from the first item to the last.
        """
        return _decorate(fn, self.copy)

    def copy(self) -> LiveActivity:
        """A fresh, unstarted activity with the same options."""
        return LiveActivity(self.spec.title, **self.spec.options())

    def __copy__(self) -> LiveActivity:
        raise MisuseError(_NO_COPY)

    def __deepcopy__(self, memo: object) -> LiveActivity:
        raise MisuseError(_NO_COPY)

    def __reduce__(self) -> Any:
        raise TypeError(_NO_PICKLE)


_NO_COPY = (
    "copy.copy() of a LiveActivity would share its progress and its card: use act.copy() for a "
    "fresh activity with the same options"
)
_NO_PICKLE = (
    "cannot pickle a LiveActivity (it lives in one process): pass act.handle() to other "
    "processes, and advance it there"
)


@overload
def live_activity(title: F, /) -> F: ...


@overload
def live_activity(title: str, **options: Unpack[ActivityOptions]) -> LiveActivity: ...


def live_activity(title: Any = None, **options: Any) -> Any:
    """Mirror a job to a Live Activity: ``with live_activity("Deploy", steps=[...]) as act:``.

    ``steps`` (a count or names) makes a segmented bar; otherwise it is a progress bar (``total``
    or percentages). Works as a context manager (sync and async) and as a decorator; a bare
    ``@live_activity`` (no parentheses) takes the function's name as the title.
    """
    if callable(title) and not isinstance(title, str) and not options:
        fn = title
        name = getattr(fn, "__name__", None) or _DEFAULT_TITLE
        return _decorate(fn, lambda: LiveActivity(name))
    if title is None:
        options.clear()  # a refusal at the call: the key must not stay in this frame's locals
        raise ValidationError("title", "required", "is required: live_activity('Backup', ...)")
    try:
        return LiveActivity(title, **options)
    except LivebarError as exc:
        raise _refused(exc, options) from None


def track(
    iterable: Iterable[T],
    title: str | None = None,
    **options: Unpack[ActivityOptions],
) -> Iterator[T]:
    """The one-liner: ``for f in livebar.track(files, title="Resize"): ...``.

    The activity ends ``done`` when the loop finishes, ``stopped`` at the real progress after a
    ``break``, and ``failed`` (or ``cancelled``) when an exception leaves the loop.
    """
    try:
        activity = LiveActivity(title or _DEFAULT_TITLE, **options)
    except LivebarError as exc:
        raise _refused(exc, options) from None
    activity.start()
    return activity._progress.track(iterable, options.get("total"), activity, loop_site(1))


async def atrack(
    iterable: Any, title: str | None = None, **options: Unpack[ActivityOptions]
) -> AsyncIterator[Any]:
    """``track()`` for ``async for``."""
    activity = LiveActivity(title or _DEFAULT_TITLE, **options)
    activity.start()
    try:
        async for item in iterable:
            yield item
            activity.advance()
    except GeneratorExit:
        activity.close(outcome="stopped")
        raise
    except BaseException as exc:
        activity.close(exc)
        raise
    activity.close()


def _decorate(fn: F, fresh: Callable[[], LiveActivity]) -> F:
    """``fn`` run inside a fresh activity per call, whatever kind of function it is."""
    import inspect  # only when decorating: keeps `from livebar import tqdm` light

    if inspect.isasyncgenfunction(fn):

        @functools.wraps(fn)
        async def run_async_gen(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
            async with fresh():
                async for item in fn(*args, **kwargs):
                    yield item

        return run_async_gen  # type: ignore[return-value]

    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def run_gen(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
            with fresh():
                return (yield from fn(*args, **kwargs))

        return run_gen  # type: ignore[return-value]

    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def run_async(*args: Any, **kwargs: Any) -> Any:
            async with fresh():
                return await fn(*args, **kwargs)

        return run_async  # type: ignore[return-value]

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        with fresh():
            return fn(*args, **kwargs)

    return run  # type: ignore[return-value]


def checked_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """Options for an activity made later (a training callback's, when training begins),
    checked now: a typo fails at the call that gave it, naming the option, not mid-training."""
    try:
        check_names(options, IntegrationOptions)
        resolve_spec(_DEFAULT_TITLE, options)
    except LivebarError as exc:
        raise _refused(exc, dict(options)) from None
    return dict(options)


# -- small helpers ------------------------------------------------------------------------------


def _outcome(outcome: str | None) -> Outcome | None:
    if outcome is None:
        return None
    try:
        return Outcome(outcome)
    except ValueError:
        known = ", ".join(o.value for o in Outcome)
        raise ValidationError("outcome", "enum", f"must be one of {known}") from None


def _refused(exc: LivebarError, options: Any) -> LivebarError:
    """A refusal at the call, ready to re-raise: without the frames below the caller's and
    without the options in this frame (either could hold the API key, and a traceback printed
    with its locals would show it)."""
    options.clear()
    return detached(exc)


def _signal_since(started_at: float | None) -> float | None:
    """When SIGTERM arrived after ``started_at`` (the engine's clock), if it did."""
    from livebar._engine.runtime import runtime

    return runtime.signal_since(started_at)


def _wake_engine() -> None:
    from livebar._engine import runtime

    runtime.wake()
