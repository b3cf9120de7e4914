"""A loop over files: the one-liner, and the same inside an activity you can update."""

import os
import time

import livebar

PAUSE = float(os.environ.get("EXAMPLE_PAUSE", "0.05"))
files = [f"photo-{i:03d}.jpg" for i in range(100)]

# The one-liner: ends "done" when the loop finishes, "stopped" at the real progress on break.
for _name in livebar.track(files, title="Resize photos", color="cyan"):
    time.sleep(PAUSE)

# The long form: change the subtitle as you go.
with livebar.live_activity("Upload photos", total=len(files)) as act:
    for i, _name in enumerate(act.track(files)):
        if i % 25 == 0:
            act.update(subtitle=f"batch {i // 25 + 1} of 4")
        time.sleep(PAUSE)
