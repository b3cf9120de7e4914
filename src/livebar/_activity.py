"""Live Activities for jobs: ``live_activity()``, ``track()``, stages and the decorator.

An activity only records state. Its hot path (``update()``, ``advance()``, each item of
``track()``) writes a number and returns: no I/O, no clock, and no lock the dispatcher ever
holds (``advance(1)`` and ``track()`` take none at all). The process-wide dispatcher
samples the state from its own thread, decides with the pacing policy what to send, and sends it.
Nothing the dispatcher does ever raises into the code that owns the activity.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import functools
import inspect
import itertools
import os
import threading
import time
from collections.abc import AsyncIterator, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Callable, Optional, TypeVar, Union, cast

from livebar import _defaults
from livebar._errors import ValidationError
from livebar._payload import (
    COLORS,
    Action,
    Badge,
    ContentState,
    Icon,
    Metric,
    _optional_choice,
    _optional_string,
)

if TYPE_CHECKING:
    from livebar._handle import ProgressHandle  # issue-14

__all__ = [
    "ActivityStats",
    "LiveActivity",
    "Terminated",
    "atrack",
    "current_activity",
    "live_activity",
    "track",
]

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

OUTCOMES = ("done", "failed", "cancelled", "stopped")
_MAX_FAILURE_TEXT = 80
STAGE_SEPARATOR = " \u203a "
"""Between nested stage names in a subtitle (``build`` then ``compile``)."""

_current: contextvars.ContextVar[Optional[LiveActivity]] = contextvars.ContextVar(
    "livebar_current_activity", default=None
)


def current_activity() -> Optional[LiveActivity]:
    """The activity of the innermost ``with live_activity(...)`` (or decorated call), if any."""
    return _current.get()


@dataclass
class ActivityStats:
    """What happened to an activity's requests; written by the dispatcher, read by anyone."""

    requests: int = 0
    """Requests sent for this activity (start, updates, end, its pushes), retries included."""
    updates: int = 0
    """Updates the server accepted."""
    coalesced: int = 0
    """Sampled states replaced by a newer one before they were sent."""
    retried: int = 0
    """Requests that failed and were tried again."""
    dropped: int = 0
    """States that will never be delivered (counted, and logged once)."""
    warnings: int = 0
    """Server warnings about the iOS update budget."""
    started: bool = False
    end_delivered: bool = False
    delivered_by_push: bool = False
    """True when the outcome went out as a push because no Live Activity could start."""
    last_error: Optional[str] = None
    activity_id: Optional[str] = None


@dataclass(frozen=True)
class Ending:
    """How an activity ended, as the phone should show it."""

    outcome: str
    subtitle: str
    color: Optional[str] = None
    complete: bool = False


