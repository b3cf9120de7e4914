"""What an activity hands the engine: its options resolved into a frozen spec, and its samples.

The options of a Live Activity are written once, here.

``ActivityOptions`` is the one list of what ``live_activity``, ``track``, ``atrack`` and the
decorator accept (``livebar.tqdm`` takes ``SharedOptions``: the rest comes from tqdm's own
arguments). Typed as a ``TypedDict``, so ``**options: Unpack[ActivityOptions]`` lets mypy and
IDEs check every call. ``resolve_spec`` checks every value once, at the call, and raises a
``ValidationError`` naming the option before anything is sent; the result, an ``ActivitySpec``,
is all the engine ever reads of the user's options.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, NamedTuple, TypedDict, cast

from livebar import _defaults
from livebar._job.endings import Outcome
from livebar._job.watchdog import Watch
from livebar._wire import checks as checks
from livebar._wire.errors import ConfigurationError, ValidationError

if TYPE_CHECKING:
    from livebar._wire.client import Client
    from livebar._wire.payload import Action, Badge, Icon

__all__ = [
    "ActivityOptions",
    "ActivitySpec",
    "IntegrationOptions",
    "PushOptions",
    "SharedOptions",
    "option_names",
    "resolve_spec",
]


class SharedOptions(TypedDict, total=False):
    """Options of an activity that ``livebar.tqdm`` accepts too."""

    steps: int | Sequence[str] | None
    """A segmented bar: the number of steps, or their names."""
    subtitle: str | None
    color: str | None
    step_color: str | None
    step_colors: Sequence[str] | None
    icon: Icon | str | None
    badge: Badge | str | None
    action: Action | None
    secondary_action: Action | None
    channels: Sequence[str] | None
    auto_dismiss_minutes: int | None
    failure_auto_dismiss_minutes: int | None
    stream_key: str | None
    lifecycle: str | None
    """``"stream"`` (the default) or ``"manual"``: which of the API's lifecycles to use."""
    notify_on: Iterable[str]
    """Outcomes (``"failed"``, ``"done"``, …) and watchdog events (``"stalled"``,
    ``"overrun"``) that also send a push notification."""
    stall_after: float | timedelta | None
    """Say so on the card when the progress has not moved for this long (seconds or a
    ``timedelta``; off by default: ``livebar._job.watchdog``)."""
    expected: float | timedelta | None
    """How long the job is expected to take: past it the card says how far over it runs."""
    client: Client | None
    api_key: str | None
    base_url: str | None
    flush_timeout: float | None
    ranks: str | None
    """``"main"`` (default, or ``LIVEBAR_RANKS``): mirror only a distributed job's main process;
    ``"all"``: every process (``livebar._engine.ranks``)."""
    # -- a scheduled job (issue 20 B: the missed run) --
    name: str | None
    """A stable name for the job across runs (default: its ``stream_key``)."""
    expect_every: float | timedelta | None
    """It should start again this often: once a period passes without a start (and ``grace``
    after it), every livebar process on the account and ``livebar reap`` push
    "Nightly backup has not started (last ran 26h ago)", once per missed period."""
    grace: float | timedelta | None
    """How late a start may be before it counts as missed (default: a 24th of the period)."""


class IntegrationOptions(SharedOptions, total=False):
    """The options of an integration whose framework knows the total (the training callbacks,
    ``process_map``, Dask, Ray, pandas): every option of ``live_activity`` but ``total``."""

    show_count: bool
    disable: bool | None


class ActivityOptions(IntegrationOptions, total=False):
    """Every option of ``live_activity`` (``livebar.tqdm`` takes ``total``, ``show_count`` and
    ``disable`` from tqdm's own arguments)."""

    total: float | None


class PushOptions(TypedDict, total=False):
    """What ``livebar.push`` takes besides its title, message and channels."""

    subtitle: str | None
    payload: Mapping[str, Any] | None
    badge: int | None
    media: str | None
    redirection: str | None
    actions: Sequence[Action]
    icon: str | None
    tags: Sequence[str] | None
    metadata: Mapping[str, str | float | bool] | None
    allow_http: bool
    sound: str | None
    interruption_level: str | None
    client: Client | None
    api_key: str | None
    base_url: str | None
    disable: bool | None


def option_names(options: type[Any] = ActivityOptions) -> frozenset[str]:
    """The option names of a ``TypedDict`` of options (with those of its bases)."""
    known = _OPTION_NAMES.get(options)
    if known is None:
        known = _OPTION_NAMES[options] = frozenset(options.__annotations__) | frozenset(
            name for base in options.__mro__[1:] for name in getattr(base, "__annotations__", {})
        )
    return known


