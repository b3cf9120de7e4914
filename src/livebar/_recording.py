"""The recording half of ``LiveActivity``: what the job tells it (the hot path) and reads back.

``Recording`` holds the job's ``Progress`` and passes each call to it, once the checks a
public call owes its caller are done; after the activity's end it changes nothing (counted,
said once). ``LiveActivity`` adds the rest: its lifecycle, its ending, the engine's record.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Callable, TypeVar

from livebar._job.progress import Progress
from livebar._log import log

if TYPE_CHECKING:
    from livebar._job.endings import Ending
    from livebar._job.options import ActivitySpec

__all__ = ["Recording"]

T = TypeVar("T")


class Recording:
    """A job's progress as it records it: counts, totals, steps, texts."""

    def __init__(self, spec: ActivitySpec) -> None:
        self._progress = Progress(spec)
        self._ending: Ending | None = None
        self._late = 0
        """Progress recorded after the end: ignored (the ending is final), counted."""

    title = property(lambda self: self._progress.title, doc="The title the phone shows.")
    subtitle = property(lambda self: self._progress.subtitle, doc="The job's own subtitle.")
    color = property(lambda self: self._progress.color, doc="The card's colour, if any.")
    total = property(lambda self: self._progress.total, doc="Items the job will process.")
    current_step = property(lambda self: self._progress.current_step, doc="Steps complete.")
    segmented = property(lambda self: self._progress.segmented, doc="A bar of steps.")
    ignored = property(lambda self: self._progress.ignored, doc="Values it could not show.")

    @property
    def show_count(self) -> bool:
        """Show ``value / upper_limit`` counts instead of a percentage (when there is a total)."""
        return self._progress.show_count

    @show_count.setter
    def show_count(self, show: bool) -> None:
        self._progress.show_count = show

    @property
    def count(self) -> float:
        """Items done so far (progress bars)."""
        return self._progress.count()

    def fraction(self) -> float | None:
        """The share of the bar that is full, or None when the total is unknown."""
        return self._progress.view().fraction

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
        running job is never stopped by a bad progress value. After the end, nothing changes
        (counted in ``stats.ignored``, said once).
        """
        if self._ending is not None:
            self._after_the_end("update")
            return
        self._progress.update(
            n,
            total=total,
            percentage=percentage,
            value=value,
            upper_limit=upper_limit,
            subtitle=subtitle,
            color=color,
            title=title,
        )

    def advance(self, k: float = 1) -> None:
        """``k`` more items done (progress) or ``k`` more steps complete (segmented)."""
        if self._ending is not None:
            self._after_the_end("advance")
            return
        self._progress.advance(k)

    def _after_the_end(self, what: str) -> None:
        self._late += 1
        if self._late == 1:
            log.warning(
                "livebar: %r had ended: %s() after its end changes nothing (counted in "
                "stats.ignored; said once)",
                self.title,
                what,
            )

    def set_total(self, total: float | None) -> None:
        """Set (or clear) the number of items the job will process (see ``update``)."""
        self._progress.set_total(total)

    def set_source(self, fn: Callable[[], float] | None) -> None:
        """Read the count from ``fn()`` whenever the engine samples, instead of ``n``."""
        self._progress.set_source(fn)

    def track(self, iterable: Iterable[T], total: float | None = None) -> Iterator[T]:
        """Iterate ``iterable``, counting items as they are taken; costs almost nothing per item."""
        return self._progress.track(iterable, total, None, None)

    def set_steps(self, steps: int | Sequence[str]) -> None:
        """Set the number of steps (or their names); it may change while the job runs.

        Steps of the wrong type (``3.0``, ``"a,b"``, a name that is not a string) raise
        ``ValidationError``; a count below 1, an empty list or an empty name is dropped and
        counted.
        """
        self._progress.set_steps(steps)

    def step(self, name_or_index: str | int) -> None:
        """Show that step ``name_or_index`` is running (the steps before it are complete)."""
        self._progress.step(name_or_index)
