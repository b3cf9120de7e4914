"""A deploy in three named stages: a segmented bar that fills one stage at a time.

Run against the simulator:  livebar simulate  (then export the variables it prints)
"""

import os
import time

from livebar import live_activity

PAUSE = float(os.environ.get("EXAMPLE_PAUSE", "2"))

with live_activity("Deploy api", steps=["build", "test", "ship"], color="blue") as act:
    with act.stage("build"):
        time.sleep(PAUSE)
    with act.stage("test"):
        time.sleep(PAUSE)
    with act.stage("ship"):
        time.sleep(PAUSE)