_OPTION_NAMES: dict[type[Any], frozenset[str]] = {}
"""``option_names`` of each options type, worked out once (every activity checks its options)."""


class ActivitySpec(NamedTuple):
    """A Live Activity's options, checked and resolved once; what the engine reads."""

    title: str
    steps: int | tuple[str, ...] | None = None
    total: float | None = None
    show_count: bool = False
    subtitle: str | None = None
    color: str | None = None
    step_color: str | None = None
    step_colors: tuple[str, ...] | None = None
    icon: Icon | None = None
    badge: Badge | None = None
    action: Action | None = None
    secondary_action: Action | None = None
    channels: tuple[str, ...] | None = None
    auto_dismiss_minutes: int = _defaults.DEFAULT_AUTO_DISMISS_MINUTES
    failure_auto_dismiss_minutes: int = _defaults.DEFAULT_FAILURE_AUTO_DISMISS_MINUTES
    stream_key: str | None = None
    lifecycle: str = "stream"
    notify_on: frozenset[Outcome | Watch] = frozenset()
    stall_after: float | None = None
    expected: float | None = None
    client: Client | None = None
    api_key: str | None = None  # never shown: see __repr__
    base_url: str | None = None
    disable: bool | None = None
    flush_timeout: float | None = None
    ranks: str | None = None
    # -- a scheduled job (``check_schedule``) --
    name: str | None = None
    expect_every: float | None = None
    grace: float | None = None

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{name}={value!r}" for name, value in self._asdict().items() if name != "api_key"
        )
        return f"ActivitySpec({shown})"

    def dismiss_minutes(self, outcome: Outcome) -> int:
        """How long the ended card stays: failures and cancellations longer."""
        if outcome.is_trouble:
            return self.failure_auto_dismiss_minutes
        return self.auto_dismiss_minutes

    def options(self) -> dict[str, Any]:
        """The spec as keyword options again (``copy()`` and the decorator reuse them)."""
        defaults = self._field_defaults
        return {
            name: value
            for name, value in self._asdict().items()
            if name != "title" and value != defaults.get(name)
        }


def check_names(options: Mapping[str, Any], known: type[Any] = ActivityOptions) -> None:
    """A ``ValidationError`` naming the first of ``options`` that ``known`` does not list."""
    unknown = sorted(set(options) - option_names(known))
    if unknown:
        raise ValidationError(unknown[0], "additionalProperties", "is not an option of livebar")


def resolve_spec(title: object, options: Mapping[str, Any]) -> ActivitySpec:
    """Check ``title`` and ``options`` and freeze them; ``ValidationError`` names the option."""
    check_names(options)
    get = options.get
    if get("steps") is not None and get("total") is not None:
        raise ValidationError(
            "total", "not", "cannot go with steps: a bar counts items or steps, not both"
        )
    return ActivitySpec(
        title=check_title(title),
        steps=check_steps(get("steps")),
        total=check_total(get("total")),
        show_count=_flag(get("show_count", False), "show_count"),
        subtitle=check_text(get("subtitle"), "subtitle"),
        color=check_color(get("color"), "color"),
        step_color=check_color(get("step_color"), "step_color"),
        step_colors=_colors(get("step_colors")),
        icon=_icon(get("icon")),
        badge=_badge(get("badge")),
        action=_action(get("action"), "action"),
        secondary_action=_action(get("secondary_action"), "secondary_action"),
        channels=_channels(get("channels")),
        auto_dismiss_minutes=_minutes(
            get("auto_dismiss_minutes"),
            "auto_dismiss_minutes",
            _defaults.DEFAULT_AUTO_DISMISS_MINUTES,
        ),
        failure_auto_dismiss_minutes=_minutes(
            get("failure_auto_dismiss_minutes"),
            "failure_auto_dismiss_minutes",
            _defaults.DEFAULT_FAILURE_AUTO_DISMISS_MINUTES,
        ),
        stream_key=_stream_key(get("stream_key")),
        lifecycle=_lifecycle(get("lifecycle"), get("stream_key")),
        notify_on=_notify_on(get("notify_on", ())),
        stall_after=check_span(get("stall_after"), "stall_after"),
        expected=check_span(get("expected"), "expected"),
        client=_client(get("client")),
        api_key=_account_setting(get("api_key"), "api_key"),
        base_url=_account_setting(get("base_url"), "base_url"),
        disable=_optional_flag(get("disable"), "disable"),
        flush_timeout=_seconds(get("flush_timeout"), "flush_timeout"),
        ranks=check_ranks(get("ranks")),
        **check_schedule(get("name"), get("expect_every"), get("grace"), get("stream_key")),
    )


