"""``livebar status``: the account's jobs as its ledger knows them: running, not responding,
overdue, waiting for their next start, and how each scheduled job last ended."""

from __future__ import annotations

import argparse
import json
import time
from typing import TYPE_CHECKING

from livebar._cli.common import PROG, UsageError, config
from livebar._defaults import ENV_API_KEY

if TYPE_CHECKING:
    from livebar._ledger.ledger import AccountLedger

__all__ = ["status"]


def status(args: argparse.Namespace) -> int:
    from livebar._engine.overdue import job_rows
    from livebar._ledger import watching
    from livebar._ledger.settings import open_ledger
    from livebar._wire.account import account_for

    settings = config()
    if not settings.api_key:
        raise UsageError(f"no API key: set {ENV_API_KEY}")
    ledger = open_ledger(account_for(api_key=settings.api_key, base_url=settings.base_url))
    if args.forget is not None:
        return _forget(ledger, args.forget)
    try:
        now = time.monotonic()
        rows = job_rows(watching.schedules(ledger, now), watching.watch(ledger, now), time.time())
    finally:
        ledger.close(0.0)
    if args.json:
        print(json.dumps({"ledger": ledger.backend, "jobs": [r._asdict() for r in rows]}))
        return 0
    if not rows:
        print(f"{PROG}: no jobs on this account ({ledger.backend} ledger)", flush=True)
        return 0
    header = ("JOB", "STATE", "LAST OUTCOME", "DETAIL")
    table = [header] + [(r.title, r.state, r.last_outcome or "-", r.detail) for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(3)]
    for line in table:
        cells = [cell.ljust(width) for cell, width in zip(line, widths)]
        print("  ".join([*cells, line[3]]).rstrip(), flush=True)
    return 0


def _forget(ledger: AccountLedger, name: str) -> int:
    """``--forget NAME``: drop one schedule; exit 1 when there was none (or no ledger answered)."""
    from livebar._ledger import watching

    try:
        forgotten = watching.forget_schedule(ledger, name, time.monotonic())
    finally:
        ledger.close(0.0)
    if forgotten is None:
        print(f"{PROG}: the {ledger.backend} ledger does not answer; nothing forgotten", flush=True)
        return 1
    if not forgotten:
        print(f"{PROG}: no schedule named {name!r} ({ledger.backend} ledger)", flush=True)
        return 1
    print(f"{PROG}: forgot the schedule of {name!r}", flush=True)
    return 0
