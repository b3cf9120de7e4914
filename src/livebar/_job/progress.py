"""The hot path: what a job records of its progress, and nothing else.

``update()``, ``advance()`` and each item of ``track()`` write a number and return: no I/O, no
clock, and no lock the engine ever holds (``advance(1)`` and ``track()`` take none at all). The
engine reads the record through ``view()``, a frozen ``ProgressView``, from its own thread.

For a sized input, ``track()`` returns ``itertools.chain(list_iterator, _LoopEnd)``: the loop runs
at C speed and the position is read from the iterator's ``__length_hint__()``; ``_LoopEnd``
notices the loop finishing (its ``__next__``) or being dropped early (``__del__``). For other
iterables a generator keeps the count in a local read through the suspended frame. ``advance()``
by one is ``next()`` on an ``itertools.count`` (atomic in CPython, so many threads can call it
without a lock); the count is read back from its ``repr``.

A value of the wrong type raises ``ValidationError`` at the call; a value of the right type the
phone cannot show (NaN, infinite, out of range, a step that does not exist) is clamped or
dropped and counted in ``ignored``: a running job is never stopped by a bad progress value.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections.abc import Generator, Iterable, Iterator, Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any, Callable, NamedTuple, Protocol, TypeVar

from livebar._job.loops import LoopExit, LoopSite, caller, how_left
from livebar._job.options import check_color, check_steps, check_text, check_title, check_total
from livebar._log import log
from livebar._wire import checks
from livebar._wire.errors import ValidationError

if TYPE_CHECKING:
    from livebar._job.options import ActivitySpec

__all__ = ["STAGE_SEPARATOR", "LoopOwner", "Progress", "ProgressView"]

T = TypeVar("T")

STAGE_SEPARATOR = " \u203a "
"""Between nested stage names in a subtitle (``build`` then ``compile``)."""


class ProgressView(NamedTuple):
    """What a job's progress looks like at one moment: all the phone (and an ending) needs."""

    title: str
    subtitle: str | None
    """The subtitle as shown: the running stage(s), then the job's own subtitle."""
    color: str | None
    segmented: bool
    current_step: int
    number_of_steps: int
    items: float
    """Items done so far (the count)."""
    total: float | None
    show_count: bool
    percentage: float | None
    value: float | None
    upper_limit: float | None
    stage: str | None
    """Where the job is (the innermost stage that failed, else the running stage), for endings."""
    stopped_early: bool
    """A tracked loop inside the job was left before its end."""
    ignored: int
    """Progress values refused so far (NaN, infinite, out of range)."""

    @property
    def fraction(self) -> float | None:
        """The share of the bar that is full, or None when the total is unknown."""
        if self.segmented:
            return self.current_step / self.number_of_steps
        if self.percentage is not None:
            return self.percentage / 100
        if self.value is not None and self.upper_limit:
            return clamp(self.value / self.upper_limit)
        if self.total:
            return clamp(self.items / self.total)
        return None

    @property
    def reached_the_end(self) -> bool:
        """Whether "done" may fill the bar: not when the work the job declared (its items, its
        steps) was not all done. The phone shows the real progress, never a bar not reached."""
        complete = self.complete
        return complete is None or complete or self.percentage is not None

    @property
    def complete(self) -> bool | None:
        """Whether the work the job declared is all done (None: it declared none)."""
        fraction = self.fraction
        if fraction is None:
            return None
        return fraction >= 1


def clamp(fraction: float) -> float:
    return min(max(fraction, 0.0), 1.0) if math.isfinite(fraction) else 0.0


class LoopOwner(Protocol):
    """Who hears that a tracked loop ended (the activity, which ends with its own loop)."""

    def loop_finished(self) -> None: ...

    def loop_left(self, how: LoopExit) -> None: ...

    def loop_raised(self, exc: BaseException) -> None: ...


