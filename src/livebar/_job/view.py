"""How a job reads on the phone: ``render(spec, view, ending, …) -> ContentState``, pure.

The activity's recorder (``progress.Progress``) hands out a ``ProgressView`` — a frozen copy of
everything the phone could show — and the engine renders it here, on its own thread, with the
ending once there is one. Nothing here reads a clock or an activity: the same view and ending
always render the same content state.

What the phone shows for a progress activity: a percentage; ``value``/``upper_limit`` when the
user gave them or ``show_count=True``; with no total, a ``metrics`` card (count and rate) once
something was counted, and before that a one-step segmented bar that fills when it is done.
Titles are cut to 64 characters and subtitles to 120 (what a card shows).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from livebar._job.endings import (
    MAX_SUBTITLE,
    MAX_TITLE,
    Ending,
    Outcome,
    format_rate,
    truncate,
)

if TYPE_CHECKING:
    from livebar._job.options import ActivitySpec
    from livebar._job.progress import ProgressView
    from livebar._job.watchdog import Reading
    from livebar._wire.payload import ContentState, Metric

__all__ = ["Sample", "render", "render_plainly"]


class Sample(NamedTuple):
    """What the engine reads of an activity in one look.

    ``ending`` is set once the activity is over and its ending can no longer change; ``pending``
    is True while it is over but its ending may still be corrected (a bare loop left by an
    exception whose type is not known yet).
    """

    view: ProgressView
    started_at: float | None
    ended_at: float | None
    ending: Ending | None = None
    pending: bool = False


def render(
    spec: ActivitySpec,
    view: ProgressView,
    ending: Ending | None,
    *,
    started_at: float | None,
    now: float,
    watch: Reading | None = None,
) -> ContentState:
    """The content state the phone should show for ``view`` (and ``ending``, once over);
    ``now`` (or the end) against ``started_at`` gives a count its rate. ``watch``: the
    watchdog's reading while the job runs (a stall or an overrun: its words and colour)."""
    from livebar._wire.payload import ContentState

    subtitle = truncate(view.subtitle, MAX_SUBTITLE) if view.subtitle else None
    title = truncate(view.title, MAX_TITLE)
    color, step_color = view.color, spec.step_color
    if ending is None and watch is not None and watch.text is not None:
        subtitle, color = truncate(watch.text, MAX_SUBTITLE), watch.color or color
    if ending is not None:
        subtitle = ending.subtitle
        color = ending.color or color
        if ending.outcome is Outcome.FAILED and view.segmented:
            step_color = "red"
    common: dict[str, Any] = {
        "subtitle": subtitle or None,
        "color": color,
        "icon": spec.icon,
        "badge": spec.badge,
    }
    complete = ending is not None and ending.complete
    count, fraction = view.items, view.fraction
    if view.segmented:
        return _segmented(spec, view, title, step_color, complete=complete, common=common)
    if fraction is None and not count:
        # Nothing counted and no total: a one-step job, full when it is done.
        return ContentState.segmented_progress(
            title, number_of_steps=1, current_step=int(complete), **common
        )
    if fraction is None:
        # Counting without a total: the count and the rate, no bar that would lie.
        common.pop("badge")  # the metrics type has no badge
        metrics = _count_and_rate(count, started_at, now)
        return ContentState.for_metrics(title, metrics=metrics, **common)
    if complete:
        fraction = 1.0
    if view.value is not None and view.upper_limit is not None and fraction < 1.0:
        return ContentState.progress(
            title, value=view.value, upper_limit=view.upper_limit, **common
        )
    if view.show_count and view.total and view.percentage is None:
        shown = view.total if complete else min(max(count, 0.0), view.total)
        return ContentState.progress(
            title,
            value=plain_number(shown),
            upper_limit=plain_number(view.total),
            **common,
        )
    return ContentState.progress(title, percentage=round(fraction * 100, 1), **common)


def _segmented(
    spec: ActivitySpec,
    view: ProgressView,
    title: str,
    step_color: str | None,
    *,
    complete: bool,
    common: dict[str, Any],
) -> ContentState:
    from livebar._wire.payload import ContentState

    current = view.number_of_steps if complete else view.current_step
    step_colors = spec.step_colors
    if step_colors is not None:
        step_colors = tuple(step_colors[:current])
    return ContentState.segmented_progress(
        title,
        number_of_steps=view.number_of_steps,
        current_step=current,
        step_color=step_color,
        step_colors=step_colors or None,
        **common,
    )


def _count_and_rate(count: float, started_at: float | None, now: float) -> list[Metric]:
    from livebar._wire.payload import Metric

    metrics = [Metric(label="Done", value=plain_number(max(count, 0.0)))]
    if started_at is not None:
        elapsed = now - started_at
        if elapsed > 0 and count > 0:
            metrics.append(Metric(label="Rate", value=format_rate(count / elapsed)))
    return metrics


def plain_number(x: float) -> int | float:
    """``x`` as a card shows it: whole numbers as ints, others to two decimals (but never a
    positive number rounded to nothing: ``1.3e-13`` stays itself)."""
    if float(x).is_integer():
        return int(x)
    rounded = round(x, 2)
    return rounded if rounded or not x else x


def render_plainly(view: ProgressView, ending: Ending | None) -> ContentState:
    """The least a card can show of ``view`` (a one-step bar, full once it is done, with the
    ending's words): what is sent when the state as rendered was refused by the payload's
    rules, so that the job's end still reaches the phone."""
    from livebar._wire.payload import ContentState

    title = truncate(view.title, MAX_TITLE)
    complete = ending is not None and ending.outcome is Outcome.DONE
    subtitle = ending.subtitle if ending is not None else None
    color = ending.color if ending is not None else None
    return ContentState.segmented_progress(
        title, number_of_steps=1, current_step=int(complete), subtitle=subtitle, color=color
    )
