"""Work spread over processes, shown as one activity: act.handle() and process_map()."""

import os
import time
from concurrent.futures import ProcessPoolExecutor

import livebar
from livebar.contrib.concurrent import process_map

PAUSE = float(os.environ.get("EXAMPLE_PAUSE", "0.05"))


def resize(name, progress):
    time.sleep(PAUSE)
    progress.advance()  # counted locally, sent to the parent at most twice a second
    return name.replace(".jpg", "-small.jpg")


def thumbnail(name):
    time.sleep(PAUSE)
    return name.replace(".jpg", "-thumb.jpg")


if __name__ == "__main__":
    files = [f"photo-{i:03d}.jpg" for i in range(40)]

    # Your own pool: pass the activity's handle to the tasks.
    activity = livebar.live_activity("Resize photos", total=len(files))
    with activity, activity.handle() as progress, ProcessPoolExecutor(4) as pool:
        small = list(pool.map(resize, files, [progress] * len(files)))

    # The one-liner: each item is counted when it finishes, whatever the chunk size.
    thumbs = process_map(thumbnail, files, max_workers=4, chunksize=8, title="Thumbnails")
    print(len(small), len(thumbs))
