"""``livebar.tqdm``: tqdm's own bar, mirrored to a Live Activity.

The class extends ``tqdm.auto.tqdm`` (terminal bar, Jupyter widget and ``async for`` exactly as
tqdm does them) and adds nothing to the loop: the activity samples ``bar.n`` from the dispatcher's
thread through ``LiveActivity.set_source``. Only the things a loop does rarely (``reset``,
``set_description``, ``set_postfix``, ``close``) talk to the activity.

How a bar maps onto the activity:

- known ``total``: a ``progress`` activity, ``n / total`` as a percentage, or as ``n`` of
  ``total`` when the bar has a unit of its own (``unit="files"``, not scaled);
- unknown ``total``: the engine's open-ended state (no fake percentage); the count goes in the
  subtitle when the bar is closed;
- ``desc`` is the title unless ``title=`` is given; later ``set_description`` and ``set_postfix``
  become the subtitle;
- ``reset(total=...)`` keeps the same activity (one activity for all of a Keras-style run);
- only the outermost open bar mirrors by default; an inner bar mirrors with ``live=True``;
- ``disable=None`` on a non-TTY hides the terminal bar but keeps counting for the activity;
  ``disable=True`` and ``live=False`` turn the activity off.

Endings: leaving ``with tqdm(...)`` on an exception fails the activity (and re-raises);
an exception or ``break`` in a bare ``for`` loop closes the generator, which looks the same as a
``break``: the activity ends "stopped" at its real progress, and the engine upgrades it to failed
if the exception then reaches ``sys.excepthook``. Finishing the loop or ``close()`` ends it done.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import sys
import threading
import weakref
from collections.abc import Iterable, Iterator
from types import FrameType
from typing import IO, TYPE_CHECKING, Any

import tqdm.std as _tqdm_std  # type: ignore[import-untyped]
from tqdm.auto import tqdm as _tqdm_auto  # type: ignore[import-untyped]

from livebar._activity import LiveActivity
from livebar._defaults import COLORS
from livebar._job.endings import Facts
from livebar._job.loops import LoopExit, LoopSite, how_left, loop_site
from livebar._job.options import SharedOptions, option_names

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["tqdm", "trange"]

_INIT = _tqdm_std.tqdm.__init__.__code__
_TQDM_PARAMETERS: tuple[str, ...] = _INIT.co_varnames[2 : _INIT.co_argcount]
"""tqdm's positional parameters after ``iterable`` (``desc``, ``total``, ``leave``, ...)."""
_LIVE_OPTIONS = option_names(SharedOptions)
"""The keywords that are livebar's, not tqdm's."""

_FALLBACK_TITLE = "Working"

_mirroring: weakref.WeakSet[tqdm] = weakref.WeakSet()
"""Open bars that take part in the outermost-bar rule (every live-capable bar still open)."""
_mirroring_lock = threading.Lock()


class TqdmOptions(SharedOptions, total=False):
    """``livebar.tqdm``'s keywords: tqdm's own (passed through untouched) and livebar's."""

    desc: str | None
    total: float | None
    leave: bool | None
    file: IO[str] | None
    ncols: int | None
    mininterval: float
    maxinterval: float
    miniters: float | None
    ascii: bool | str | None
    disable: bool | None
    unit: str
    unit_scale: bool | float
    dynamic_ncols: bool
    smoothing: float
    bar_format: str | None
    initial: float
    position: int | None
    postfix: Any
    unit_divisor: float
    write_bytes: bool
    lock_args: tuple[Any, ...] | None
    nrows: int | None
    colour: str | None
    delay: float
    gui: bool
    display: bool


def _default_title() -> str:
    """The script's file name (``train.py``), or a neutral word in a notebook or a REPL."""
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    if name.endswith(".py") and name != "__main__.py" and not name.startswith("ipykernel"):
        return name
    return _FALLBACK_TITLE


def _title_from_desc(desc: object) -> str:
    """``"Epoch 3: "`` (the shape ``set_description`` gives) reads as ``"Epoch 3"``."""
    return str(desc).strip().rstrip(":").strip() if desc else ""


