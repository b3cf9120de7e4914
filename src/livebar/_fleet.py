"""One card for a job run by many members: ``livebar.fleet(...)``.

Every member of the fleet (a host of a backup, a pod of a Kubernetes Indexed Job, a shard of a
migration) runs the same few lines::

    with livebar.fleet("nightly-backup", title="Nightly backups", members=20) as m:
        for f in m.track(files):        # the member's own progress, like an activity
            back_up(f)

A ``FleetMember`` is a ``LiveActivity`` whose progress goes to the fleet's record in the shared
ledger (``LIVEBAR_LEDGER``: sqlite on one machine, Redis across machines) instead of a card of
its own; whichever member holds the fleet's lease renders and sends the one card
(``livebar._engine.fleets``). Its options are checked here, once, at the call: a bad one raises
``ValidationError`` naming it before anything is sent.
"""

from __future__ import annotations

import datetime
import os
import socket
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Union, cast

from livebar._activity import LiveActivity, _refused
from livebar._defaults import (
    ENV_FLEET_RUN,
    ENV_HOST_ID,
    ENV_JOB_COMPLETION_INDEX,
    FLEET_BARS,
)
from livebar._job.fleet import FleetSpec
from livebar._job.options import ActivityOptions
from livebar._wire.errors import LivebarError, ValidationError

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from livebar._engine.intake import Opening

__all__ = ["FleetMember", "FleetOptions", "fleet", "member_name", "resolve_fleet"]

MAX_NAME = 100
"""Longest fleet name, member name or run id."""

Deadline = Union[float, int, datetime.datetime, None]


class FleetOptions(ActivityOptions, total=False):
    """The options of ``livebar.fleet``: the fleet's own, then every option of
    ``live_activity`` (``members`` is required; its absence is a ``ValidationError``)."""

    members: int | Sequence[str]
    title: str | None
    member: str | None
    deadline: Deadline
    run: str | None
    bar: str


_FLEET_OPTIONS = ("members", "title", "member", "deadline", "run", "bar")


def _unwatched(given: Mapping[str, Any]) -> None:
    """A fleet's card has no watchdog (yet): refuse asking for one rather than ignore it."""
    for name in ("stall_after", "expected"):
        if given.get(name) is not None:
            raise ValidationError(
                name, "not", "is not watched on a fleet's card (each member's own job can be)"
            )


class FleetMember(LiveActivity):
    """This process's part of a fleet: its own progress (everything a ``LiveActivity`` records),
    reported to the fleet's record; the fleet's one card shows every member's.

    ``m.fleet`` is the resolved fleet (``name``, ``member``, ``run``, ``expected``). Ending it
    (the block, ``close()``, ``fail()``) ends this member, not the card: the card ends when
    every member has, or the deadline has passed with nobody still running.
    """

    def __init__(self, name: str, /, **options: Unpack[FleetOptions]) -> None:
        given: dict[str, Any] = dict(options)
        own = {key: given.pop(key) for key in _FLEET_OPTIONS if key in given}
        try:
            _unwatched(given)
            self.fleet = resolve_fleet(
                name,
                members=own.get("members"),
                member=own.get("member"),
                deadline=own.get("deadline"),
                run=own.get("run"),
                bar=own.get("bar", "auto"),
            )
        except LivebarError as exc:
            raise _refused(exc, cast("dict[str, Any]", options)) from None
        title = own.get("title")
        super().__init__(title if title is not None else name, **given)

    def _open_job(self) -> Opening | None:
        from livebar._engine import runtime

        return runtime.open_fleet(self.spec, self.fleet, self.sample)

    def copy(self) -> FleetMember:
        """A fresh, unstarted member with the same options."""
        spec = self.fleet
        expected = spec.expected if isinstance(spec.expected, int) else list(spec.expected)
        return FleetMember(
            spec.name,
            members=expected,
            title=self.spec.title,
            member=spec.member,
            deadline=spec.deadline,
            run=spec.run,
            bar=spec.bar,
            **self.spec.options(),
        )

    def __repr__(self) -> str:
        if not hasattr(self, "fleet"):
            return "<FleetMember refused>"
        return f"<FleetMember {self.fleet.member!r} of {self.fleet.name!r}>"


