"""Ending the activities of killed processes truthfully ("Lost: …"), from any livebar process.

A job killed outright (SIGKILL, the OOM killer, a lost node) never sends its end: its activity
stays on the phone as if the job were still running. Any livebar process on the account that
finds it in the ledger (``AccountLedger.claim_orphans``) ends it with what is known: the last
state the phone was sent, turned red, with a subtitle saying what happened::

    Lost: process 4121 was killed after 2h 13m at 61%
    Lost: process 4121 on build-7 went silent after 2h 13m at step 2 of 3

and the failure dismiss time. ``lost_end`` builds that end; ``reap`` claims and ends every
orphan of one account with a ``Client`` (the ``livebar reap`` command; the dispatcher instead
feeds ``lost_end`` requests to its pacing policy as ends).
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from livebar import _defaults
from livebar._engine.requests import orphan_call, perform
from livebar._job.endings import format_duration
from livebar._ledger.ledger import AccountLedger, Orphan
from livebar._wire.errors import (
    APIError,
    AuthenticationError,
    LivebarError,
    NotFoundError,
    PaymentRequiredError,
    PermissionDeniedError,
    ValidationError,
)
from livebar._wire.payload import ContentState, state_fraction

__all__ = ["LOST_COLOR", "LostEnd", "ReapReport", "lost_end", "lost_message", "reap"]

LOST_COLOR = "red"


def lost_message(orphan: Orphan) -> str:
    """What happened, in a subtitle: ``Lost: process 4121 was killed after 2h 13m at 61%``."""
    who = f"process {orphan.owner.pid}" if orphan.owner.pid else "its process"
    if orphan.same_host:
        what = f"{who} was killed"
    else:
        where = f" on {orphan.owner.hostname}" if orphan.owner.hostname else " on another host"
        what = f"{who}{where} went silent"
    text = f"Lost: {what} after {format_duration(orphan.last_seen - orphan.started_at)}"
    where_it_was = _progress(orphan.state)
    return f"{text} at {where_it_was}" if where_it_was else text


@dataclass(frozen=True)
class LostEnd:
    """The end that tells the phone the truth about an orphan: ``stream_key`` (a stream's
    DELETE) or ``activity_id`` (``POST /live-activity/end``), with ``content_state``."""

    orphan: Orphan
    content_state: ContentState
    auto_dismiss_minutes: int


def lost_end(
    orphan: Orphan,
    *,
    auto_dismiss_minutes: int = _defaults.DEFAULT_FAILURE_AUTO_DISMISS_MINUTES,
) -> LostEnd:
    """The truthful end of ``orphan``: its last state, red, with ``lost_message`` as subtitle."""
    return LostEnd(orphan, _lost_state(orphan), auto_dismiss_minutes)


def _lost_state(orphan: Orphan) -> ContentState:
    message = lost_message(orphan)
    if orphan.state is not None:
        try:
            last = ContentState.from_json(dict(orphan.state))
            changes: dict[str, Any] = {"subtitle": message, "color": LOST_COLOR}
            if last.type == "segmented_progress":
                changes.update(step_color=LOST_COLOR, step_colors=None)
            return last.replace(**changes)
        except (ValidationError, TypeError, ValueError):
            pass  # a state this version cannot read: say what happened without it
    return ContentState(title=orphan.title or "Lost", subtitle=message, color=LOST_COLOR)


def _progress(state: Any | None) -> str:
    """``61%``, ``step 2 of 3``, or ``""`` when the state says nothing of progress."""
    if not isinstance(state, dict):
        return ""
    step, steps = state.get("current_step"), state.get("number_of_steps")
    if isinstance(step, int) and isinstance(steps, int) and steps > 0:
        return f"step {min(step + 1, steps)} of {steps}"
    fraction = state_fraction(state)
    return "" if fraction is None else f"{math.floor(100 * fraction + 1e-9)}%"


# -- livebar reap -----------------------------------------------------------------------------


@dataclass
class ReapReport:
    """What ``reap`` did: orphans ``ended`` (the phone now shows the truth), ``already_ended``
    (the server had ended them), and ``failed`` (the end did not go through now; the claim was
    given back, so a later pass tries again), each with the reason."""

    ended: list[Orphan] = field(default_factory=list)
    already_ended: list[Orphan] = field(default_factory=list)
    failed: list[tuple[Orphan, str]] = field(default_factory=list)

    @property
    def found(self) -> int:
        return len(self.ended) + len(self.already_ended) + len(self.failed)


_GIVE_UP = (AuthenticationError, PaymentRequiredError, PermissionDeniedError)


def reap(
    ledger: AccountLedger,
    client: Any,
    *,
    limit: int = _defaults.DEFAULT_REQUESTS_PER_MINUTE,
    deadline: float = 30.0,
    auto_dismiss_minutes: int = _defaults.DEFAULT_FAILURE_AUTO_DISMISS_MINUTES,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> ReapReport:
    """Claim every orphan of ``ledger``'s account and end it truthfully with ``client``.

    Each end is first admitted by the ledger (as an end: it may use the whole of ``limit``),
    waiting for room at most until ``deadline`` seconds have passed. Never raises for the
    server's answers: they are in the report.
    """
    report = ReapReport()
    started = clock()
    orphans = ledger.claim_orphans(started)
    for index, orphan in enumerate(orphans):
        end = lost_end(orphan, auto_dismiss_minutes=auto_dismiss_minutes)
        admission = ledger.acquire(clock(), limit=limit)
        while not admission.admitted and admission.retry_at - started <= deadline:
            sleep(max(admission.retry_at - clock(), 0.0))
            admission = ledger.acquire(clock(), limit=limit)
        if not admission.admitted:
            for rest in orphans[index:]:
                ledger.settle_orphan(rest.id, clock(), ended=False)
                report.failed.append((rest, "no room in the account's rate limit in time"))
            break
        call = orphan_call(end)
        try:
            result = perform(client, call)
        except NotFoundError:
            ledger.settle_orphan(orphan.id, clock(), ended=True)
            report.already_ended.append(orphan)
            continue
        except LivebarError as exc:
            # A refused state (400) will never go through: end it with the least there is.
            if isinstance(exc, APIError) and exc.status == 400 and orphan.state is not None:
                bare = dataclasses.replace(orphan, state=None)
                try:
                    again_end = lost_end(bare, auto_dismiss_minutes=auto_dismiss_minutes)
                    perform(client, orphan_call(again_end))
                except LivebarError as again:
                    exc = again
                else:
                    ledger.settle_orphan(orphan.id, clock(), ended=True)
                    report.ended.append(orphan)
                    continue
            ledger.settle_orphan(orphan.id, clock(), ended=False)
            report.failed.append((orphan, _reason(exc)))
            if isinstance(exc, _GIVE_UP):
                for rest in orphans[index + 1 :]:
                    ledger.settle_orphan(rest.id, clock(), ended=False)
                    report.failed.append((rest, _reason(exc)))
                break
            continue
        if call.key is not None and getattr(result, "activity_id", "") is None:
            report.already_ended.append(orphan)
        else:
            report.ended.append(orphan)
        ledger.settle_orphan(orphan.id, clock(), ended=True)
    return report


def _reason(exc: LivebarError) -> str:
    return f"{type(exc).__name__}: {exc}"
