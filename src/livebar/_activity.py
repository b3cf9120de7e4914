"""Live Activities for jobs: ``live_activity()``, ``track()``, stages and the decorator.

An activity only records progress. Its hot path (``update()``, ``advance()``, each item of
``track()``) writes a number and returns: no I/O, no clock, and no lock the dispatcher ever
holds (``advance(1)`` and ``track()`` take none at all). The engine reads it through one call,
``sample()``, from its own thread; everything it learns about delivery it keeps in its own
record (``act.stats``, ``act.wait()``), which the activity only reads.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import itertools
import math
import sys
import threading
import time
from collections.abc import AsyncIterator, Generator, Iterable, Iterator, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Callable, TypeVar, overload

from livebar._job.endings import (
    MAX_FAILURE_TEXT,
    MAX_SUBTITLE,
    MAX_TITLE,
    Ending,
    Outcome,
    describe_exception,
    format_duration,
    format_rate,
    outcome_of,
    truncate,
)
from livebar._job.loops import LoopExit, LoopSite, caller, how_left, loop_site
from livebar._job.options import (
    ActivityOptions,
    Sample,
    check_color,
    check_steps,
    check_text,
    check_title,
    check_total,
    resolve_spec,
)
from livebar._process import signals as _signals
from livebar._wire import checks as checks
from livebar._wire.errors import LivebarError, ValidationError, detached

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from livebar._engine.dispatcher import ActivityStats, Mirror
    from livebar._integrations.handle import ProgressHandle
    from livebar._wire.payload import ContentState

__all__ = [
    "LiveActivity",
    "atrack",
    "current_activity",
    "format_duration",  # how endings say a duration; integrations word theirs the same way
    "live_activity",
    "track",
]

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

STAGE_SEPARATOR = " \u203a "
"""Between nested stage names in a subtitle (``build`` then ``compile``)."""
_DEFAULT_TITLE = "Working"

_current: contextvars.ContextVar[LiveActivity | None] = contextvars.ContextVar(
    "livebar_current_activity", default=None
)


def current_activity() -> LiveActivity | None:
    """The activity of the innermost ``with live_activity(...)`` (or decorated call), if any."""
    return _current.get()


class LiveActivity:
    """One job mirrored to a Live Activity.

    Use it as a context manager (sync or async), as a decorator, or call :meth:`start` and
    :meth:`close` yourself (an activity still open when the interpreter exits is ended then).
    """

    def __init__(self, title: str, **options: Unpack[ActivityOptions]) -> None:
        try:
            self.spec = spec = resolve_spec(title, options)
        except LivebarError as exc:
            raise _refused(exc, options) from None
        self.title = spec.title
        self.subtitle = spec.subtitle
        self.color = spec.color
        self.step_color = spec.step_color
        self.step_colors = spec.step_colors

        # Progress, written by the owner's threads; the engine reads it in sample().
        self.segmented = spec.steps is not None
        self.step_names: list[str] = []
        self.number_of_steps = 1
        self.current_step = 0
        self.stage_name: str | None = None
        self._stage_stack: list[str] = []
        self._failed_at: str | None = None
        if spec.steps is not None:
            self._apply_steps(spec.steps)
        self.total: float | None = spec.total
        self.show_count = spec.show_count
        self.n: float = 0
        # advance() by one from any thread: next() on a C counter is atomic, no lock needed.
        self._ticks = itertools.count()
        self._lock = threading.Lock()  # shared only with other user threads
        self.percentage: float | None = None
        self.value: float | None = None
        self.upper_limit: float | None = None
        self._source: Callable[[], float] | None = None
        self._stopped_early = False
        self.ignored = 0
        """Values refused while the job ran (NaN, out of range): dropped, never raised."""

        self.started_at: float | None = None
        self.ended_at: float | None = None
        self._clock: Callable[[], float] = _engine_clock()
        self._mirror: Mirror | None = None
        self._ending: Ending | None = None
        self._sealed = False
        self._end_lock = threading.Lock()  # endings only: close, correct, seal
        self._tokens: list[contextvars.Token[LiveActivity | None]] = []
        self._rendered: tuple[tuple[object, ...], ContentState] | None = None
        self._final_count: float | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    @property
    def outcome(self) -> Outcome | None:
        """How the job ended (``done``, ``failed``, ``cancelled``, ``stopped``), or None."""
        ending = self._ending
        return None if ending is None else ending.outcome

    @property
    def ending(self) -> Ending | None:
        """How the phone shows the end (subtitle, colour), once the job is over."""
        return self._ending

    @property
    def closed(self) -> bool:
        """True once the activity has ended (whether or not the end reached the phone)."""
        return self._ending is not None

    @property
    def enabled(self) -> bool:
        """True when this activity is mirrored to the phone."""
        return self._mirror is not None

    @property
    def stats(self) -> ActivityStats:
        """What happened to this activity's requests (kept by the engine)."""
        mirror = self._mirror
        if mirror is None:
            from livebar._engine.dispatcher import ActivityStats

            return ActivityStats()
        return mirror.stats

    def start(self) -> LiveActivity:
        """Start mirroring (idempotent). Never raises for network or account trouble."""
        if self.started_at is not None:
            return self
        from livebar._engine import (
            dispatcher as _dispatch,  # the engine loads with the first activity
        )
        from livebar._process import hooks as _hooks

        self._clock = _dispatch.clock()
        self.started_at = self._clock()
        self._mirror = _dispatch.open_activity(self.spec, self.sample)
        if self._mirror is not None:
            _hooks.track_open(self)
        return self

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
        chosen = self._outcome(exc, outcome)
        text = check_text(subtitle, "subtitle")
        if self._ending is not None:
            return
        if self.started_at is None:
            self.start()
        self._end(chosen, exc, subtitle=text)

    def _outcome(self, exc: BaseException | None, outcome: str | None) -> Outcome:
        if outcome is None:
            chosen = outcome_of(exc)
        else:
            try:
                chosen = Outcome(outcome)
            except ValueError:
                known = ", ".join(o.value for o in Outcome)
                raise ValidationError("outcome", "enum", f"must be one of {known}") from None
        if chosen is Outcome.DONE and self._stopped_early:
            return Outcome.STOPPED
        if chosen in (Outcome.DONE, Outcome.STOPPED) and _signals.terminating():
            return Outcome.CANCELLED  # SIGTERM asked the job to stop, and it did
        return chosen

    def _end(
        self,
        outcome: Outcome,
        exc: BaseException | None,
        *,
        provisional: bool = False,
        subtitle: str | None = None,
    ) -> None:
        with self._end_lock:
            if self._ending is not None:
                return
            self.ended_at = self._clock()
            self._final_count = self._count()  # what the ending shows, whatever comes later
            ending = self._build_ending(outcome, exc, provisional=provisional)
            if subtitle:
                ending = ending._replace(subtitle=truncate(subtitle, MAX_SUBTITLE))
            self._ending = ending
        _wake_engine()

    def correct(self, exc: BaseException) -> bool:
        """An exception escaped the program: a loop left by it (not yet reported) failed with it.

        Called by the process hooks; True when the ending changed.
        """
        with self._end_lock:
            ending = self._ending
            if ending is None or self._sealed or not ending.provisional:
                return False
            self._ending = self._build_ending(outcome_of(exc), exc, provisional=False)
        _wake_engine()
        return True

    def fail(self, exc: BaseException | None = None) -> None:
        """End the activity as failed (with ``exc``'s text when given)."""
        self.close(exc, outcome="failed")

    def cancel(self) -> None:
        """End the activity as cancelled."""
        self.close(outcome="cancelled")

    def handle(self) -> ProgressHandle:
        """A small picklable handle that other processes use to advance this activity."""
        from livebar._integrations.handle import handle_for

        return handle_for(self)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the end has been delivered (or given up on); True if it was delivered."""
        mirror = self._mirror
        if mirror is None:
            return False
        if timeout is None:
            timeout = self.spec.flush_timeout
        from livebar._engine import dispatcher as _dispatch

        return _dispatch.wait_for(mirror, timeout)

    def __enter__(self) -> LiveActivity:
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

    def __repr__(self) -> str:
        if not hasattr(self, "started_at"):  # refused while being made (a traceback's locals)
            return "<LiveActivity refused>"
        state = self.outcome or ("open" if self.started_at is not None else "new")
        return f"<LiveActivity {self.title!r} {state}>"

    # -- progress -----------------------------------------------------------------------------

    def update(
        self,
        n: float | None = None,
        *,
        total: float | None = None,
        percentage: float | None = None,
        value: float | None = None,
        upper_limit: float | None = None,
        subtitle: str | None = None,
        color: str | None = None,
        title: str | None = None,
    ) -> None:
        """Record the current state; the engine sends what the budgets allow.

        A value of the wrong type raises ``ValidationError`` at once; a number that cannot be
        shown (NaN, infinite, out of range) is dropped and counted in ``act.ignored``: a
        running job is never stopped by a bad progress value.
        """
        if n is not None:
            count = self._finite("n", n)
            if count is not None:
                with self._lock:
                    self._ticks = itertools.count()
                    self.n = count
        if total is not None:
            self.set_total(total)
        if percentage is not None:
            shown = self._finite("percentage", percentage)
            if shown is not None:
                self.percentage = min(max(shown, 0.0), 100.0)
                self.ignored += shown != self.percentage
        if value is not None or upper_limit is not None:
            if value is None or upper_limit is None:
                raise ValidationError(
                    "value", "dependentRequired", "value and upper_limit go together"
                )
            v = self._finite("value", value)
            limit = self._finite("upper_limit", upper_limit)
            if v is not None and limit is not None:
                if limit <= 0:
                    self.ignored += 1
                else:
                    self.value, self.upper_limit = min(max(v, 0.0), limit), limit
                    self.ignored += self.value != v
                    self.percentage = None
        if subtitle is not None:
            self.subtitle = check_text(subtitle, "subtitle")
        if color is not None:
            try:
                self.color = check_color(color, "color")
            except ValidationError as exc:
                self._tolerate(exc, isinstance(color, str))  # a colour the phone has no name for
        if title is not None:
            try:
                self.title = check_title(title)
            except ValidationError as exc:
                self._tolerate(exc, isinstance(title, str))  # an empty title: the old one stays

    def _tolerate(self, error: ValidationError, right_type: bool) -> None:
        """A value of the right type the phone cannot show is counted and dropped (the running
        job is never stopped by it); a value of the wrong type is the caller's bug: raise."""
        if not right_type:
            raise error
        self.ignored += 1

    def _finite(self, field: str, value: object) -> float | None:
        """A number of the right type; ``None`` (and counted) when it is NaN or infinite."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValidationError(field, "type", "must be a number")
        number = checks.finite_float(value)
        if number is None:
            self.ignored += 1
        return number

    def advance(self, k: float = 1) -> None:
        """``k`` more items done (progress) or ``k`` more steps complete (segmented)."""
        if k == 1 and not self.segmented and type(k) is int:
            next(self._ticks)
            return
        amount = self._finite("k", k)
        if amount is None:
            return
        if self.segmented:
            steps = int(amount)
            if steps != amount or steps < 0:
                self.ignored += 1  # a segmented bar only moves forward, in whole steps
                steps = max(steps, 0)
            with self._lock:
                self.current_step = min(self.current_step + steps, self.number_of_steps)
            self._name_current_step()
        else:
            with self._lock:
                self.n += amount

    @property
    def count(self) -> float:
        """Items done so far (progress bars)."""
        return self._count()

    def set_total(self, total: float | None) -> None:
        """Set (or clear) the number of items the job will process.

        A total that is not a number raises ``ValidationError``; a number the phone cannot use
        (negative, NaN, infinite, too large) is dropped and counted, like any progress value.
        """
        try:
            self.total = check_total(total)
        except ValidationError as exc:
            self._tolerate(exc, not isinstance(total, bool) and isinstance(total, (int, float)))

    def set_source(self, fn: Callable[[], float] | None) -> None:
        """Read the count from ``fn()`` whenever the engine samples, instead of ``n``."""
        self._source = fn

    def track(self, iterable: Iterable[T], total: float | None = None) -> Iterator[T]:
        """Iterate ``iterable``, counting items as they are taken; costs almost nothing per item."""
        return self._track(iterable, total, owner=False, site=None)

    def _track(
        self, iterable: Iterable[T], total: float | None, *, owner: bool, site: LoopSite | None
    ) -> Iterator[T]:
        try:
            length: int | None = len(iterable)  # type: ignore[arg-type]
        except (TypeError, AttributeError):
            length = None
        except Exception:  # a broken __len__ belongs to the iterable; count without it
            length = None
        if total is None:
            total = length
        if total is not None and not self.segmented:
            self.set_total(total)
        base = self._count()
        iterator = iter(iterable)
        length_hint = getattr(iterator, "__length_hint__", None)
        if length is not None and length_hint is not None:
            # A sized input's iterator knows how far it got: the loop runs at C speed and the
            # engine reads the position (items taken, minus the one in progress).
            size = length

            def taken() -> float:
                remaining: int = length_hint()
                return base + max(size - remaining - 1, 0)

            self._source = taken
            return itertools.chain(iterator, _LoopEnd(self, base + size, owner, site))
        gen = self._counting(iterator, base, owner, site)

        def counted() -> float:
            frame = getattr(gen, "gi_frame", None)
            if frame is None:
                return self.n + _ticks_of(self._ticks)
            return base + float(frame.f_locals.get("n", 0))

        self._source = counted
        return gen

    def _counting(
        self, iterator: Iterator[T], base: float, owner: bool, site: LoopSite | None
    ) -> Generator[T, None, None]:
        n = 0  # read from the engine's thread through the suspended frame
        try:
            for item in iterator:
                yield item
                n += 1
        except GeneratorExit:
            self._loop_left(base + n, finished=False, owner=owner, site=site, closer=caller(1))
            raise
        except BaseException as exc:  # raised by the iterable itself
            self._loop_left(base + n, finished=False, owner=False, site=None, closer=None)
            if owner:
                self.close(exc)
            raise
        self._loop_left(base + n, finished=True, owner=owner, site=None, closer=None)

    def _loop_left(
        self,
        count: float,
        *,
        finished: bool,
        owner: bool,
        site: LoopSite | None,
        closer: Any,
    ) -> None:
        self._source = None
        with self._lock:
            self._ticks = itertools.count()
            self.n = count
        if finished:
            if owner:
                self.close()
            return
        self._stopped_early = True
        if owner:
            self.left_early(how_left(site, closer))

    def left_early(self, how: LoopExit) -> None:
        """A bare loop that owns this activity was left before its end (``break`` or raise)."""
        if how is LoopExit.DELIBERATE:
            self.close(outcome="stopped")
        elif self._ending is None:
            # An exception we cannot see yet: "failed" unless sys.excepthook (or SIGTERM)
            # tells us better within the grace period; "stopped" when we cannot tell at all.
            guess = Outcome.FAILED if how is LoopExit.EXCEPTION else Outcome.STOPPED
            if _signals.terminating():  # SIGTERM is unwinding the loop: nothing to wait for
                self.close(outcome="cancelled")
                return
            if self.started_at is None:
                self.start()
            self._end(guess, None, provisional=True)

    # -- steps --------------------------------------------------------------------------------

    def set_steps(self, steps: int | Sequence[str]) -> None:
        """Set the number of steps (or their names); it may change while the job runs.

        Steps of the wrong type (``3.0``, ``"a,b"``, a name that is not a string) raise
        ``ValidationError``; a count below 1, an empty list or an empty name is dropped and
        counted.
        """
        if steps is None:
            raise ValidationError("steps", "type", "must be a positive int or a list of names")
        try:
            checked = check_steps(steps)
        except ValidationError as exc:
            self._tolerate(exc, _steps_of_right_type(steps))
            return
        self._apply_steps(checked)

    def _apply_steps(self, steps: int | tuple[str, ...] | None) -> None:
        if isinstance(steps, int):
            self.number_of_steps = steps
            self.step_names = self.step_names[:steps]
        elif steps is not None:
            self.step_names = list(steps)
            self.number_of_steps = len(steps)
        self.segmented = True
        self.current_step = min(self.current_step, self.number_of_steps)

    def step(self, name_or_index: str | int) -> None:
        """Show that step ``name_or_index`` is running (the steps before it are complete)."""
        if isinstance(name_or_index, int) and not isinstance(name_or_index, bool):
            if not 0 <= name_or_index <= self.number_of_steps:
                self.ignored += 1  # no such step: dropped and counted, the job goes on
                return
            self.current_step = name_or_index
            self._name_current_step()
            return
        if not isinstance(name_or_index, str):
            raise ValidationError("step", "type", "must be a step name or index")
        if not name_or_index:
            self.ignored += 1  # an empty name: dropped and counted
            return
        self.current_step = self._index_of(name_or_index)
        self.stage_name = name_or_index

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[LiveActivity]:
        """Run one stage: entering shows it, leaving completes it. Stages nest."""
        if not isinstance(name, str) or not name:
            raise ValidationError("stage", "type", "must be a non-empty string")
        outer = bool(self._stage_stack)
        if not outer:
            self._failed_at = None  # an earlier stage's failure was handled, or we'd not be here
        self._stage_stack.append(name)
        if not outer:
            if not self.segmented:
                self.stage_name = name
            else:
                self.step(name)
        try:
            yield self
        except BaseException:
            if self._failed_at is None:  # the innermost stage names where it broke
                self._failed_at = STAGE_SEPARATOR.join(self._stage_stack)
            self._stage_stack.pop()
            raise
        self._stage_stack.pop()
        if not outer and self._ending is None:
            if self.segmented:
                self.current_step = min(self._index_of(name) + 1, self.number_of_steps)
                self._name_current_step()
            else:
                self.stage_name = None

    def _index_of(self, name: str) -> int:
        if name in self.step_names:
            return self.step_names.index(name)
        # A name we did not know: it is the next step; grow the count if needed.
        index = min(self.current_step, self.number_of_steps)
        while len(self.step_names) < index:
            self.step_names.append(f"step {len(self.step_names) + 1}")
        self.step_names.insert(index, name)
        if len(self.step_names) > self.number_of_steps:
            self.number_of_steps = len(self.step_names)
        return index

    def _name_current_step(self) -> None:
        index = self.current_step
        self.stage_name = self.step_names[index] if index < len(self.step_names) else None

    # -- what the engine reads ----------------------------------------------------------------

    def fraction(self) -> float | None:
        """The share of the bar that is full, or None when the total is unknown."""
        return self._fraction(self._count)

    def _fraction(self, count: Callable[[], float]) -> float | None:
        if self.segmented:
            return self.current_step / self.number_of_steps
        if self.percentage is not None:
            return self.percentage / 100
        if self.value is not None and self.upper_limit:
            return _clamp(self.value / self.upper_limit)
        if self.total:
            return _clamp(count() / self.total)
        return None

    def _count(self) -> float:
        source = self._source
        if source is not None:
            try:
                value = float(source())
                if math.isfinite(value):
                    return value
            except Exception:  # the source belongs to user code; never let it break sampling
                pass
        return self.n + _ticks_of(self._ticks)

    def sample(self, seal_before: float) -> Sample:
        """One look by the engine: the state to show and, once the job is over, its ending.

        A provisional ending made at or before ``seal_before`` becomes final here, so that a
        correction arriving later can no longer change what is being sent.
        """
        ending = self._ending
        if ending is not None:
            if ending.provisional and not self._sealed and ending.at > seal_before:
                return Sample(self.content_state(), pending=True, ignored=self.ignored)
            with self._end_lock:
                self._sealed = True
                ending = self._ending
            assert ending is not None
            return Sample(self.content_state(ending=ending), ending=ending, ignored=self.ignored)
        return Sample(self.content_state(), ignored=self.ignored)

    def content_state(self, *, ending: Ending | None = None) -> ContentState:
        """The content state the phone should show now (or at ``ending``)."""
        final = self._final_count
        count = self._count() if ending is None or final is None else final
        fraction = self._fraction(lambda: count)
        key = (
            ending,
            self.title,
            self._subtitle_text(),
            self.color,
            self.step_color,
            self.segmented,
            self.current_step,
            self.number_of_steps,
            fraction,
            count,
            self.show_count,
            self.total,
            self.percentage,
            self.value,
            self.upper_limit,
        )
        rendered = self._rendered
        if rendered is not None and rendered[0] == key:
            return rendered[1]
        state = self._render(ending, count, fraction)
        self._rendered = (key, state)
        return state

    def _render(self, ending: Ending | None, count: float, fraction: float | None) -> ContentState:
        from livebar._wire.payload import ContentState, Metric

        subtitle = self._subtitle_text()
        if subtitle:
            subtitle = truncate(subtitle, MAX_SUBTITLE)
        title = truncate(self.title, MAX_TITLE)
        color = self.color
        step_color = self.step_color
        if ending is not None:
            subtitle = ending.subtitle
            color = ending.color or color
            if ending.outcome is Outcome.FAILED and self.segmented:
                step_color = "red"
        common: dict[str, Any] = {
            "subtitle": subtitle or None,
            "color": color,
            "icon": self.spec.icon,
            "badge": self.spec.badge,
        }
        complete = ending is not None and ending.complete
        if self.segmented:
            current = self.number_of_steps if complete else self.current_step
            step_colors = self.step_colors
            if step_colors is not None:
                step_colors = tuple(step_colors[:current])
            return ContentState.segmented_progress(
                title,
                number_of_steps=self.number_of_steps,
                current_step=current,
                step_color=step_color,
                step_colors=step_colors or None,
                **common,
            )
        if fraction is None and not count:
            # Nothing counted and no total: a one-step job, full when it is done.
            return ContentState.segmented_progress(
                title, number_of_steps=1, current_step=int(complete), **common
            )
        if fraction is None:
            # Counting without a total: the count and the rate, no bar that would lie.
            metrics = [Metric(label="Done", value=_plain_number(max(count, 0.0)))]
            if self.started_at is not None:
                end = self.ended_at if self.ended_at is not None else self._clock()
                elapsed = end - self.started_at
                if elapsed > 0 and count > 0:
                    metrics.append(Metric(label="Rate", value=format_rate(count / elapsed)))
            common.pop("badge")  # the metrics type has no badge
            return ContentState.for_metrics(title, metrics=metrics, **common)
        if complete:
            fraction = 1.0
        if self.value is not None and self.upper_limit is not None and fraction < 1.0:
            return ContentState.progress(
                title, value=self.value, upper_limit=self.upper_limit, **common
            )
        if self.show_count and self.total and self.percentage is None:
            shown = self.total if complete else min(max(count, 0.0), self.total)
            return ContentState.progress(
                title,
                value=_plain_number(shown),
                upper_limit=_plain_number(self.total),
                **common,
            )
        return ContentState.progress(title, percentage=round(fraction * 100, 1), **common)

    def _subtitle_text(self) -> str | None:
        parts = []
        stage = self.stage_name
        if self._stage_stack:
            stage = STAGE_SEPARATOR.join(self._stage_stack) if not self.segmented else stage
            if self.segmented and len(self._stage_stack) > 1:
                stage = STAGE_SEPARATOR.join(self._stage_stack)
        if stage:
            parts.append(stage)
        if self.subtitle:
            parts.append(self.subtitle)
        return " · ".join(parts) if parts else None

    # -- endings ------------------------------------------------------------------------------

    def _build_ending(
        self, outcome: Outcome, exc: BaseException | None, *, provisional: bool
    ) -> Ending:
        at = self.ended_at if self.ended_at is not None else self._clock()
        elapsed = at - (self.started_at if self.started_at is not None else at)
        took = format_duration(elapsed)
        where = self._failed_at or self.stage_name
        dismiss = self.spec.dismiss_minutes(outcome)
        fraction = self.fraction()
        if outcome is Outcome.DONE:
            return Ending(outcome, f"Done in {took}", dismiss, at, complete=self._reached_the_end())
        if outcome is Outcome.FAILED:
            text = "Failed"
            if where:
                text += f" at {where}"
            if exc is not None:
                text += f": {describe_exception(exc)}"
            elif fraction is not None and not self.segmented:
                text += f" at {fraction * 100:.0f}% after {took}"
            return Ending(
                outcome,
                truncate(text, MAX_FAILURE_TEXT),
                dismiss,
                at,
                color="red",
                provisional=provisional,
            )
        if outcome is Outcome.CANCELLED:
            text = "Cancelled" + (f" at {where}" if where else "") + f" after {took}"
            return Ending(outcome, text, dismiss, at, color="gray", provisional=provisional)
        at_text = f" at {fraction * 100:.0f}%" if fraction is not None else ""
        return Ending(
            outcome, f"Stopped{at_text} after {took}", dismiss, at, provisional=provisional
        )

    def _reached_the_end(self) -> bool:
        """Whether "done" may fill the bar: not when a count fell short of its known total."""
        if self.segmented or self.percentage is not None or self.value is not None:
            return True
        if not self.total:
            return True
        return self._count() >= self.total


class _LoopEnd:
    """Chained after a sized iterator: notices the loop finishing, or being left early."""

    __slots__ = ("_activity", "_final", "_finished", "_owner", "_site")

    def __init__(
        self, activity: LiveActivity, final: float, owner: bool, site: LoopSite | None
    ) -> None:
        self._activity = activity
        self._final = final
        self._finished = False
        self._owner = owner
        self._site = site

    def __iter__(self) -> _LoopEnd:
        return self

    def __next__(self) -> Any:
        if not self._finished:
            self._finished = True
            self._activity._loop_left(
                self._final, finished=True, owner=self._owner, site=None, closer=None
            )
        raise StopIteration

    def __del__(self) -> None:
        if not self._finished:
            activity = self._activity
            activity._loop_left(
                activity._count(),
                finished=False,
                owner=self._owner,
                site=self._site,
                closer=caller(1),
            )


@overload
def live_activity(title: F, /) -> F: ...


@overload
def live_activity(title: str, /, **options: Unpack[ActivityOptions]) -> LiveActivity: ...


def live_activity(title: Any, /, **options: Any) -> Any:
    """Mirror a job to a Live Activity: ``with live_activity("Deploy", steps=[...]) as act:``.

    ``steps`` (a count or names) makes a segmented bar; otherwise it is a progress bar (``total``
    or percentages). Works as a context manager (sync and async) and as a decorator; a bare
    ``@live_activity`` (no parentheses) takes the function's name as the title.
    """
    if callable(title) and not isinstance(title, str) and not options:
        fn = title
        name = getattr(fn, "__name__", None) or _DEFAULT_TITLE
        return _decorate(fn, lambda: LiveActivity(name))
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
    return activity._track(iterable, options.get("total"), owner=True, site=loop_site(1))


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


# -- small pure helpers ------------------------------------------------------------------------


def _refused(exc: LivebarError, options: Any) -> LivebarError:
    """A refusal at the call, ready to re-raise: without the frames below the caller's and
    without the options in this frame (either could hold the API key, and a traceback printed
    with its locals would show it)."""
    options.clear()
    return detached(exc)


def _engine_clock() -> Callable[[], float]:
    """The engine's clock, without loading the engine before it is needed."""
    dispatch = sys.modules.get("livebar._engine.dispatcher")
    return time.monotonic if dispatch is None else dispatch.clock()


def _wake_engine() -> None:
    dispatch = sys.modules.get("livebar._engine.dispatcher")
    if dispatch is not None:
        dispatch.wake()


def _ticks_of(counter: itertools.count[int]) -> int:
    """The next value of an ``itertools.count()``, read without advancing it."""
    text = repr(counter)  # "count(17)"
    return int(text[text.index("(") + 1 : -1])


def _steps_of_right_type(steps: object) -> bool:
    """Whether ``steps`` is a count or a list of names in type, whatever their values."""
    if isinstance(steps, bool):
        return False
    if isinstance(steps, int):
        return True
    if isinstance(steps, (str, bytes)) or not isinstance(steps, Sequence):
        return False
    return all(isinstance(name, str) for name in steps)


def _clamp(fraction: float) -> float:
    return min(max(fraction, 0.0), 1.0) if math.isfinite(fraction) else 0.0


def _plain_number(x: float) -> int | float:
    return int(x) if float(x).is_integer() else round(x, 2)