def _sample_n(ref: weakref.ReferenceType[tqdm]) -> float:
    """The bar's count. tqdm's own loop keeps it in a local and writes ``bar.n`` only when it
    redraws; while that loop is suspended (between items, or in a job's body), its local is
    the true count (a job stopped mid-loop from another thread shows where it really was)."""
    bar = ref()
    if bar is None:
        return 0.0
    n = float(bar.n)  # tqdm lets n be anything (initial=""): the caller counts that as unknown
    loop = bar._loop() if bar._loop is not None else None
    if loop is None:
        return n
    frame = getattr(loop, "gi_frame", None)
    if frame is not None and not loop.gi_running:
        counted = frame.f_locals.get("n")
        if isinstance(counted, (int, float)) and not isinstance(counted, bool):
            return max(n, float(counted))
    return n


def _closer() -> FrameType | None:
    """The first frame outside tqdm and this module: the one that let go of the loop."""
    frame = sys._getframe(2) if hasattr(sys, "_getframe") else None
    while frame is not None and str(frame.f_globals.get("__name__", "")).startswith(
        ("tqdm", __name__)
    ):
        frame = frame.f_back
    return frame


class tqdm(_tqdm_auto):  # type: ignore[misc]  # tqdm's own spelling
    """``tqdm.auto.tqdm`` that also shows the loop as an iPhone Live Activity.

    Every tqdm argument and method works unchanged; ``title``, ``live`` and the options of
    ``livebar.live_activity`` (``SharedOptions``) are livebar's own and never reach tqdm.
    ``live=None`` (default) mirrors the outermost bar, ``live=True`` mirrors this bar even when
    nested, ``live=False`` never mirrors.
    """

    n: float
    total: float | None
    disable: bool
    iterable: Any
    _live: LiveActivity | None

    def __init__(
        self,
        iterable: Iterable[Any] | None = None,
        *args: Any,
        title: str | None = None,
        live: bool | None = None,
        **kwargs: Unpack[TqdmOptions],
    ) -> None:
        # Set before tqdm's __init__: it may refresh, set_postfix or (on a bad argument) close.
        self._live = None
        self._activity: LiveActivity | None = None
        self._in_with = False
        self._exit_exc: BaseException | None = None
        self._loop_exc: BaseException | None = None
        self._stopped_early = False
        self._left = LoopExit.UNKNOWN
        self._site: LoopSite | None = None
        self._exited = False
        self._loop: weakref.ReferenceType[Any] | None = None
        live_options: dict[str, Any] = {
            name: kwargs.pop(name)  # type: ignore[misc]
            for name in list(kwargs)
            if name in _LIVE_OPTIONS
        }
        self._subtitle_base = live_options.get("subtitle")
        self._last_subtitle: str | None = self._subtitle_base
        self._title_desc = ""

        options: dict[str, Any] = dict(zip(_TQDM_PARAMETERS, args))
        options.update(kwargs)
        disable_arg = options.get("disable", False)
        activity = self._new_activity(iterable, options, live_options, title=title, live=live)
        try:
            super().__init__(iterable, *args, **kwargs)
        except BaseException:
            self._forget()
            raise

        if activity is None:
            return
        if self.disable and disable_arg is not None:
            # Disabled by tqdm's own configuration (``TQDM_DISABLE``): everything off.
            self._forget()
            return
        if self.disable:
            # ``disable=None`` on a non-TTY: tqdm stops counting, the activity must not.
            self.update = self._count_hidden
        self._live = self._activity = activity
        activity.start()
        activity.set_source(functools.partial(_sample_n, weakref.ref(self)))
        self._sync_subtitle()

    def _new_activity(
        self,
        iterable: Iterable[Any] | None,
        options: dict[str, Any],
        live_options: dict[str, Any],
        *,
        title: str | None,
        live: bool | None,
    ) -> LiveActivity | None:
        """The bar's activity, when it mirrors (the outermost bar, or ``live=True``)."""
        if live is False or options.get("disable", False) is True:
            return None
        with _mirroring_lock:
            mirrors = bool(live) or not _mirroring
            _mirroring.add(self)
        if not mirrors:
            return None
        _keep_lines_apart()
        self._title_desc = _title_from_desc(options.get("desc"))
        total = _known_total(iterable, options.get("total"))
        if live_options.get("color") is None:
            live_options["color"] = _api_colour(options.get("colour"))
        try:
            activity = LiveActivity(
                title or self._title_desc or _default_title(),
                total=total,
                show_count=_counts_read_better(options, total),
                **live_options,
            )
        except BaseException:
            self._forget()
            raise
        self._site = loop_site(2)
        return activity

    @property
    def activity(self) -> LiveActivity | None:
        """The Live Activity this bar mirrors to (kept after closing), or None."""
        return self._activity

    # -- counting while tqdm is hidden --------------------------------------------------------

    def __iter__(self) -> Iterator[Any]:
        if self._live is not None and self.disable:
            return self._iter_hidden()
        iterator: Iterator[Any] = super().__iter__()
        if self._live is not None:  # tqdm's generator: its local ``n`` is the live count
            self._loop = weakref.ref(iterator)  # weak: a loop left by ``break`` is closed at once
        return iterator

    def _iter_hidden(self) -> Iterator[Any]:
        n = self.n
        try:
            for obj in self.iterable:
                yield obj
                n += 1
                self.n = n
        finally:
            self.n = n
            self.close()

    def _count_hidden(self, n: float = 1) -> None:
        self.n += n

    # -- things a loop does rarely -------------------------------------------------------------

    def reset(self, total: float | None = None) -> None:
        super().reset(total=total)
        live = self._live
        if live is not None:
            live.set_total(self.total)
            options = {
                "unit": getattr(self, "unit", "it"),
                "unit_scale": getattr(self, "unit_scale", False),
            }
            live.show_count = _counts_read_better(options, self.total)  # the new total may be large
            live.update(0)

    def set_description(self, desc: str | None = None, refresh: bool | None = True) -> None:
        super().set_description(desc, refresh)
        self._sync_subtitle()

    def set_description_str(self, desc: str | None = None, refresh: bool | None = True) -> None:
        super().set_description_str(desc, refresh)
        self._sync_subtitle()

    def set_postfix(
        self, ordered_dict: Any = None, refresh: bool | None = True, **kwargs: Any
    ) -> None:
        super().set_postfix(ordered_dict, refresh, **kwargs)
        self._sync_subtitle()

    def set_postfix_str(self, s: str = "", refresh: bool | None = True) -> None:
        super().set_postfix_str(s, refresh)
        self._sync_subtitle()

    def _sync_subtitle(self) -> None:
        live = getattr(self, "_live", None)
        if live is None:
            return
        desc = _title_from_desc(getattr(self, "desc", ""))
        parts = [desc] if desc and desc != self._title_desc else []
        postfix = getattr(self, "postfix", None)
        if postfix:
            parts.append(str(postfix))
        subtitle = " · ".join(parts) or self._subtitle_base or ""  # "" clears it
        if subtitle != (self._last_subtitle or ""):
            self._last_subtitle = subtitle
            live.update(subtitle=subtitle)

    # -- endings --------------------------------------------------------------------------------

    def __enter__(self) -> tqdm:
        self._in_with = True
        entered: tqdm = super().__enter__()
        return entered

    def __exit__(self, exc_type: Any, exc_value: Any, traceback: Any) -> None:
        self._in_with = False
        self._exited = True
        self._exit_exc = exc_value
        try:
            super().__exit__(exc_type, exc_value, traceback)
        finally:
            self._end_live()

    def __del__(self) -> None:
        # Collected without being closed (an ``async for`` left by ``break``, a forgotten bar).
        if getattr(self, "_live", None) is not None:
            self._stopped_early = True
        super().__del__()

    def close(self) -> None:
        try:
            super().close()
        finally:
            if getattr(self, "_live", None) is None:
                self._forget()
            else:
                exc_type, exc, _ = sys.exc_info()
                if exc_type is GeneratorExit:
                    # The loop was left early: ``break``, or an exception in its body.
                    self._stopped_early = True
                    self._left = how_left(self._site, _closer())
                elif exc is not None and not isinstance(exc, (StopIteration, StopAsyncIteration)):
                    # The iterable itself raised (or close() runs in an ``except`` block).
                    self._loop_exc = exc
                if not self._in_with:  # inside ``with``, __exit__ knows best: wait for it
                    self._end_live()

    def _end_live(self) -> None:
        live, self._live = self._live, None
        self._forget()
        if live is None or live.closed:  # ended already (by the caller): nothing to add
            return
        # Freeze the count: the ending is built later, maybe after this bar is collected.
        live.set_source(None)
        n = self.n
        if isinstance(n, (int, float)) and not isinstance(n, bool):  # tqdm takes initial=""
            live.update(n)
        exc = self._exit_exc or self._loop_exc
        if exc is not None:
            facts = Facts(exception=exc)
        elif self._stopped_early and self._exit_exc is None and not self._exited:
            # A bare loop: was it a break, or an exception?
            facts = Facts(left=self._left or LoopExit.UNKNOWN)
        else:
            facts = Facts(stopped_early=self._stopped_early)
        live.finish(facts)

    def _forget(self) -> None:
        with _mirroring_lock:
            _mirroring.discard(self)