def fleet(name: str, /, **options: Unpack[FleetOptions]) -> FleetMember:
    """This process as one member of the fleet ``name``, whose one card shows every member.

    ``members``: how many there are, or their names. ``member``: this one's name (default
    ``LIVEBAR_HOST_ID``, else ``JOB_COMPLETION_INDEX`` in a Kubernetes Indexed Job, else the
    host's name). ``deadline``: by when every member should have started, in seconds from now
    or as a ``datetime``; members missing then are named as never started. ``run``: the run
    this member belongs to (default ``LIVEBAR_FLEET_RUN``, else the fleet's current run).
    ``bar``: ``auto`` (a segment per member up to 24, else a progress bar over the summed
    items), ``steps`` or ``items``. ``title``: the card's (default: the fleet's name). The other
    options are ``live_activity``'s (the member's own ``total`` or ``steps``; the card's
    ``color``, ``channels``, ``auto_dismiss_minutes``, …).
    """
    return FleetMember(name, **options)


def resolve_fleet(
    name: object,
    *,
    members: object,
    member: object = None,
    deadline: object = None,
    run: object = None,
    bar: object = "auto",
    environ: Mapping[str, str] | None = None,
    now: datetime.datetime | None = None,
) -> FleetSpec:
    """Check a fleet's options and resolve its defaults (argument > environment > default)."""
    env = os.environ if environ is None else environ
    fleet_name = _text(name, "name")
    expected = _members(members)
    own = _text(member, "member") if member is not None else member_name(env)
    if not isinstance(expected, int) and own not in expected:
        raise ValidationError("member", "enum", f"{own!r} is not one of the fleet's members")
    given_run = run if run is not None else (env.get(ENV_FLEET_RUN, "").strip() or None)
    if bar not in FLEET_BARS:
        raise ValidationError("bar", "enum", f"must be one of {', '.join(FLEET_BARS)}")
    return FleetSpec(
        name=fleet_name,
        member=own,
        expected=expected,
        run=None if given_run is None else _text(given_run, "run"),
        deadline=_deadline(deadline, now),
        bar=str(bar),
    )


def member_name(environ: Mapping[str, str] | None = None) -> str:
    """This member's default name: ``LIVEBAR_HOST_ID``, else ``JOB_COMPLETION_INDEX``, else the
    host's name (its first label)."""
    env = os.environ if environ is None else environ
    for variable in (ENV_HOST_ID, ENV_JOB_COMPLETION_INDEX):
        value = env.get(variable, "").strip()
        if value:
            return value[:MAX_NAME]
    return (socket.gethostname().split(".")[0] or "member")[:MAX_NAME]


def _text(value: object, field: str) -> str:
    if not isinstance(value, str):
        raise ValidationError(field, "type", "must be a string")
    text = value.strip()
    if not text:
        raise ValidationError(field, "minLength", "must not be blank")
    if len(text) > MAX_NAME:
        raise ValidationError(field, "maxLength", f"must be at most {MAX_NAME} characters")
    return text


def _members(members: object) -> int | tuple[str, ...]:
    if isinstance(members, bool) or members is None:
        raise ValidationError("members", "type", "must be a count or a list of names")
    if isinstance(members, int):
        if members < 1:
            raise ValidationError("members", "minimum", "must be at least 1")
        return members
    if isinstance(members, (str, bytes)) or not isinstance(members, Sequence):
        # members="web1,web2" would be nine one-letter members
        raise ValidationError("members", "type", "must be a count or a list of names")
    names = tuple(_text(name, "members") for name in members)
    if not names:
        raise ValidationError("members", "minItems", "must name at least one member")
    if len(set(names)) != len(names):
        raise ValidationError("members", "uniqueItems", "names must be unique")
    return names


def _deadline(deadline: object, now: datetime.datetime | None) -> float | None:
    """Seconds from now: ``deadline`` given in seconds, or as a ``datetime`` (naive: local)."""
    if deadline is None:
        return None
    if isinstance(deadline, datetime.datetime):
        aware = deadline if deadline.tzinfo is not None else deadline.astimezone()
        current = now or datetime.datetime.now(datetime.timezone.utc)
        return max((aware - current).total_seconds(), 0.0)
    if isinstance(deadline, bool) or not isinstance(deadline, (int, float)):
        raise ValidationError("deadline", "type", "must be seconds or a datetime")
    if not 0 <= deadline < float("inf"):
        raise ValidationError("deadline", "minimum", "must be a finite number of seconds >= 0")
    return float(deadline)
