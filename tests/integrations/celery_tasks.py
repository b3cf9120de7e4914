"""The Celery app and tasks the worker process of ``test_celery.py`` runs.

Broker and result backend: the test's own ``redis-server`` on 127.0.0.1 (``CELERY_TEST_REDIS``).
"""

from __future__ import annotations

import os
import time
from typing import Any

from celery import Celery

import livebar.celery

REDIS = os.environ.get("CELERY_TEST_REDIS", "redis://127.0.0.1:6379/0")

app = Celery("celery_tasks", broker=REDIS, backend=REDIS)
app.conf.update(
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
    task_acks_late=False,
    result_expires=600,
)


@app.task(bind=True, base=livebar.celery.Task, live=True)
def count(self: Any, n: int) -> int:
    """A live task that counts to ``n`` through ``self.track``."""
    total = 0
    for i in self.track(range(n)):
        total += i
        time.sleep(0.01)
    return total


@app.task(bind=True, base=livebar.celery.Task, live={"title": "Import rows"})
def broken(self: Any) -> None:
    """A live task that fails at its 8th row."""
    for i in range(10):
        self.progress(i, 10)
        if i == 7:
            raise ValueError(f"bad row {i}")


@app.task(bind=True, base=livebar.celery.Task, live=True, max_retries=2)
def flaky(self: Any) -> str:
    """Fails its first attempt and is retried after 0.2 s; the second attempt succeeds."""
    if self.request.retries == 0:
        raise self.retry(exc=ConnectionError("db went away"), countdown=0.2)
    return "ok"


@app.task(bind=True, base=livebar.celery.Task, live=True)
def slow(self: Any) -> None:
    """Runs long enough to be revoked."""
    for _ in self.track(range(300)):
        time.sleep(0.1)


@app.task(bind=True, base=livebar.celery.Task)
def add(self: Any, x: int, y: int) -> int:
    """Not live: progress calls cost nothing and send nothing."""
    self.progress(1, 1)
    time.sleep(0.05)
    return x + y


@app.task
def total(values: list[int]) -> int:
    """A chord's callback."""
    return sum(values)


@app.task
def divide(x: int) -> float:
    """Fails for 7."""
    return 1 / (x - 7)
