"""What the phone showed: the small helpers every integration test uses."""

from __future__ import annotations

from typing import Any

import livebar


def opts(sim: Any, **extra: Any) -> dict[str, Any]:
    """Keywords pointing an activity (or a callback) at the simulator."""
    return {"api_key": sim.api_key, "base_url": sim.url, **extra}


def only_activity(sim: Any) -> dict[str, Any]:
    """The one activity the simulator saw, once livebar delivered what it queued."""
    livebar.flush(10)
    [activity] = sim.activities()
    return activity


def subtitles(activity: dict[str, Any]) -> list[str]:
    """Every subtitle the phone showed for ``activity``, in order."""
    return [event["content_state"].get("subtitle") or "" for event in activity["history"]]