# -- checks of single values, shared with the activity's own setters ---------------------------


def check_title(title: object) -> str:
    text = checks.string(title, "title", min_length=1)
    if not checks.sendable(text).strip():
        raise ValidationError("title", "minLength", "must not be blank")
    return text


def check_text(text: object, field: str) -> str | None:
    return checks.optional(checks.string, text, field)


def check_color(color: object, field: str) -> str | None:
    return checks.optional(checks.color, color, field)


def check_number(value: object, field: str, *, minimum: float | None = None) -> float:
    """A finite real number (not a bool, not a string), as a ``float``."""
    return float(checks.number(value, field, minimum=minimum))


def check_total(total: object) -> float | None:
    """A total is a finite number >= 0; 0 (an empty input) counts as no total at all."""
    return None if total is None else check_number(total, "total", minimum=0)


def check_steps(steps: object) -> int | tuple[str, ...] | None:
    if steps is None:
        return None
    if isinstance(steps, (bool, float)):
        raise ValidationError("steps", "type", "must be a positive int or a list of step names")
    if isinstance(steps, int):
        if steps < 1:
            raise ValidationError("steps", "minimum", "must be at least 1")
        if steps > checks.MAX_JSON_INTEGER:
            raise ValidationError("steps", "maximum", f"must be at most {checks.MAX_JSON_INTEGER}")
        return steps
    if isinstance(steps, (str, bytes)) or not isinstance(steps, Sequence):
        # steps="build,test,ship" would be fifteen one-letter steps
        raise ValidationError("steps", "type", "must be a positive int or a list of step names")
    names = tuple(steps)
    if not names or not all(isinstance(name, str) and name for name in names):
        raise ValidationError("steps", "type", "must be a non-empty list of non-empty names")
    return names


def check_schedule(
    name: object, expect_every: object, grace: object, stream_key: object
) -> dict[str, Any]:
    """``name``, ``expect_every`` and ``grace`` checked (seconds, or a ``timedelta``), with the
    grace's default; ``expect_every`` needs a stable name (``name=`` or ``stream_key=``)."""
    stable = checks.optional(checks.string, name, "name")
    if stable is not None and not stable.strip():
        raise ValidationError("name", "minLength", "must not be blank")
    every = check_span(expect_every, "expect_every")
    given_grace = check_span(grace, "grace", zero=True)
    if every is None:
        if given_grace is not None:
            raise ValidationError("grace", "dependentRequired", "needs expect_every")
        return {"name": stable}
    if stable is None and stream_key is None:
        raise ValidationError(
            "expect_every",
            "dependentRequired",
            "needs a stable name across runs: name= or stream_key=",
        )
    default = every / _defaults.DEFAULT_GRACE_DIVISOR
    grace_s = default if given_grace is None else given_grace
    return {"name": stable, "expect_every": every, "grace": grace_s}


def _flag(value: object, field: str) -> bool:
    return checks.boolean(value, field)


def _optional_flag(value: object, field: str) -> bool | None:
    return checks.optional(checks.boolean, value, field)


def _colors(colors: object) -> tuple[str, ...] | None:
    if colors is None:
        return None
    listed = checks.array(colors, "step_colors")
    return tuple(checks.color(c, f"step_colors[{i}]") for i, c in enumerate(listed))


def _payload_class(name: str) -> Any:
    """A payload class, imported only when the user passed an object (so it is loaded already)."""
    from livebar._wire import payload as _payload

    return getattr(_payload, name)


def _from_text(value: object, field: str, class_name: str, text_field: str, kind: str) -> Any:
    """An option given as a payload object, or as the text its main field takes."""
    if value is None:
        return None
    cls = _payload_class(class_name)
    if isinstance(value, str):
        text = value
        value = _within(field, lambda: cls(**{text_field: text}))
    if not isinstance(value, cls):
        raise ValidationError(field, "type", f"must be {kind} or a livebar.{class_name}")
    return value


def _icon(icon: object) -> Icon | None:
    return cast("Icon | None", _from_text(icon, "icon", "Icon", "symbol", "an SF Symbol name"))


def _badge(badge: object) -> Badge | None:
    return cast("Badge | None", _from_text(badge, "badge", "Badge", "title", "a text"))