class LiveActivity:
    """One job mirrored to a Live Activity.

    Use it as a context manager (sync or async), as a decorator, or call :meth:`start` and
    :meth:`close` yourself (an activity still open when the interpreter exits is ended then).
    """

    def __init__(
        self,
        title: str,
        *,
        steps: Union[int, Sequence[str], None] = None,
        total: Optional[float] = None,
        show_count: bool = False,
        subtitle: Optional[str] = None,
        color: Optional[str] = None,
        step_color: Optional[str] = None,
        step_colors: Optional[Sequence[str]] = None,
        icon: Union[Icon, str, None] = None,
        badge: Union[Badge, str, None] = None,
        action: Optional[Action] = None,
        secondary_action: Optional[Action] = None,
        channels: Optional[Sequence[str]] = None,
        auto_dismiss_minutes: Optional[int] = None,
        failure_auto_dismiss_minutes: Optional[int] = None,
        stream_key: Optional[str] = None,
        notify_on: Iterable[str] = (),
        client: Any = None,
        api_key: Optional[str] = None,
        base_url: Optional[str] = None,
        disable: Optional[bool] = None,
        flush_timeout: Optional[float] = None,
        ranks: Optional[str] = None,  # issue-14: rank awareness (livebar._ranks)
    ) -> None:
        if not isinstance(title, str) or not title:
            raise ValidationError("title", "type", "must be a non-empty string")
        self._options: dict[str, Any] = {
            "steps": steps,
            "total": total,
            "show_count": show_count,
            "subtitle": subtitle,
            "color": color,
            "step_color": step_color,
            "step_colors": step_colors,
            "icon": icon,
            "badge": badge,
            "action": action,
            "secondary_action": secondary_action,
            "channels": channels,
            "auto_dismiss_minutes": auto_dismiss_minutes,
            "failure_auto_dismiss_minutes": failure_auto_dismiss_minutes,
            "stream_key": stream_key,
            "notify_on": tuple(notify_on),
            "client": client,
            "api_key": api_key,
            "base_url": base_url,
            "disable": disable,
            "flush_timeout": flush_timeout,
            "ranks": ranks,  # issue-14
        }
        self.title = title
        self.subtitle = _check_text("subtitle", subtitle)
        self.color = _check_color("color", color)
        self.step_color = _check_color("step_color", step_color)
        self.step_colors = (
            tuple(_check_color(f"step_colors[{i}]", c) for i, c in enumerate(step_colors))
            if step_colors is not None
            else None
        )
        self.icon = Icon(symbol=icon) if isinstance(icon, str) else icon
        self.badge = Badge(title=badge) if isinstance(badge, str) else badge
        self.action = action
        self.secondary_action = secondary_action
        self.channels = tuple(channels) if channels is not None else None
        self.auto_dismiss_minutes = _check_minutes(
            "auto_dismiss_minutes", auto_dismiss_minutes, _defaults.DEFAULT_AUTO_DISMISS_MINUTES
        )
        self.failure_auto_dismiss_minutes = _check_minutes(
            "failure_auto_dismiss_minutes",
            failure_auto_dismiss_minutes,
            _defaults.DEFAULT_FAILURE_AUTO_DISMISS_MINUTES,
        )
        if stream_key is not None:
            from livebar._payload import validate_stream_key

            validate_stream_key(stream_key)
        self.stream_key = stream_key
        unknown = set(self._options["notify_on"]) - set(OUTCOMES)
        if unknown:
            raise ValidationError("notify_on", "enum", f"unknown outcome(s) {sorted(unknown)}")
        self.notify_on = frozenset(self._options["notify_on"])
        if flush_timeout is not None and flush_timeout < 0:
            raise ValidationError("flush_timeout", "minimum", "must be >= 0")
        self.flush_timeout = flush_timeout
        if api_key is not None or base_url is not None:
            from livebar._config import resolve_config

            resolve_config(api_key=api_key, base_url=base_url, environ={})  # fail fast on typos
        self._disable_arg = disable
        from livebar._ranks import check_ranks  # issue-14: checked before anything is sent

        self._ranks_arg = check_ranks(ranks)
        self._client_arg = client
        self._api_key = api_key
        self._base_url = base_url

        # Progress state, written by the owner's thread, read by the dispatcher.
        self.segmented = steps is not None
        self.step_names: list[str] = []
        self.number_of_steps = 1
        self.current_step = 0
        self.stage_name: Optional[str] = None
        self._stage_stack: list[str] = []
        self._failed_at: Optional[str] = None
        if steps is not None:
            self.set_steps(steps)
        if total is not None:
            _check_total(total)
        self.total: Optional[float] = total
        self.show_count = bool(show_count)
        self.n: float = 0
        # advance() by one from any thread: next() on a C counter is atomic, no lock needed.
        self._ticks = itertools.count()
        self._lock = threading.Lock()
        self.percentage: Optional[float] = None
        self.value: Optional[float] = None
        self.upper_limit: Optional[float] = None
        self._source: Optional[Callable[[], float]] = None

        self.stats = ActivityStats()
        self.outcome: Optional[str] = None
        self.ending: Optional[Ending] = None
        self.started_at: Optional[float] = None
        self.ended_at: Optional[float] = None
        self._pid = os.getpid()
        self._dispatcher: Any = None
        self._enabled = False
        self._stopped_early = False
        self._handed_over = False  # set by the dispatcher once the ending is out of our hands
        self._tokens: list[contextvars.Token[Optional[LiveActivity]]] = []
        self._done_event = threading.Event()

    # -- lifecycle ----------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """True once the activity has ended (whether or not the end reached the phone)."""
        return self.outcome is not None

    @property
    def enabled(self) -> bool:
        """True when this activity is mirrored to the phone."""
        return self._enabled

    def start(self) -> LiveActivity:
        """Start mirroring (idempotent). Never raises for network or account trouble."""
        if self.started_at is not None:
            return self
        from livebar import _dispatch

        self.started_at = time.monotonic()
        self._dispatcher = _dispatch.attach(self)
        self._enabled = self._dispatcher is not None
        if not self._enabled:
            self._done_event.set()
        return self

    def close(
        self,
        exc: Optional[BaseException] = None,
        *,
        outcome: Optional[str] = None,
        subtitle: Optional[str] = None,
    ) -> None:
        """End the activity: ``done`` unless ``exc`` or ``outcome`` says otherwise.

        ``subtitle`` replaces the ending's own wording ("Stopped early at epoch 3").
        Returns at once; the end is sent by the dispatcher (see :meth:`wait`). Closing twice is
        harmless: the first ending wins.
        """
        if self.outcome is not None:
            return
        subtitle = _check_text("subtitle", subtitle)  # issue-14: an integration's own ending text
        if self.started_at is None:
            self.start()
        if outcome is None:
            outcome = _outcome_of(exc) if exc is not None else "done"
        if outcome not in OUTCOMES:
            raise ValidationError("outcome", "enum", f"must be one of {OUTCOMES}")
        if outcome == "done" and self._stopped_early:
            outcome = "stopped"
        self.ended_at = time.monotonic()
        self.ending = self._ending(outcome, exc)
        if subtitle:  # issue-14
            self.ending = dataclasses.replace(self.ending, subtitle=subtitle)
        self.outcome = outcome
        if self._dispatcher is not None:
            self._dispatcher.closed(self)

    def fail(self, exc: Optional[BaseException] = None) -> None:
        """End the activity as failed (with ``exc``'s text when given)."""
        self.close(exc, outcome="failed")

    def cancel(self) -> None:
        """End the activity as cancelled."""
        self.close(outcome="cancelled")

    def handle(self) -> ProgressHandle:  # issue-14: cross-process progress (livebar._handle)
        """A small picklable handle that other processes use to advance this activity."""
        from livebar._handle import handle_for

        return handle_for(self)

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Wait until the end has been delivered (or given up on); True if it was delivered."""
        if timeout is None:
            timeout = self._flush_timeout()
        self._done_event.wait(timeout)
        return self.stats.end_delivered

    def _flush_timeout(self) -> float:
        if self.flush_timeout is not None:
            return self.flush_timeout
        from livebar import _dispatch

        return _dispatch.flush_timeout()

    def __enter__(self) -> LiveActivity:
        self.start()
        self._tokens.append(_current.set(self))
        return self

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        if self._tokens:
            _current.reset(self._tokens.pop())
        self.close(exc)

    async def __aenter__(self) -> LiveActivity:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    def __call__(self, fn: F) -> F:
        """Use as a decorator: each call of ``fn`` runs in a fresh activity like this one."""
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                async with self.copy():
                    return await fn(*args, **kwargs)

            return cast(F, run_async)

        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            with self.copy():
                return fn(*args, **kwargs)

        return cast(F, run)

    def copy(self) -> LiveActivity:
        """A fresh, unstarted activity with the same options."""
        return LiveActivity(self.title, **self._options)

    def __repr__(self) -> str:
        state = self.outcome or ("open" if self.started_at is not None else "new")
        return f"<LiveActivity {self.title!r} {state}>"

    # -- progress -----------------------------------------------------------------------------

    def update(
        self,
        n: Optional[float] = None,
        *,
        total: Optional[float] = None,
        percentage: Optional[float] = None,
        value: Optional[float] = None,
        upper_limit: Optional[float] = None,
        subtitle: Optional[str] = None,
        color: Optional[str] = None,
        title: Optional[str] = None,
    ) -> None:
        """Record the current state; the dispatcher sends what the budgets allow."""
        if n is not None:
            with self._lock:
                self._ticks = itertools.count()
                self.n = n
        if total is not None:
            self.set_total(total)
        if percentage is not None:
            if not 0 <= percentage <= 100:
                raise ValidationError("percentage", "minimum", "must be between 0 and 100")
            self.percentage = percentage
        if value is not None or upper_limit is not None:
            if value is None or upper_limit is None:
                raise ValidationError(
                    "value", "dependentRequired", "value and upper_limit go together"
                )
            if upper_limit <= 0:
                raise ValidationError("upper_limit", "minimum", "must be > 0")
            self.value, self.upper_limit = value, upper_limit
            self.percentage = None
        if subtitle is not None:
            self.subtitle = _check_text("subtitle", subtitle)
        if color is not None:
            self.color = _check_color("color", color)
        if title is not None:
            if not isinstance(title, str) or not title:
                raise ValidationError("title", "type", "must be a non-empty string")
            self.title = title

    def advance(self, k: float = 1) -> None:
        """``k`` more items done (progress) or ``k`` more steps complete (segmented)."""
        if self.segmented:
            with self._lock:
                self.current_step = min(self.current_step + int(k), self.number_of_steps)
            self._name_current_step()
        elif k == 1:
            next(self._ticks)
        else:
            with self._lock:
                self.n += k

    @property
    def count(self) -> float:
        """Items done so far (progress bars)."""
        return self._count()

    def set_total(self, total: Optional[float]) -> None:
        """Set (or clear) the number of items the job will process."""
        if total is not None:
            _check_total(total)
        self.total = total

    def set_source(self, fn: Optional[Callable[[], float]]) -> None:
        """Read the count from ``fn()`` whenever the dispatcher samples, instead of ``n``."""
        self._source = fn

    def track(self, iterable: Iterable[T], total: Optional[float] = None) -> Iterator[T]:
        """Iterate ``iterable``, counting items as they are taken; costs almost nothing per item."""
        return self._track(iterable, total, owner=False)

    def _track(self, iterable: Iterable[T], total: Optional[float], *, owner: bool) -> Iterator[T]:
        try:
            length: Optional[int] = len(iterable)  # type: ignore[arg-type]
        except (TypeError, AttributeError):
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
            # dispatcher reads the position (items taken, minus the one in progress).
            size = length

            def taken() -> float:
                remaining: int = length_hint()
                return base + max(size - remaining - 1, 0)

            self._source = taken
            return itertools.chain(iterator, _LoopEnd(self, base + size, owner))
        gen = self._counting(iterator, base, owner)

        def counted() -> float:
            frame = getattr(gen, "gi_frame", None)
            if frame is None:
                return self.n + _ticks_of(self._ticks)
            return base + float(frame.f_locals.get("n", 0))

        self._source = counted
        return gen

    def _counting(
        self, iterator: Iterator[T], base: float, owner: bool
    ) -> Generator[T, None, None]:
        n = 0  # read from the dispatcher's thread through the suspended frame
        try:
            for item in iterator:
                yield item
                n += 1
        except GeneratorExit:
            self._loop_left(base + n, finished=False, owner=owner)
            raise
        except BaseException as exc:  # raised by the iterable itself
            self._loop_left(base + n, finished=False, owner=False)
            if owner:
                self.close(exc)
            raise
        self._loop_left(base + n, finished=True, owner=owner)

    def _loop_left(self, count: float, *, finished: bool, owner: bool) -> None:
        self._source = None
        with self._lock:
            self._ticks = itertools.count()
            self.n = count
        if not finished:
            self._stopped_early = True
        if owner:
            self.close(outcome="done" if finished else "stopped")

    # -- steps --------------------------------------------------------------------------------

    def set_steps(self, steps: Union[int, Sequence[str]]) -> None:
        """Set the number of steps (or their names); it may change while the job runs."""
        if isinstance(steps, bool):
            raise ValidationError("steps", "type", "must be a positive int or a list of step names")
        if isinstance(steps, int):
            if steps < 1:
                raise ValidationError("steps", "minimum", "must be at least 1")
            self.number_of_steps = steps
            self.step_names = self.step_names[:steps]
        else:
            names = list(steps)
            if not names or not all(isinstance(s, str) and s for s in names):
                raise ValidationError(
                    "steps", "type", "must be a non-empty list of non-empty names"
                )
            self.step_names = names
            self.number_of_steps = len(names)
        self.segmented = True
        self.current_step = min(self.current_step, self.number_of_steps)

    def step(self, name_or_index: Union[str, int]) -> None:
        """Show that step ``name_or_index`` is running (the steps before it are complete)."""
        if isinstance(name_or_index, int) and not isinstance(name_or_index, bool):
            if not 0 <= name_or_index <= self.number_of_steps:
                raise ValidationError(
                    "step", "minimum", f"must be between 0 and {self.number_of_steps}"
                )
            self.current_step = name_or_index
            self._name_current_step()
            return
        if not isinstance(name_or_index, str) or not name_or_index:
            raise ValidationError("step", "type", "must be a step name or index")
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
        if not outer and self.outcome is None:
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

    # -- what the dispatcher reads ------------------------------------------------------------

    def fraction(self) -> Optional[float]:
        """The share of the bar that is full, or None when the total is unknown."""
        if self.segmented:
            return self.current_step / self.number_of_steps
        if self.percentage is not None:
            return self.percentage / 100
        if self.value is not None and self.upper_limit:
            return min(max(self.value / self.upper_limit, 0.0), 1.0)
        if self.total:
            n = self._count()
            return min(max(n / self.total, 0.0), 1.0)
        return None

    def _count(self) -> float:
        source = self._source
        if source is not None:
            try:
                return float(source())
            except Exception:  # the source belongs to user code; never let it break sampling
                pass
        return self.n + _ticks_of(self._ticks)

    def content_state(self, *, ending: Optional[Ending] = None) -> ContentState:
        """The content state the phone should show now (or at ``ending``)."""
        subtitle = self._subtitle_text()
        color = self.color
        step_color = self.step_color
        if ending is not None:
            subtitle = ending.subtitle
            color = ending.color or color
            if ending.outcome == "failed" and self.segmented:
                step_color = "red"
        common: dict[str, Any] = {
            "subtitle": subtitle or None,
            "color": color,
            "icon": self.icon,
            "badge": self.badge,
        }
        if self.segmented:
            current = self.current_step
            if ending is not None and ending.complete:
                current = self.number_of_steps
            step_colors = self.step_colors
            if step_colors is not None:
                step_colors = tuple(step_colors[:current])
            state = ContentState.segmented_progress(
                self.title,
                number_of_steps=self.number_of_steps,
                current_step=current,
                step_color=step_color,
                step_colors=step_colors or None,
                **common,
            )
        else:
            fraction = self.fraction()
            count = self._count()
            complete = ending is not None and ending.complete
            if fraction is None and not count:
                # Nothing counted and no total: a one-step job, full when it is done.
                state = ContentState.segmented_progress(
                    self.title, number_of_steps=1, current_step=int(complete), **common
                )
            elif fraction is None:
                # Counting without a total: the count and the rate, no bar that would lie.
                metrics = [Metric(label="Done", value=_plain_number(count))]
                if self.started_at is not None:
                    elapsed = (self.ended_at or time.monotonic()) - self.started_at
                    if elapsed > 0:
                        metrics.append(Metric(label="Rate", value=format_rate(count / elapsed)))
                common.pop("badge")  # the metrics type has no badge
                state = ContentState.for_metrics(self.title, metrics=metrics, **common)
            else:
                if complete:
                    fraction = 1.0
                if self.value is not None and self.upper_limit is not None and fraction < 1.0:
                    state = ContentState.progress(
                        self.title, value=self.value, upper_limit=self.upper_limit, **common
                    )
                elif self.show_count and self.total and self.percentage is None:
                    shown = self.total if complete else min(count, self.total)
                    state = ContentState.progress(
                        self.title,
                        value=_plain_number(shown),
                        upper_limit=_plain_number(self.total),
                        **common,
                    )
                else:
                    state = ContentState.progress(
                        self.title, percentage=round(fraction * 100, 1), **common
                    )
        return state

    def _subtitle_text(self) -> Optional[str]:
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

    def _ending(self, outcome: str, exc: Optional[BaseException]) -> Ending:
        elapsed = (self.ended_at or 0.0) - (self.started_at or 0.0)
        took = format_duration(elapsed)
        where = self._failed_at or self.stage_name
        if outcome == "done":
            return Ending("done", f"Done in {took}", complete=True)
        if outcome == "failed":
            text = "Failed"
            if where:
                text += f" at {where}"
            if exc is not None:
                text += f": {describe_exception(exc)}"
            return Ending("failed", _truncate(text, _MAX_FAILURE_TEXT), color="red")
        if outcome == "cancelled":
            text = "Cancelled" + (f" at {where}" if where else "") + f" after {took}"
            return Ending("cancelled", text, color="gray")
        fraction = self.fraction()
        at = f" at {fraction * 100:.0f}%" if fraction is not None else ""
        return Ending("stopped", f"Stopped{at} after {took}")

    def dismiss_minutes(self) -> int:
        """``auto_dismiss_minutes`` for the ending this activity had."""
        if self.outcome in ("failed", "cancelled"):
            return self.failure_auto_dismiss_minutes
        return self.auto_dismiss_minutes


class _LoopEnd:
    """Chained after a sized iterator: notices the loop finishing, or being left early."""

    __slots__ = ("_activity", "_final", "_finished", "_owner")

    def __init__(self, activity: LiveActivity, final: float, owner: bool) -> None:
        self._activity = activity
        self._final = final
        self._finished = False
        self._owner = owner

    def __iter__(self) -> _LoopEnd:
        return self

    def __next__(self) -> Any:
        if not self._finished:
            self._finished = True
            self._activity._loop_left(self._final, finished=True, owner=self._owner)
        raise StopIteration

    def __del__(self) -> None:
        if not self._finished:
            activity = self._activity
            activity._loop_left(activity._count(), finished=False, owner=self._owner)


def live_activity(title: str, **options: Any) -> LiveActivity:
    """Mirror a job to a Live Activity: ``with live_activity("Deploy", steps=[...]) as act:``.

    ``steps`` (a count or names) makes a segmented bar; otherwise it is a progress bar (``total``
    or percentages). Works as a context manager (sync and async) and as a decorator.
    """
    return LiveActivity(title, **options)


def track(
    iterable: Iterable[T],
    title: Optional[str] = None,
    *,
    total: Optional[float] = None,
    **options: Any,
) -> Iterator[T]:
    """The one-liner: ``for f in livebar.track(files, title="Resize"): ...``.

    The activity ends ``done`` when the loop finishes and ``stopped`` at the real progress after
    a ``break``; an exception that escapes the program marks it ``failed``.
    """
    activity = LiveActivity(title or "Working", total=total, **options)
    activity.start()
    return activity._track(iterable, total, owner=True)


async def atrack(
    iterable: Any, title: Optional[str] = None, *, total: Optional[float] = None, **options: Any
) -> AsyncIterator[Any]:
    """``track()`` for ``async for``."""
    activity = LiveActivity(title or "Working", total=total, **options)
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


# -- small pure helpers ------------------------------------------------------------------------


class Terminated(SystemExit):
    """Raised in the main thread on SIGTERM (when nobody else handles it), so that ``with``
    blocks unwind and say "Cancelled"; the exit status is 128 + the signal number."""


def raise_terminated(signum: int, frame: object) -> None:
    """A signal handler: turn the signal into ``Terminated``."""
    raise Terminated(128 + signum)


def _outcome_of(exc: BaseException) -> str:
    """How an exception that ends a job should read on the phone."""
    if isinstance(exc, (KeyboardInterrupt, Terminated)) or _is_cancellation(exc):
        return "cancelled"
    if isinstance(exc, SystemExit):  # sys.exit(): the job chose its own status
        return "done" if exc.code in (None, 0) else "failed"
    return "failed"


def _is_cancellation(exc: BaseException) -> bool:
    name = type(exc).__name__
    module = type(exc).__module__
    return (name == "CancelledError" and module.startswith("asyncio")) or (
        name == "Cancelled" and module.startswith("trio")
    )


def describe_exception(exc: BaseException) -> str:
    """``ValueError: bad row`` (or just the type when there is no message)."""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def format_duration(seconds: float) -> str:
    """``4m 12s``, ``2h 03m``, ``0.4s``."""
    if seconds < 10:
        return f"{max(seconds, 0):.1f}s"
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def format_rate(per_second: float) -> str:
    """``12.3/s``, ``4.5k/s``, ``2.0/min`` for slow jobs."""
    if per_second < 0.1:
        return f"{per_second * 60:.1f}/min"
    for unit in ("", "k", "M", "G"):
        if per_second < 1000:
            return f"{per_second:.1f}{unit}/s"
        per_second /= 1000
    return f"{per_second:.1f}T/s"


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _ticks_of(counter: itertools.count[int]) -> int:
    """The next value of an ``itertools.count()``, read without advancing it."""
    text = repr(counter)  # "count(17)"
    return int(text[text.index("(") + 1 : -1])


def _plain_number(x: float) -> Union[int, float]:
    return int(x) if float(x).is_integer() else round(x, 2)


def _check_color(name: str, color: Optional[str]) -> Optional[str]:
    return _optional_choice(color, name, COLORS)  # the payload's own rule, checked before I/O


def _check_text(name: str, text: Optional[str]) -> Optional[str]:
    return _optional_string(text, name)


def _check_total(total: float) -> None:
    """A total is a number >= 0; 0 (an empty input) counts as no total at all."""
    if isinstance(total, bool) or not isinstance(total, (int, float)) or not total >= 0:
        raise ValidationError("total", "minimum", "must be a number >= 0")


def _check_minutes(name: str, value: Optional[int], default: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationError(name, "minimum", "must be an int >= 0")
    return value
