"""The engine's side of hung processes (``_engine/hung.py`` decides): it marks the cards
of live processes on its account that went silent, and, when its own process comes back,
takes back the marks others put on its cards. Only the engine's thread calls it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from livebar._engine.hung import Action, decide, facts_of, ios_room, mark_of
from livebar._engine.jobs import MarkJob
from livebar._engine.phases import overwritten
from livebar._ledger import watching
from livebar._log import log

if TYPE_CHECKING:
    from livebar._engine.outbox import Outbox

__all__ = ["take_back", "watch"]


def watch(outbox: Outbox, now: float, new_key: Callable[[], int]) -> None:
    """Mark, once, each card of a live process silent for ``hang_after`` (claimed in the
    ledger first: of all the processes that look, one sends it), when iOS's budget for that
    card has room (else a later look tries again)."""
    budgets = outbox.policy.budgets
    for watched in watching.watch(outbox.ledger, now):
        if decide(facts_of(watched), hang_after=budgets.hang_after) is not Action.MARK:
            continue
        if ios_room(watched, budgets) and watching.mark(outbox.ledger, watched.id, now):
            mark = mark_of(watched)
            outbox.queue(MarkJob(new_key(), mark, outbox.config, client=outbox.client))
            log.warning("livebar: %r: %s", watched.title, mark.content_state.subtitle)


def take_back(outbox: Outbox, now: float) -> None:
    """Our heartbeat is back: clear the marks on our cards; each one's next state goes out
    (the mark counted against its iOS budget)."""
    for key in watching.take_marks(outbox.ledger, now):
        if key.isdigit():
            overwritten(outbox.policy.slot(int(key)))
