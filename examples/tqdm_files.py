"""Copying files with a byte counter: manual ``update()``, ``unit_scale``, and a failure.

The ``with`` block matters: an exception inside it ends the activity "failed" with the error
(and re-raises it); a bare ``for`` loop can only tell that it was left early.
"""

import os
import time

from livebar import tqdm

PAUSE = float(os.environ.get("EXAMPLE_PAUSE", "0.02"))
sizes = [3_000_000, 12_000_000, 7_500_000, 900_000]

with tqdm(total=sum(sizes), unit="B", unit_scale=True, unit_divisor=1024, desc="Copy") as bar:
    for i, size in enumerate(sizes):
        bar.set_description(f"Copy file {i + 1}/{len(sizes)}")
        for _ in range(10):
            time.sleep(PAUSE)
            bar.update(size // 10)
        if i == 2:
            raise OSError("No space left on device")
