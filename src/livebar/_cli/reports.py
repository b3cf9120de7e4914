"""What ``livebar reap`` says it did: lines for a person, or one JSON object (``--json``)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from livebar._cli.common import PROG, say
from livebar._engine.hung import hung_message

if TYPE_CHECKING:
    from livebar._engine.reap import ReapReport
    from livebar._ledger.backend import Orphan, Watched

__all__ = ["reap_json", "reap_lines"]


def _orphan(orphan: Orphan) -> dict[str, Any]:
    return {"title": orphan.title, "pid": orphan.owner.pid, "host": orphan.owner.hostname}


def _card(card: Watched) -> dict[str, Any]:
    return {
        "title": card.title,
        "pid": card.owner.pid,
        "host": card.owner.hostname,
        "silent_for": round(card.silent_for, 1),
        "message": hung_message(card),
    }


def reap_json(report: ReapReport, backend: str) -> str:
    """The report as one JSON object (one line)."""
    data = {
        "ledger": backend,
        "ended": [_orphan(o) for o in report.ended],
        "already_ended": [_orphan(o) for o in report.already_ended],
        "failed": [{**_orphan(o), "why": why} for o, why in report.failed],
        "marked": [_card(c) for c in report.marked],
        "not_responding": [_card(c) for c in report.not_responding],
        "restoring": [_card(c) for c in report.restoring],
        "mark_failed": [{**_card(c), "why": why} for c, why in report.mark_failed],
        "missed": [{"name": s.name, "title": s.title, "push": t} for s, t in report.missed],
        "missed_failed": [
            {"name": s.name, "title": s.title, "why": why} for s, why in report.missed_failed
        ],
    }
    return json.dumps(data, sort_keys=True)


def reap_lines(report: ReapReport, backend: str) -> None:
    """The report as lines: what went out on stdout, what failed on stderr."""
    for orphan in report.ended:
        print(f"{PROG}: ended {orphan.title!r}", flush=True)
    for orphan in report.already_ended:
        print(f"{PROG}: {orphan.title!r} had already ended", flush=True)
    for orphan, why in report.failed:
        say(f"{PROG} reap: could not end {orphan.title!r}: {why}")
    for card in report.marked:
        print(f"{PROG}: marked {card.title!r}: {hung_message(card)}", flush=True)
    for card in report.not_responding:
        print(f"{PROG}: {card.title!r}: {hung_message(card)} (already shown)", flush=True)
    for card in report.restoring:
        print(f"{PROG}: {card.title!r} responds again (its process restores its card)")
    for card, why in report.mark_failed:
        say(f"{PROG} reap: could not mark {card.title!r}: {why}")
    for _schedule, title in report.missed:
        print(f"{PROG}: pushed {title!r}", flush=True)
    for schedule, why in report.missed_failed:
        say(f"{PROG} reap: could not push that {schedule.title!r} has not started: {why}")
    quiet = not (
        report.marked
        or report.not_responding
        or report.restoring
        or report.mark_failed
        or report.missed
        or report.missed_failed
    )
    if not report.found and quiet:
        print(f"{PROG}: nothing to reap ({backend} ledger)", flush=True)
