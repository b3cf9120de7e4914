"""A job that fails: the phone shows the failed stage in red, a push says so, and the
exception reaches you unchanged (this script exits 1 with the usual traceback)."""

import os
import time

from livebar import live_activity

PAUSE = float(os.environ.get("EXAMPLE_PAUSE", "1"))

with live_activity(
    "Nightly backup",
    steps=["dump", "compress", "upload"],
    notify_on=["failed"],
    failure_auto_dismiss_minutes=60,
) as act:
    with act.stage("dump"):
        time.sleep(PAUSE)
    with act.stage("compress"):
        time.sleep(PAUSE)
        raise OSError("No space left on device")
