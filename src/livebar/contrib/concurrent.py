"""``thread_map`` / ``process_map``: ``concurrent.futures`` maps with one Live Activity.

Like ``tqdm.contrib.concurrent``, but the activity counts *items*, not chunks: a worker process
advances the parent's activity through ``act.handle()`` after each item, so
``process_map(fn, range(101), chunksize=10)`` ends at 101 of 101. The parent owns the only
activity; results come back in input order. Endings:

- every item done: done;
- a task raises: the activity fails with that task's exception (its type and message), and the
  exception propagates as ``Executor.map`` raises it;
- Ctrl-C (or any other ``BaseException`` in the parent): cancelled, the futures not yet started
  are cancelled and the pool is shut down without waiting.

``process_map`` takes ``mp_context=`` (``multiprocessing.get_context("spawn")``, ...); under
spawn and forkserver ``fn`` must be importable, as for any process pool.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from livebar._activity import LiveActivity, live_activity
from livebar._integrations.handle import ProgressHandle

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from livebar._job.options import IntegrationOptions

__all__ = ["process_map", "thread_map"]

R = TypeVar("R")


def thread_map(
    fn: Callable[..., R],
    *iterables: Iterable[Any],
    title: str | None = None,
    max_workers: int | None = None,
    total: float | None = None,
    **options: Unpack[IntegrationOptions],
) -> list[R]:
    """``list(ThreadPoolExecutor(max_workers).map(fn, *iterables))`` with a Live Activity.

    ``options`` are those of ``livebar.live_activity`` (``subtitle=``, ``color=``, ...).
    """
    activity = _activity(fn, iterables, title, total, options)
    with activity:
        executor = ThreadPoolExecutor(max_workers=max_workers)
        task = functools.partial(_counted_here, fn, activity)
        return _run(executor, task, iterables, chunksize=1)


def process_map(
    fn: Callable[..., R],
    *iterables: Iterable[Any],
    title: str | None = None,
    max_workers: int | None = None,
    chunksize: int = 1,
    mp_context: Any = None,
    total: float | None = None,
    **options: Unpack[IntegrationOptions],
) -> list[R]:
    """``list(ProcessPoolExecutor(...).map(fn, *iterables, chunksize=...))`` with one activity.

    Each item is counted when it finishes in its worker, whatever ``chunksize`` is.
    """
    activity = _activity(fn, iterables, title, total, options)
    with activity, activity.handle() as progress:  # waits for the workers' last counts
        executor = ProcessPoolExecutor(max_workers=max_workers, mp_context=mp_context)
        task = functools.partial(_counted_there, fn, progress)
        return _run(executor, task, iterables, chunksize=chunksize)


def _activity(
    fn: Callable[..., Any],
    iterables: tuple[Iterable[Any], ...],
    title: str | None,
    total: float | None,
    options: IntegrationOptions,
) -> LiveActivity:
    if total is None:
        lengths = []
        for iterable in iterables:
            with contextlib.suppress(TypeError, AttributeError):  # no length: no total
                lengths.append(len(iterable))  # type: ignore[arg-type]
        total = min(lengths) if lengths else None  # map stops at the shortest input
    name = title or getattr(fn, "__name__", "") or "Working"
    return live_activity(name, total=total, **options)


def _run(
    executor: Executor,
    task: Callable[..., R],
    iterables: tuple[Iterable[Any], ...],
    *,
    chunksize: int,
) -> list[R]:
    try:
        results = list(executor.map(task, *iterables, chunksize=chunksize))
    except BaseException:
        executor.shutdown(wait=False, cancel_futures=True)
        raise
    executor.shutdown(wait=True)  # process workers leave cleanly and send their last counts
    return results


def _counted_here(fn: Callable[..., R], activity: LiveActivity, *args: Any) -> R:
    result = fn(*args)
    activity.advance()
    return result


def _counted_there(fn: Callable[..., R], progress: ProgressHandle, *args: Any) -> R:
    result = fn(*args)
    progress.advance()
    return result
