"""``livebar.LogHandler``: log records as push notifications, or as a card's subtitle.

::

    logging.getLogger().addHandler(livebar.LogHandler(level="ERROR"))     # pushes
    logging.getLogger("etl").addHandler(livebar.LogHandler(activity=act, level="INFO"))

Pushes are collapsed and paced by the handler itself before livebar's engine sees them: the
first record of a kind goes out at once, identical ones within ``window`` seconds are counted
and reported in one push ("…and 14 more like it"), and the handler spends at most
``per_minute`` pushes a minute (``burst`` at once). A burst of 500 identical errors is two
requests. What waits is bounded (``max_pending`` distinct messages); beyond that a record is
dropped and counted in ``handler.dropped``, never blocking the thread that logged it.

The handler never raises into ``logging`` and never logs through itself: records of livebar's
own logger and of httpx / httpcore (which livebar's engine uses), and records made on
livebar's own threads, are ignored. The decisions (``PushPlan``) are pure and take ``now``; the
handler is a thin shell with one daemon thread that hands due reports to ``livebar.push``.
"""

from __future__ import annotations

import atexit
import collections
import logging
import threading
import time
import weakref
from typing import TYPE_CHECKING, Callable, NamedTuple

if TYPE_CHECKING:
    from livebar._activity import LiveActivity

__all__ = ["DEFAULT_BURST", "DEFAULT_PER_MINUTE", "DEFAULT_WINDOW", "LogHandler", "PushPlan"]

DEFAULT_PER_MINUTE = 6.0
"""Pushes the handler may send a minute, all messages together."""
DEFAULT_BURST = 3
"""Pushes it may send at once after a quiet spell."""
DEFAULT_WINDOW = 60.0
"""Seconds over which identical records are collapsed into one "…and N more like it"."""
DEFAULT_MAX_PENDING = 20
"""Distinct messages waiting at most; a record of a further one is dropped (and counted)."""
IGNORED_LOGGERS = ("livebar", "httpx", "httpcore")
"""Loggers the handler never forwards: livebar's own, and the HTTP stack its engine uses."""
OWN_THREAD_PREFIX = "livebar-"
"""Records made on livebar's threads (its engine, this handler) are never forwarded."""
MAX_TITLE = 100
MAX_MESSAGE = 240


class Report(NamedTuple):
    """One push to send: a record's own text, or the count of those collapsed since."""

    title: str
    message: str


class _Kind:
    """What the plan knows of one message: when it was first pushed, and repeats since."""

    __slots__ = ("detail", "pushed_at", "repeats", "title")

    def __init__(self, title: str, detail: str) -> None:
        self.title = title
        self.detail = detail
        self.pushed_at: float | None = None
        self.repeats = 0


