"""What every ``livebar`` command shares: exit codes, the usage error, the environment's
settings (a bad one said in one line), the activity a command's options describe, and the
argparse types of its options."""

from __future__ import annotations

import argparse
import math
import re
import sys
from typing import Any, Callable

from livebar._activity import LiveActivity, live_activity
from livebar._defaults import ENV_API_KEY, ENV_BASE_URL, ENV_DISABLE
from livebar._wire.config import Config, resolve_config
from livebar._wire.errors import ConfigurationError, ValidationError

PROG = "livebar"
EXIT_USAGE = 2
EXIT_NOT_EXECUTABLE = 126
EXIT_NOT_FOUND = 127
EXIT_BROKEN_PIPE = 141
"""128 + SIGPIPE: what a shell reports for a writer whose reader went away."""
EXIT_INTERRUPTED = 130
MAX_TITLE = 60
MAX_PORT = 65535


class UsageError(Exception):
    """A bad option: reported as ``livebar <command>: <message>`` with exit code 2."""


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def setting_error(exc: ConfigurationError) -> str:
    """``exc`` naming the environment variable the setting came from (the CLI reads no other)."""
    variables = {"api_key": ENV_API_KEY, "base_url": ENV_BASE_URL}
    detail = str(exc).split(": ", 1)[-1]
    return f"{variables.get(exc.option, exc.option)}: {detail}"


def config() -> Config:
    """The environment's settings; a bad one is a usage error (for ``push``, which only sends)."""
    try:
        return resolve_config()
    except ConfigurationError as exc:
        raise UsageError(setting_error(exc)) from None


def mirroring_allowed() -> bool:
    """Whether ``run`` and the pipe mirror; when they cannot, one line says why (as the library
    does) and the job runs anyway. ``LIVEBAR_DISABLE=1`` turns mirroring off silently."""
    try:
        settings = resolve_config()
    except ConfigurationError as exc:
        say(f"{PROG}: {setting_error(exc)}; running without the Live Activity.")
        return False
    if settings.disabled:
        return False
    if not settings.api_key:
        say(
            f"{PROG}: {ENV_API_KEY} is not set; running without the Live Activity "
            f"({ENV_DISABLE}=1 silences this)."
        )
        return False
    return True


def activity(title: str, args: argparse.Namespace, **options: Any) -> LiveActivity:
    """The activity the options describe, checked but not started (bad options exit 2); a
    fleet's member with ``--fleet``."""
    options.update(watchdog_options(args))
    fleet_name = getattr(args, "fleet", None)
    if fleet_name is None and getattr(args, "members", None) is not None:
        raise UsageError("--members needs --fleet")
    try:
        if fleet_name is not None:
            if args.members is None:
                raise UsageError("--fleet needs --members (a count, or the members' names)")
            from livebar._fleet import fleet

            return fleet(
                fleet_name,
                members=args.members,
                member=args.member,
                deadline=args.deadline,
                run=args.run,
                title=title,
                subtitle=args.subtitle,
                channels=args.channels,
                **options,
            )
        return live_activity(title, subtitle=args.subtitle, channels=args.channels, **options)
    except ValidationError as exc:
        raise UsageError(str(exc)) from None


def schedule_options(args: argparse.Namespace) -> dict[str, Any]:
    """``--name``, ``--expect-every`` and ``--grace`` as the activity's options (given ones)."""
    return _given(args, "name", "expect_every", "grace")


def watchdog_options(args: argparse.Namespace) -> dict[str, Any]:
    """``--stall-after``, ``--expected`` and ``--notify-on`` as the library's options (those
    given; the library checks them, and a bad one exits 2 naming it)."""
    return _given(args, "stall_after", "expected", "notify_on")


def _given(args: argparse.Namespace, *names: str) -> dict[str, Any]:
    """The options ``names`` that the command line gave (a command without them gives none)."""
    given = {name: getattr(args, name, None) for name in names}
    return {name: value for name, value in given.items() if value is not None}


def port(number: int | None) -> int | None:
    if number is not None and not 0 <= number <= MAX_PORT:
        raise UsageError(
            f"--port {number}: must be between 0 and {MAX_PORT} (--port 0 picks a free one)"
        )
    return number


# -- argparse types ---------------------------------------------------------------------------


def comma_list(text: str) -> list[str]:
    """``failed,stalled`` as ``["failed", "stalled"]`` (blanks dropped)."""
    return [part.strip() for part in text.split(",") if part.strip()]


def members(text: str) -> int | list[str]:
    if text.strip().isdigit():
        return int(text)
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError("give a count or comma-separated names")
    return names


def non_empty(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def button(kind: str, option: str) -> Callable[[str], dict[str, str]]:
    """The argparse type of ``--action`` / ``--webhook``: ``TITLE=URL`` as an action's JSON."""

    def parse(text: str) -> dict[str, str]:
        name, equals, url = text.partition("=")
        if not (equals and name.strip() and url.strip()):
            raise argparse.ArgumentTypeError(f"give TITLE=URL (got {text!r})")
        made = {"title": name.strip(), "type": kind, "url": url.strip()}
        return {**made, "method": "POST"} if kind == "webhook" else made

    parse.__name__ = option  # argparse names the type in "invalid <type> value" messages
    return parse


_DURATION = re.compile(
    r"(?:(?P<d>\d+(?:\.\d+)?)d)?(?:(?P<h>\d+(?:\.\d+)?)h)?"
    r"(?:(?P<m>\d+(?:\.\d+)?)m)?(?:(?P<s>\d+(?:\.\d+)?)s)?"
)
_UNIT_SECONDS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}


def duration(text: str) -> float:
    """The argparse type of a duration: ``90`` (seconds), ``90s``, ``10m``, ``2h``, ``1h30m``,
    ``1d``; more than zero."""
    spoken = text.strip().lower()
    match = _DURATION.fullmatch(spoken) if spoken else None
    try:
        seconds = float(spoken)
    except ValueError:
        seconds = math.nan
        if match is not None and any(match.groupdict().values()):
            seconds = sum(
                float(amount) * _UNIT_SECONDS[unit]
                for unit, amount in match.groupdict().items()
                if amount is not None
            )
    if not math.isfinite(seconds):
        raise argparse.ArgumentTypeError(
            f"give a duration such as 90, 90s, 10m, 2h, 1h30m or 1d (got {text!r})"
        )
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"must be more than zero (got {text!r})")
    return seconds


def positive_number(text: str) -> float:
    return _number(text, zero=False)


def non_negative_number(text: str) -> float:
    return _number(text, zero=True)


def _number(text: str, *, zero: bool) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (0 <= value < math.inf if zero else value > 0):
        raise argparse.ArgumentTypeError("must be >= 0" if zero else "must be > 0")
    return value