class _LinesApart(logging.Filter):
    """On the ``livebar`` logger while bars are drawn: a line livebar logs (on the engine's
    thread, whenever) would be written after a bar's half-drawn line and glued to it; the bars
    drawn on a terminal are cleared first (they draw themselves again at their next refresh,
    as around ``tqdm.write``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        with contextlib.suppress(Exception):  # never let drawing fail a log line
            for bar in list(getattr(_tqdm_std.tqdm, "_instances", ())):
                isatty = getattr(getattr(bar, "fp", None), "isatty", None)
                if not bar.disable and callable(isatty) and isatty():
                    bar.clear()
        return True


_lines_apart = _LinesApart()


def _keep_lines_apart() -> None:
    logger = logging.getLogger("livebar")
    if _lines_apart not in logger.filters:
        logger.addFilter(_lines_apart)


def _known_total(iterable: object, total: object) -> float | None:
    """The total tqdm will use: the argument, else ``len(iterable)``; infinity means unknown."""
    if total is None and iterable is not None:
        try:
            total = len(iterable)  # type: ignore[arg-type]
        except (TypeError, AttributeError):
            total = None
    if isinstance(total, bool) or not isinstance(total, (int, float)):
        return None  # tqdm decides what to make of it; the activity counts without a total
    if not 0 <= total < float("inf"):
        return None  # tqdm accepts total=-1 or inf: for the phone that is "unknown"
    try:
        return float(total)
    except OverflowError:  # an integer too large for a float: tqdm decides, the phone counts
        return None


_MAX_COUNTED_TOTAL = 10_000
"""Above this, raw counts (``4200000 / 10000000``) read worse on the phone than a percentage."""


def _counts_read_better(options: dict[str, Any], total: float | None) -> bool:
    """``420 / 1000 files`` says more than ``42%`` when the bar counts things of its own unit.

    Scaled units (``unit_scale``: bytes shown as ``MB``) and large totals stay percentages: the
    phone would show long raw numbers.
    """
    unit = options.get("unit", "it")
    small = total is not None and total <= _MAX_COUNTED_TOTAL
    return small and bool(unit) and unit != "it" and not options.get("unit_scale")


def _api_colour(colour: object) -> str | None:
    return colour if isinstance(colour, str) and colour in COLORS else None


def trange(*args: int, **kwargs: Any) -> tqdm:
    """``livebar.tqdm(range(*args), **kwargs)``."""
    return tqdm(range(*args), **kwargs)