class Progress:
    """One job's progress, written by the job's own threads only."""

    def __init__(self, spec: ActivitySpec) -> None:
        self.title = spec.title
        self.subtitle = spec.subtitle
        self.color = spec.color
        self.segmented = spec.steps is not None
        self.step_names: list[str] = []
        self.number_of_steps = 1
        self.current_step = 0
        self.stage_name: str | None = None
        self.stages: list[str] = []
        """The stages running now, outermost first."""
        self.failed_at: str | None = None
        self.said_unknown_step = False
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
        self.stopped_early = False
        self.loop: LoopSite | None = None
        """The bare loop this progress's activity ends with, while it runs."""
        self.ignored = 0
        """Values refused while the job ran (NaN, out of range): dropped, never raised."""

    # -- recording ----------------------------------------------------------------------------

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
            self._set_value(value, upper_limit)
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

    def _set_value(self, value: float | None, upper_limit: float | None) -> None:
        if value is None or upper_limit is None:
            raise ValidationError("value", "dependentRequired", "value and upper_limit go together")
        v = self._finite("value", value)
        limit = self._finite("upper_limit", upper_limit)
        if v is None or limit is None:
            return
        if limit <= 0:
            self.ignored += 1
        else:
            self.value, self.upper_limit = min(max(v, 0.0), limit), limit
            self.ignored += self.value != v
            self.percentage = None

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

    def set_total(self, total: float | None) -> None:
        try:
            self.total = check_total(total)
        except ValidationError as exc:
            self._tolerate(exc, not isinstance(total, bool) and isinstance(total, (int, float)))

    def set_source(self, fn: Callable[[], float] | None) -> None:
        self._source = fn

    def count(self) -> float:
        """Items done so far: the source's reading when there is one, else the counter."""
        source = self._source
        if source is not None:
            try:
                value = float(source())
                if math.isfinite(value):
                    return value
            except Exception:  # the source belongs to user code; never let it break sampling
                pass
        return self.n + _ticks_of(self._ticks)

    def freeze(self, count: float) -> None:
        """The count stops here (a loop left, an ending): no source, no ticks pending."""
        self._source = None
        with self._lock:
            self._ticks = itertools.count()
            self.n = count

    # -- steps and stages ---------------------------------------------------------------------

    def set_steps(self, steps: int | Sequence[str]) -> None:
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

    def enter_stage(self, name: str) -> None:
        if not isinstance(name, str) or not name:
            raise ValidationError("stage", "type", "must be a non-empty string")
        outer = bool(self.stages)
        if not outer:
            self.failed_at = None  # an earlier stage's failure was handled, or we'd not be here
        self.stages.append(name)
        if not outer:
            if not self.segmented:
                self.stage_name = name
            else:
                self.step(name)

    def leave_stage(self, name: str, *, failed: bool, ended: bool) -> None:
        """Leave stage ``name``: failed (the innermost names where it broke), or complete."""
        if failed and self.failed_at is None:
            self.failed_at = STAGE_SEPARATOR.join(self.stages)
        self.stages.pop()
        if failed or self.stages or ended:
            return
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
        if len(self.step_names) >= self.number_of_steps and not self.said_unknown_step:
            self.said_unknown_step = True  # every step was named, and not this one: say so once
            log.warning(
                "livebar: %r has no step named %r (its steps: %s); it is added as a step of its "
                "own (said once)",
                self.title,
                name,
                ", ".join(self.step_names),
            )
        while len(self.step_names) < index:
            self.step_names.append(f"step {len(self.step_names) + 1}")
        self.step_names.insert(index, name)
        if len(self.step_names) > self.number_of_steps:
            self.number_of_steps = len(self.step_names)
        return index

    def _name_current_step(self) -> None:
        index = self.current_step
        self.stage_name = self.step_names[index] if index < len(self.step_names) else None

    # -- what the engine and the endings read -------------------------------------------------

    def view(self, count: float | None = None) -> ProgressView:
        """A frozen copy of everything the phone could show (``count``: a frozen count)."""
        return ProgressView(
            title=self.title,
            subtitle=self._subtitle_text(),
            color=self.color,
            segmented=self.segmented,
            current_step=self.current_step,
            number_of_steps=self.number_of_steps,
            items=self.count() if count is None else count,
            total=self.total,
            show_count=self.show_count,
            percentage=self.percentage,
            value=self.value,
            upper_limit=self.upper_limit,
            stage=self.failed_at or self.stage_name,
            stopped_early=self.stopped_early,
            ignored=self.ignored,
        )

    def _subtitle_text(self) -> str | None:
        parts = []
        stage = self.stage_name
        if self.stages:
            stage = STAGE_SEPARATOR.join(self.stages) if not self.segmented else stage
            if self.segmented and len(self.stages) > 1:
                stage = STAGE_SEPARATOR.join(self.stages)
        if stage:
            parts.append(stage)
        if self.subtitle:
            parts.append(self.subtitle)
        return " · ".join(parts) if parts else None

    # -- loops --------------------------------------------------------------------------------

    def loop_stands(self) -> LoopExit | None:
        """How the bare loop of this activity stands, read from its frame (at exit)."""
        site = self.loop
        if site is None or site.frame is None:
            return None
        return how_left(site, site.frame)

    def track(
        self,
        iterable: Iterable[T],
        total: float | None,
        owner: LoopOwner | None,
        site: LoopSite | None,
    ) -> Iterator[T]:
        """Iterate ``iterable``, counting items as they are taken; ``owner`` (the activity of a
        bare ``track()`` loop) hears how the loop ended."""
        try:
            length: int | None = len(iterable)  # type: ignore[arg-type]
        except Exception:  # not sized, or a broken __len__ of the iterable's own: count without
            length = None
        if total is None:
            total = length
        if total is not None and not self.segmented:
            self.set_total(total)
        if owner is not None:
            self.loop = site
        base = self.count()
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
        self, iterator: Iterator[T], base: float, owner: LoopOwner | None, site: LoopSite | None
    ) -> Generator[T, None, None]:
        n = 0  # read from the engine's thread through the suspended frame
        try:
            for item in iterator:
                yield item
                n += 1
        except GeneratorExit:
            self.loop_left(base + n, finished=False, owner=owner, site=site, closer=caller(1))
            raise
        except BaseException as exc:  # raised by the iterable itself
            self.loop_left(base + n, finished=False, owner=None, site=None, closer=None)
            if owner is not None:
                owner.loop_raised(exc)
            raise
        self.loop_left(base + n, finished=True, owner=owner, site=None, closer=None)

    def loop_left(
        self,
        count: float,
        *,
        finished: bool,
        owner: LoopOwner | None,
        site: LoopSite | None,
        closer: FrameType | None,
    ) -> None:
        self.freeze(count)
        if site is not None:
            site.frame = None  # the loop is over: its frame is not ours to keep
        if owner is not None:
            self.loop = None
        if finished:
            if owner is not None:
                owner.loop_finished()
            return
        self.stopped_early = True
        if owner is not None:
            owner.loop_left(how_left(site, closer))


class _LoopEnd:
    """Chained after a sized iterator: notices the loop finishing, or being left early."""

    __slots__ = ("_final", "_finished", "_owner", "_progress", "_site")

    def __init__(
        self, progress: Progress, final: float, owner: LoopOwner | None, site: LoopSite | None
    ) -> None:
        self._progress = progress
        self._final = final
        self._finished = False
        self._owner = owner
        self._site = site

    def __iter__(self) -> _LoopEnd:
        return self

    def __next__(self) -> Any:
        if not self._finished:
            self._finished = True
            self._progress.loop_left(
                self._final, finished=True, owner=self._owner, site=None, closer=None
            )
        raise StopIteration

    def __del__(self) -> None:
        if not self._finished:
            progress = self._progress
            progress.loop_left(
                progress.count(),
                finished=False,
                owner=self._owner,
                site=self._site,
                closer=caller(1),
            )


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
