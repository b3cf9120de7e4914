"""``livebar.pandas()``: ``progress_apply`` / ``progress_map`` on pandas objects (2.x and 3.x).

The drop-in for ``tqdm.pandas()``: after ``livebar.pandas(title="Scoring")``, each call of

- ``Series.progress_apply(func)`` / ``Series.progress_map(func)`` (one count per element),
- ``DataFrame.progress_apply(func, axis=...)`` (per column, or per row with ``axis=1``),
- ``DataFrame.progress_map(func)`` (per cell; pandas >= 2.1),
- ``DataFrameGroupBy.progress_apply`` / ``SeriesGroupBy.progress_apply`` (per group),

runs the plain method under a ``livebar.tqdm`` bar: the terminal bar and one Live Activity.
An exception in ``func`` fails the activity (and propagates unchanged); Ctrl-C cancels it.
Keywords given to ``livebar.pandas(...)`` are ``livebar.tqdm``'s (``title=``, ``desc=``,
``color=``, ...); they apply to every later call. pandas is imported only here.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from livebar._integrations.tqdm import TqdmOptions

__all__ = ["pandas"]


def pandas(**options: Unpack[TqdmOptions]) -> None:
    """Register ``progress_apply`` and ``progress_map`` on pandas' Series, DataFrame, GroupBy."""
    import pandas as pd
    from pandas.core.groupby.generic import (
        DataFrameGroupBy,
        SeriesGroupBy,
    )

    _register(pd.Series, "apply", _length, options)
    _register(pd.Series, "map", _length, options)
    _register(pd.DataFrame, "apply", _along_axis, options)
    if hasattr(pd.DataFrame, "map"):
        _register(pd.DataFrame, "map", _cells, options)
    _register(DataFrameGroupBy, "apply", _groups, options)
    _register(SeriesGroupBy, "apply", _groups, options)


def _register(
    cls: Any,
    method: str,
    count: Callable[[Any, dict[str, Any]], int],
    options: Mapping[str, Any],
) -> None:
    original = getattr(cls, method)

    @functools.wraps(original)
    def progress(self: Any, func: Any, *args: Any, **kwargs: Any) -> Any:
        from livebar._integrations.tqdm import tqdm

        settings = dict(options)
        if "title" not in settings and "desc" not in settings:
            settings["title"] = f"{getattr(func, '__name__', None) or method} ({method})"
        with tqdm(total=count(self, kwargs), **settings) as bar:
            task = _counting(func, bar) if callable(func) else func  # a dict for map(): as is
            result = original(self, task, *args, **kwargs)
            bar.n = bar.total or bar.n  # done, however many calls pandas made (it may add some)
        return result

    progress.__name__ = f"progress_{method}"
    progress.__qualname__ = f"{cls.__name__}.progress_{method}"
    setattr(cls, f"progress_{method}", progress)


def _counting(func: Callable[..., Any], bar: Any) -> Callable[..., Any]:
    @functools.wraps(func)
    def counted(*args: Any, **kwargs: Any) -> Any:
        result = func(*args, **kwargs)
        bar.update(1)
        return result

    return counted


def _length(obj: Any, kwargs: dict[str, Any]) -> int:
    return len(obj)


def _along_axis(frame: Any, kwargs: dict[str, Any]) -> int:
    axis = kwargs.get("axis", 0)
    rows = axis in (1, "columns")
    return int(frame.shape[0] if rows else frame.shape[1])


def _cells(frame: Any, kwargs: dict[str, Any]) -> int:
    return int(frame.size)


def _groups(groupby: Any, kwargs: dict[str, Any]) -> int:
    return int(groupby.ngroups)
