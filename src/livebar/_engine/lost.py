"""What the phone is told about an activity whose process died: "Lost: …", pure.

A job killed outright (SIGKILL, the OOM killer, a lost node) never sends its end: its activity
stays on the phone as if the job were still running. Any livebar process on the account that
finds it in the ledger (``AccountLedger.claim_orphans``) ends it with what is known: the last
state the phone was sent, turned red, with a subtitle saying what happened::

    Lost: process 4121 was killed after 2h 13m at 61%
    Lost: process 4121 on build-7 went silent after 2h 13m at step 2 of 3

and the failure dismiss time. A job that ended but whose process exited before its end was
delivered (a slow server, the account's share used up at the exit) is never "Lost": the engine
writes the true end into the ledger the moment it knows it (``ended_record``), and whoever
picks the card up delivers that end ("Done in 25s") instead. ``lost_end`` builds either; the
engine sends it as one of its jobs (an ``OrphanJob``), and ``livebar reap``
(``_engine/reap.py``) sends it from the command line, both through ``requests.orphan_call``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from livebar import _defaults
from livebar._engine.hung import progress_text, shown_state
from livebar._job.endings import format_duration
from livebar._wire.errors import ValidationError
from livebar._wire.payload import ContentState

if TYPE_CHECKING:
    from livebar._ledger.backend import Orphan

__all__ = ["LOST_COLOR", "LostEnd", "ended_record", "lost_end", "lost_message", "true_end"]

LOST_COLOR = "red"


ENDED = "ended"
"""The key of a ledger record's state that holds the job's own end, not its last progress."""


def ended_record(end_state: dict[str, Any]) -> dict[str, Any]:
    """What the ledger keeps of a job that has ended (its end's content state, with its dismiss
    minutes), until the end is delivered: the end a reaper delivers if the process is gone."""
    return {ENDED: end_state}


def true_end(orphan: Orphan) -> dict[str, Any] | None:
    """The end the job itself decided, when its process recorded one before it went."""
    state = orphan.state
    ended = state.get(ENDED) if isinstance(state, dict) else None
    return dict(ended) if isinstance(ended, dict) else None


def lost_message(orphan: Orphan) -> str:
    """What happened, in a subtitle: ``Lost: process 4121 was killed after 2h 13m at 61%``."""
    if true_end(orphan) is not None:
        return f"the end of process {orphan.owner.pid or '?'}'s job, delivered after it exited"
    who = f"process {orphan.owner.pid}" if orphan.owner.pid else "its process"
    if orphan.same_host:
        what = f"{who} was killed"
    else:
        where = f" on {orphan.owner.hostname}" if orphan.owner.hostname else " on another host"
        what = f"{who}{where} went silent"
    text = f"Lost: {what} after {format_duration(orphan.last_seen - orphan.started_at)}"
    where_it_was = progress_text(shown_state(orphan.state))
    return f"{text} at {where_it_was}" if where_it_was else text


@dataclass(frozen=True)
class LostEnd:
    """The end that tells the phone the truth about an orphan: ``stream_key`` (a stream's
    DELETE) or ``activity_id`` (``POST /live-activity/end``), with ``content_state``."""

    orphan: Orphan
    content_state: ContentState
    auto_dismiss_minutes: int

    def bare(self) -> LostEnd:
        """The same end without the last state (the server refused the state as it was)."""
        ended = true_end(self.orphan)
        if ended is not None:  # the job's own words, and nothing else
            title = str(ended.get("title") or self.orphan.title or "Job")
            subtitle = ended.get("subtitle")
            plain = ContentState(title=title, subtitle=str(subtitle) if subtitle else None)
            return LostEnd(self.orphan, plain, self.auto_dismiss_minutes)
        orphan = dataclasses.replace(self.orphan, state=None)
        return lost_end(orphan, auto_dismiss_minutes=self.auto_dismiss_minutes)


def lost_end(
    orphan: Orphan,
    *,
    auto_dismiss_minutes: int = _defaults.DEFAULT_FAILURE_AUTO_DISMISS_MINUTES,
) -> LostEnd:
    """The truthful end of ``orphan``: the end its job decided, if its process recorded one;
    else its last state, red, with ``lost_message`` as subtitle."""
    ended = true_end(orphan)
    if ended is not None:
        minutes = ended.pop("auto_dismiss_minutes", auto_dismiss_minutes)
        try:
            return LostEnd(orphan, ContentState.from_json(ended), int(minutes))
        except (ValidationError, TypeError, ValueError):
            orphan = dataclasses.replace(orphan, state=None)  # unreadable: say what is known
    return LostEnd(orphan, _lost_state(orphan), auto_dismiss_minutes)


def _lost_state(orphan: Orphan) -> ContentState:
    message = lost_message(orphan)
    if orphan.state is not None:
        try:
            last = ContentState.from_json(shown_state(orphan.state))
            changes: dict[str, Any] = {"subtitle": message, "color": LOST_COLOR}
            if last.type == "segmented_progress":
                changes.update(step_color=LOST_COLOR, step_colors=None)
            return last.replace(**changes)
        except (ValidationError, TypeError, ValueError):
            pass  # a state this version cannot read: say what happened without it
    return ContentState(title=orphan.title or "Lost", subtitle=message, color=LOST_COLOR)
