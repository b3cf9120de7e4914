"""No `with`: start, update from anywhere, and let the interpreter's exit end it."""

import os
import time

import livebar

PAUSE = float(os.environ.get("EXAMPLE_PAUSE", "0.5"))

act = livebar.live_activity("Re-index search", total=10, stream_key="search-reindex")
act.start()
for i in range(10):
    time.sleep(PAUSE)
    act.update(i + 1, subtitle=f"shard {i + 1}/10")
# Left open on purpose: livebar's atexit hook ends it ("done", since it reached 100 %).