def _action(action: object, field: str) -> Action | None:
    if action is None:
        return None
    cls = _payload_class("Action")
    if not isinstance(action, cls):
        raise ValidationError(
            field, "type", "must be a livebar.Action (e.g. Action.open_url(title, url))"
        )
    return cast("Action", action)


def _channels(channels: object) -> tuple[str, ...] | None:
    # channels="ops" would be three one-letter channels: checks.channels wants a list
    return checks.optional(checks.channels, channels, "channels")


def _minutes(value: object, field: str, default: int) -> int:
    if value is None:
        return default
    return checks.integer(value, field, minimum=0, maximum=checks.MAX_JSON_INTEGER)


def _stream_key(key: object) -> str | None:
    if key is None:
        return None
    from livebar._wire.payload import validate_stream_key

    return validate_stream_key(key)


def _lifecycle(lifecycle: object, stream_key: object) -> str:
    if lifecycle is None:
        return "stream"
    if lifecycle not in _defaults.LIFECYCLES:
        raise ValidationError("lifecycle", "enum", "must be 'stream' or 'manual'")
    if lifecycle == "manual" and stream_key is not None:
        raise ValidationError("lifecycle", "enum", "a stream_key needs the stream lifecycle")
    return str(lifecycle)


_WATCH_EVENTS = (Watch.STALLED, Watch.OVERRUN)


def _notify_on(events: object) -> frozenset[Outcome | Watch]:
    if isinstance(events, str):
        events = (events,)  # notify_on="failed" means the one outcome
    if not isinstance(events, Iterable):
        raise ValidationError("notify_on", "type", "must be a list of outcomes and events")
    chosen: set[Outcome | Watch] = set()
    for event in events:
        if event in _WATCH_EVENTS:
            chosen.add(Watch(event))
            continue
        try:
            chosen.add(Outcome(event))
        except ValueError:
            known = ", ".join([o.value for o in Outcome] + [w.value for w in _WATCH_EVENTS])
            raise ValidationError(
                "notify_on", "enum", f"unknown outcome or event {event!r} (one of {known})"
            ) from None
    return frozenset(chosen)


def check_span(value: object, field: str, *, zero: bool = False) -> float | None:
    """A span of time (the watchdog's, a schedule's): seconds (an int or float) or a
    ``timedelta``, more than zero (``zero``: or zero); None is off."""
    if value is None:
        return None
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        raise ValidationError(field, "type", "must be seconds (a number) or a datetime.timedelta")
    if not math.isfinite(seconds):
        raise ValidationError(field, "type", "must be a finite number of seconds")
    if zero and seconds < 0:
        raise ValidationError(field, "minimum", "must be 0 seconds or more")
    if not zero and seconds <= 0:
        raise ValidationError(field, "exclusiveMinimum", "must be more than 0 seconds")
    return seconds


def check_ranks(ranks: str | None, name: str = "ranks") -> str | None:
    """``ranks`` if it is a known mode (or None); a ``ValidationError`` naming ``name`` if not."""
    if ranks is not None and ranks not in _defaults.RANK_MODES:
        modes = _defaults.RANK_MODES
        raise ValidationError(name, "enum", f"must be one of {modes}, not {ranks!r}")
    return ranks


def _client(client: object) -> Client | None:
    if client is None:
        return None
    from livebar._wire.client import AsyncClient, Client  # a client object: imported already

    if isinstance(client, AsyncClient):
        raise ValidationError(
            "client",
            "type",
            "must be a livebar.Client: an AsyncClient belongs to your event loop and cannot be "
            "driven by livebar's background sender (pass api_key=/base_url= instead)",
        )
    if not isinstance(client, Client):
        raise ValidationError("client", "type", "must be a livebar.Client")
    return client


def _account_setting(value: object, field: str) -> str | None:
    """``api_key`` / ``base_url`` given explicitly: checked now, so a typo fails at the call."""
    if value is None:
        return None
    from livebar._wire.config import resolve_config

    if not isinstance(value, str):
        raise ValidationError(field, "type", "must be a string")
    try:
        if field == "api_key":
            resolve_config(api_key=value, environ={})
        else:
            resolve_config(base_url=value, environ={})
    except ConfigurationError as exc:
        raise ValidationError(field, "format", str(exc).partition(": ")[2]) from exc
    return value


def _seconds(value: object, field: str) -> float | None:
    return None if value is None else check_number(value, field, minimum=0)


def _within(field: str, build: Any) -> Any:
    try:
        return build()
    except ValidationError as exc:
        raise exc.within(field) from exc
