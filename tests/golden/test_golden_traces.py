"""Golden request traces: every request the engine makes in ~35 scenarios, byte for byte.

The safety net of the engine's reshape: each scenario (``scenarios.py``) runs a real job on the
virtual clock, and its requests — ``(t, method, path, body, status, fault)`` — plus the
activities' final ``stats`` must equal the committed trace in ``traces/<name>.jsonl``. A change
that must alter a trace says why in its commit message; regenerate with
``LIVEBAR_GOLDEN_UPDATE=1 python -m pytest tests/golden``.

What varies from run to run is normalised: livebar's own stream keys (``livebar-<pid>-<random>``
become ``livebar-K1``, ``livebar-K2``… in order of appearance) and process ids in texts.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from .scenarios import SCENARIOS, Run

TRACES = Path(__file__).resolve().parent / "traces"
UPDATE = os.environ.get("LIVEBAR_GOLDEN_UPDATE") == "1"
_STREAM_KEY = re.compile(r"livebar-\d+-[0-9a-f]{18}")
_PROCESS = re.compile(r"process \d+")
_STATS = (
    "requests",
    "updates",
    "coalesced",
    "retried",
    "dropped",
    "warnings",
    "rotations",
    "ignored",
    "end_delivered",
    "end_unconfirmed",
    "delivered_by_push",
    "activity_id",
)


def trace_lines(run: Run) -> list[str]:
    """The scenario's trace: one JSON line per request, then one per activity's stats."""
    keys: dict[str, str] = {}

    def key_name(match: re.Match[str]) -> str:
        return keys.setdefault(match.group(0), f"livebar-K{len(keys) + 1}")

    def normal(text: str) -> str:
        return _PROCESS.sub("process <pid>", _STREAM_KEY.sub(key_name, text))

    lines = []
    for entry in run.requests:
        record: dict[str, Any] = {
            "t": round(float(entry["t"]) - 1_780_000_000.0, 6),
            "method": entry["method"],
            "path": entry["path"],
            "body": entry["body"],
            "status": entry["status"],
            "fault": entry["fault"],
        }
        lines.append(normal(json.dumps(record, sort_keys=True, ensure_ascii=False)))
    for act in run.acts:
        stats = {name: getattr(act.stats, name) for name in _STATS}
        stats["outcome"] = None if act.outcome is None else str(act.outcome)
        stats["title"] = act.title
        lines.append(normal(json.dumps({"stats": stats}, sort_keys=True, ensure_ascii=False)))
    return lines


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_golden_trace(name: str, tmp_path: Path) -> None:
    """The engine sends exactly the committed requests for this scenario."""
    lines = trace_lines(SCENARIOS[name](tmp_path))
    path = TRACES / f"{name}.jsonl"
    if UPDATE:
        TRACES.mkdir(exist_ok=True)
        path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    expected = path.read_text(encoding="utf-8").splitlines()
    assert expected == lines


def test_every_trace_has_its_scenario() -> None:
    """No trace is left behind by a renamed or removed scenario."""
    assert sorted(SCENARIOS) == sorted(p.stem for p in TRACES.glob("*.jsonl"))