class PushPlan:
    """The handler's decisions, pure: which record to push when, and what to collapse.

    ``add(key, title, detail)`` records one log record; ``take(now)`` returns the pushes
    due now (and spends their tokens); ``next_due(now)`` says when to look again. A token bucket
    (``per_minute``, at most ``burst`` saved up) paces every push the handler makes.
    """

    def __init__(
        self,
        *,
        per_minute: float = DEFAULT_PER_MINUTE,
        burst: int = DEFAULT_BURST,
        window: float = DEFAULT_WINDOW,
        max_pending: int = DEFAULT_MAX_PENDING,
    ) -> None:
        _check_positive("per_minute", per_minute)
        _check_positive("window", window)
        _check_count("burst", burst)
        _check_count("max_pending", max_pending)
        self.interval = 60.0 / per_minute
        self.burst = burst
        self.window = window
        self.max_pending = max_pending
        self._tokens = float(burst)
        self._refilled: float | None = None
        self._kinds: collections.OrderedDict[str, _Kind] = collections.OrderedDict()
        self.collapsed = 0
        """Records folded into another's push (reported in its "…and N more like it")."""
        self.dropped = 0
        """Records neither pushed nor counted in a report: more distinct messages than
        ``max_pending`` were waiting."""

    def add(self, key: str, title: str, detail: str) -> None:
        """One record of the message ``key``."""
        kind = self._kinds.get(key)
        if kind is not None:
            kind.repeats += 1
            self.collapsed += 1
            return
        if sum(k.pushed_at is None for k in self._kinds.values()) >= self.max_pending:
            self.dropped += 1
            return
        self._kinds[key] = _Kind(title, detail)

    def take(self, now: float, *, everything: bool = False) -> list[Report]:
        """The pushes due at ``now``. ``everything``: the handler is closing; report all that
        waits, whatever the pace (bounded by ``max_pending``)."""
        self._refill(now)
        due: list[Report] = []
        for key, kind in list(self._kinds.items()):
            if kind.pushed_at is None:
                if self._tokens < 1 and not everything:
                    continue
                due.append(Report(kind.title, _with_repeats(kind.detail, kind.repeats)))
            elif kind.repeats and (everything or now >= kind.pushed_at + self.window):
                if self._tokens < 1 and not everything:
                    continue
                due.append(Report(kind.title, _more_like_it(kind.repeats)))
            elif now >= kind.pushed_at + self.window or everything:
                del self._kinds[key]  # quiet for a window: the next one is news again
                continue
            else:
                continue
            self._tokens -= 1
            kind.pushed_at = now
            kind.repeats = 0
        return due

    def next_due(self, now: float) -> float | None:
        """Seconds until ``take`` may have something to do (None: nothing waits)."""
        self._refill(now)
        waits = []
        token = 0.0 if self._tokens >= 1 else (1 - self._tokens) * self.interval
        for kind in self._kinds.values():
            if kind.pushed_at is None:
                waits.append(token)
            else:
                waits.append(max(kind.pushed_at + self.window - now, token if kind.repeats else 0))
        return max(min(waits), 0.0) if waits else None

    def _refill(self, now: float) -> None:
        last = self._refilled
        self._refilled = now
        if last is not None and now > last:
            self._tokens = min(self._tokens + (now - last) / self.interval, float(self.burst))


def _check_positive(field: str, value: object) -> None:
    from livebar import ValidationError

    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValidationError(field, "type", "must be a number")
    if not value > 0:
        raise ValidationError(field, "exclusiveMinimum", "must be > 0")


def _check_count(field: str, value: object) -> None:
    from livebar import ValidationError

    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(field, "type", "must be an integer")
    if value < 1:
        raise ValidationError(field, "minimum", "must be >= 1")


def _with_repeats(detail: str, repeats: int) -> str:
    if not repeats:
        return detail
    more = _more_like_it(repeats)
    return f"{detail} {more}" if detail else more


def _more_like_it(repeats: int) -> str:
    return f"\u2026and {repeats} more like it"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"


