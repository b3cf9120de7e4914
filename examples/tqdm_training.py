"""The tqdm drop-in: change one import and the loop is on your lock screen too.

The terminal shows tqdm's own bars, unchanged. The phone shows the outermost bar only: one
activity for the whole run (``reset`` per epoch keeps it), titled by ``title=`` or ``desc``.
"""

import os
import time

from livebar import tqdm, trange

PAUSE = float(os.environ.get("EXAMPLE_PAUSE", "0.02"))
EPOCHS, BATCHES = 3, 40

with trange(EPOCHS, desc="Epochs", title="Train resnet", color="purple") as epochs:
    batches = tqdm(total=BATCHES, desc="Batches", leave=False)  # nested: terminal only
    for epoch in epochs:
        batches.reset(total=BATCHES)
        loss = 1.0 / (epoch + 1)
        for _ in range(BATCHES):
            time.sleep(PAUSE)
            batches.update()
        epochs.set_postfix(loss=round(loss, 3))  # shown as the activity's subtitle
        tqdm.write(f"epoch {epoch}: loss {loss:.3f}")  # a log line; never touches the phone
    batches.close()
