"""A decorated function: every call is its own Live Activity, failed if it raises."""

import os
import time

import livebar

PAUSE = float(os.environ.get("EXAMPLE_PAUSE", "1"))


@livebar.live_activity("Nightly ETL", steps=["extract", "transform", "load"])
def etl() -> int:
    act = livebar.current_activity()
    assert act is not None
    rows = 0
    for stage in ("extract", "transform", "load"):
        with act.stage(stage):
            time.sleep(PAUSE)
            rows += 1000
    return rows


if __name__ == "__main__":
    print("loaded", etl(), "rows")
