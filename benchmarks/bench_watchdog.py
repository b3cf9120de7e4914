"""The watchdog (issue 20) on the virtual clock: what watching a job costs the engine and the
account, and how soon the phone shows each state.

* ``wakeups``: the engine's turns per second for one 2-hour job (1 item a second for 30 min,
  nothing for 60 min, then 1 item a second again) unwatched, with ``expected`` only, and with
  ``stall_after=600``: while it moves, while it is still but not yet stalled, and while stalled.
* ``latency``: for stalls that begin at 24 moments spread over a 2-hour job (in and past the
  12 quick updates), seconds from the threshold (the last move plus ``stall_after``) to the
  phone showing the notice, and from the job moving again to the phone showing it; for
  ``expected``, from the expected time to the overrun on the phone.
* ``requests``: requests each job sent (start, updates, end, pushes), watched and not.

Deterministic (a virtual clock, a fixed seed): one run is the figure.

    python benchmarks/bench_watchdog.py          # JSON on stdout
"""

from __future__ import annotations

import statistics
import sys
from typing import Any

from bench_common import emit

EPOCH = 1_780_000_000.0
STALL_AFTER = 600.0


def _position(stop: float, resume: float) -> Any:
    """1 item a second, none between ``stop`` and ``resume``."""

    def at(t: float) -> float:
        if t < stop:
            return float(int(t))
        if t < resume:
            return float(int(stop))
        return float(int(stop + t - resume))

    return at


def _job(options: dict[str, Any], stop: float, resume: float, end: float) -> dict[str, Any]:
    import livebar
    from livebar.testing import virtual_time

    with virtual_time() as vt:
        turns = vt.dispatcher.intake
        position = _position(stop, resume)
        with livebar.live_activity("Job", total=7200, **options) as act:
            marks = {}
            for name, until in (
                ("moving", stop),
                ("still", stop + STALL_AFTER),
                ("stalled", resume),
                ("moving again", end),
            ):
                before, began = turns.turns_started, vt.now
                while vt.now < until:
                    act.update(position(vt.now))
                    vt.advance(min(1.0, until - vt.now))
                marks[name] = (turns.turns_started - before) / max(vt.now - began, 1e-9)
        vt.flush()
        requests = vt.simulator.requests()
        activity = vt.simulator.activities()[0]
        cards = [
            (r["t"] - EPOCH, ((r["body"] or {}).get("content_state") or {}).get("subtitle") or "")
            for r in requests
            if r["method"] in ("PUT", "DELETE") and r["status"] == 200
        ]
        return {
            "turns_per_s": marks,
            "turns": turns.turns_started,
            "requests": len(requests),
            "pushes": len(vt.simulator.pushes()),
            "warnings": activity["warnings"] + activity["throttles"],
            "rate_limited": sum(r["status"] == 429 for r in requests),
            "cards": cards,
        }


def wakeups() -> dict[str, Any]:
    shapes = {
        "unwatched": {},
        "expected=7200": {"expected": 7200},
        "stall_after=600": {"stall_after": STALL_AFTER},
    }
    out = {}
    for name, options in shapes.items():
        job = _job(options, 1800.0, 5400.0, 7200.0)
        job.pop("cards")
        out[name] = job
    return out


def latency() -> dict[str, Any]:
    notices, recoveries, costs, kept = [], [], [], 0
    for i in range(24):
        stop = 200.0 + i * 250.0
        resume = stop + STALL_AFTER + 60.0 + (i % 6) * 45.0
        job = _job(
            {"stall_after": STALL_AFTER, "notify_on": ["stalled"]},
            stop,
            resume,
            resume + 300.0,
        )
        cards = job["cards"]
        last_move = stop  # the job's last new position is read at ``stop``
        notice = next(t for t, text in cards if text.startswith("No progress"))
        back = next(t for t, text in cards if t > notice and not text.startswith("No progress"))
        notices.append(notice - (last_move + STALL_AFTER))
        recoveries.append(back - (resume + 1.0))  # it moves again a second after ``resume``
        costs.append(job["requests"])
        kept += job["warnings"] == 0 and job["rate_limited"] == 0
    overrun = []
    for expected in (300.0, 900.0, 1700.0, 2500.0, 4000.0):
        job = _job({"expected": expected}, 9000.0, 9000.0, expected + 200.0)
        first = next(t for t, text in job["cards"] if text.startswith("Running"))
        overrun.append(first - expected)
    return {
        "stall_notice_s": _spread(notices),
        "recovery_s": _spread(recoveries),
        "overrun_notice_s": _spread(overrun),
        "jobs_within_budgets": f"{kept} of {len(notices)}",
        "requests_per_job": _spread(costs),
    }


def _spread(values: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), 2),
        "min": round(min(values), 2),
        "max": round(max(values), 2),
    }


def run() -> dict[str, Any]:
    return {"wakeups": wakeups(), "latency": latency()}


if __name__ == "__main__":
    del sys.argv[1:]
    emit(run())