class LogHandler(logging.Handler):
    """A ``logging.Handler`` that puts records on the phone.

    Without ``activity``: records at or above ``level`` (default ``ERROR``) become push
    notifications, collapsed and paced (see the module docstring); ``channels``, ``api_key``,
    ``base_url`` and ``disable`` go to ``livebar.push``. With ``activity``: the latest record
    becomes the card's subtitle instead (no push). ``dropped`` counts records not sent because
    too many were waiting, ``collapsed`` those folded into a "…and N more like it".

    ``clock`` and ``thread=False`` are for tests on a virtual clock: without its thread the
    handler sends what is due only when a record arrives or ``tick()`` is called.
    """

    def __init__(
        self,
        level: int | str = logging.ERROR,
        *,
        activity: LiveActivity | None = None,
        channels: list[str] | None = None,
        api_key: str | None = None,
        base_url: str | None = None,
        disable: bool | None = None,
        per_minute: float = DEFAULT_PER_MINUTE,
        burst: int = DEFAULT_BURST,
        window: float = DEFAULT_WINDOW,
        max_pending: int = DEFAULT_MAX_PENDING,
        clock: Callable[[], float] = time.monotonic,
        thread: bool = True,
    ) -> None:
        super().__init__(level)
        if activity is not None and not hasattr(activity, "update"):
            from livebar import ValidationError

            raise ValidationError("activity", "type", "must be a livebar.LiveActivity")
        self.activity = activity
        self._channels = channels
        self._api_key = api_key
        self._base_url = base_url
        self._disable = disable
        self._plan = PushPlan(
            per_minute=per_minute, burst=burst, window=window, max_pending=max_pending
        )
        self._clock = clock
        self._threaded = thread
        self._plan_lock = threading.Lock()  # never held while calling out
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._failures = 0
        self.sent = 0
        """Pushes handed to livebar's engine."""

    @property
    def dropped(self) -> int:
        """Records not sent: too many distinct messages were waiting (or the handler failed)."""
        return self._plan.dropped + self._failures

    @property
    def collapsed(self) -> int:
        """Records counted into another record's push instead of being sent on their own."""
        return self._plan.collapsed

    def emit(self, record: logging.LogRecord) -> None:
        """Forward ``record`` (never raises, never blocks on the network)."""
        try:
            if self._closed or _is_own(record):
                return
            text = record.getMessage().strip()
            if self.activity is not None:
                if not self.activity.closed:
                    self.activity.update(subtitle=_cut(text.splitlines()[0] if text else "", 120))
                return
            title, detail = _push_text(record, text)
            with self._plan_lock:
                self._plan.add(f"{record.levelno}\0{record.name}\0{text}", title, detail)
            self._start()
            self.tick()
        except Exception:  # a handler must never break the program that logs
            self._failures += 1

    def tick(self) -> float | None:
        """Hand over the pushes due now; the seconds until the next look (the handler's thread
        calls this, and ``emit``; tests may too)."""
        now = self._clock()
        with self._plan_lock:
            due = self._plan.take(now)
            wait = self._plan.next_due(now)
        self._send(due)
        return wait

    def flush(self) -> None:
        """Hand over everything waiting now, whatever the pace (``logging.shutdown`` calls it)."""
        try:
            with self._plan_lock:
                due = self._plan.take(self._clock(), everything=True)
            self._send(due)
        except Exception:
            self._failures += 1

    def close(self) -> None:
        """Flush, stop the thread, and wait (at most livebar's flush deadline) for delivery."""
        if not self._closed:
            self.flush()
            self._closed = True
            self._wake.set()
            if self.sent:
                import livebar

                livebar.flush()
        super().close()

    def _send(self, reports: list[Report]) -> None:
        if not reports:
            return
        import livebar

        sent = failed = 0
        for report in reports:
            try:
                livebar.push(
                    report.title,
                    message=report.message or None,
                    channels=self._channels,
                    api_key=self._api_key,
                    base_url=self._base_url,
                    disable=self._disable,
                )
                sent += 1
            except Exception:  # a refused option: counted, never raised into logging
                failed += 1
        with self._plan_lock:
            self.sent += sent
            self._failures += failed

    def _start(self) -> None:
        if not self._threaded:
            return
        if self._thread is not None:
            self._wake.set()
            return
        thread = threading.Thread(
            target=_run, args=(weakref.ref(self), self._wake), name="livebar-log-handler"
        )
        thread.daemon = True
        self._thread = thread
        thread.start()
        atexit.register(_flush_at_exit, weakref.ref(self))


def _run(ref: weakref.ReferenceType[LogHandler], wake: threading.Event) -> None:
    """The handler's thread: a short shell around ``tick()`` (it holds no strong reference)."""
    timeout: float | None = None
    while True:
        wake.wait(timeout)
        wake.clear()
        handler = ref()
        if handler is None or handler._closed:
            return
        try:
            timeout = handler.tick()
        except Exception:
            handler._failures += 1
            timeout = handler._plan.interval
        del handler


def _flush_at_exit(ref: weakref.ReferenceType[LogHandler]) -> None:
    """Registered after livebar's engine started, so it runs before its exit hook (LIFO) and
    before ``logging.shutdown``: the last reports go out with the engine's final flush."""
    handler = ref()
    if handler is not None:
        handler.flush()
        if handler.sent:
            import livebar

            livebar.flush()


def _is_own(record: logging.LogRecord) -> bool:
    name = record.name
    for own in IGNORED_LOGGERS:
        if name == own or name.startswith(own + "."):
            return True
    return (record.threadName or "").startswith(OWN_THREAD_PREFIX)


def _push_text(record: logging.LogRecord, text: str) -> tuple[str, str]:
    """The push's title (the message's first line) and text (level, logger, exception)."""
    lines = text.splitlines()
    title = _cut(lines[0], MAX_TITLE) if lines else f"{record.levelname} in {record.name}"
    detail = f"{record.levelname} · {record.name}"
    exc = record.exc_info[1] if record.exc_info else None
    if exc is not None:
        detail += f" · {type(exc).__name__}: {exc}".rstrip(": ")
    elif len(lines) > 1:
        detail += " · " + " ".join(line.strip() for line in lines[1:])
    return title, _cut(detail, MAX_MESSAGE)
