"""livebar.celery with a real worker process: done, failed, retried, revoked, a group of 20.

Broker and result backend are a real ``redis-server`` on 127.0.0.1 started by the test: the
worker is a separate process (``celery worker --pool=prefork``), and Celery's in-memory
transport only reaches consumers in the same process, so it could not carry the tasks to it.
One worker and one simulator serve the whole module (the worker's environment points at the
simulator); each test starts from a reset simulator.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pytest

import livebar
import livebar.celery
from ledger_support import RedisServer
from livebar.simulator import serve

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def phone() -> Iterator[Any]:
    """One simulator for the module (the worker process is pointed at it once)."""
    with serve() as sim:
        yield sim


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """A redis-server of the module's own on 127.0.0.1 (broker and result backend)."""
    server = RedisServer()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="module")
def tasks(phone: Any, redis_url: str) -> Iterator[Any]:
    """The task module, with a prefork worker process of 2 running it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVEBAR_")}
    env.update(
        LIVEBAR_LEDGER=os.environ["LIVEBAR_LEDGER"],  # the run's own (conftest), not ~/.cache
        LIVEBAR_COURIER="0",
        CELERY_TEST_REDIS=redis_url,
        PYTHONPATH=os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")]),
        **phone.env(),
    )
    os.environ["CELERY_TEST_REDIS"] = redis_url
    sys.path.insert(0, str(HERE))
    import celery_tasks

    celery_tasks.app.conf.update(broker_url=redis_url, result_backend=redis_url)
    worker = subprocess.Popen(
        [
            *(sys.executable, "-m", "celery", "-A", "celery_tasks", "worker"),
            *("--pool=prefork", "--concurrency=2", "--loglevel=WARNING"),
            *("--without-gossip", "--without-mingle", "--without-heartbeat"),
        ],
        cwd=HERE,
        env=env,
    )
    try:
        assert celery_tasks.app.control.ping(timeout=0.5) or _wait_for_worker(celery_tasks.app)
        yield celery_tasks
    finally:
        gc.collect()  # results unsubscribe from the backend when collected: while Redis is up
        celery_tasks.app.close()
        worker.terminate()
        worker.wait(30)


def _wait_for_worker(app: Any) -> bool:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if app.control.ping(timeout=0.5):
            return True
    return False


@pytest.fixture(autouse=True)
def fresh(phone: Any, spec_validator: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts from an empty simulator (the caller's livebar pointed at it too);
    every request it saw must validate."""
    for name, value in phone.env().items():
        monkeypatch.setenv(name, value)
    phone.reset()
    yield
    livebar.flush(5)
    for request in phone.requests():
        spec_validator.validate_body(request["method"], request["path"], request["body"])


def until(check: Callable[[], Any], timeout: float = 20) -> Any:
    """Poll ``check()`` until it is truthy (a real worker: nothing to advance by hand)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def ended(phone: Any, count: int = 1) -> list[dict[str, Any]]:
    """The simulator's activities once ``count`` of them have ended."""
    return until(
        lambda: (lambda a: a if sum(x["state"] == "ended" for x in a) >= count else None)(
            phone.activities()
        )
    )


def test_a_live_task_ends_done(phone: Any, tasks: Any) -> None:
    """count(40): one card, titled by the task, at 100 %, Done."""
    assert 780 == tasks.count.delay(40).get(timeout=20)
    [activity] = ended(phone)
    displayed = activity["displayed"]
    assert ("count", 100) == (displayed["title"], displayed["percentage"])
    assert displayed["subtitle"].startswith("Done in")


def test_a_failing_task_ends_failed_with_its_exception(phone: Any, tasks: Any) -> None:
    """broken(): red, "Failed: ValueError: bad row 7", at the progress it reached."""
    with pytest.raises(ValueError, match="bad row 7"):
        tasks.broken.delay().get(timeout=20)
    [activity] = ended(phone)
    displayed = activity["displayed"]
    assert ("Import rows", "Failed: ValueError: bad row 7", "red") == (
        displayed["title"],
        displayed["subtitle"],
        displayed["color"],
    )
    assert 70 == displayed["percentage"]


def test_a_retried_task_shows_each_attempt(phone: Any, tasks: Any) -> None:
    """flaky(): the first attempt's card says it will retry, the second one ends done.

    The attempts may run in the two pool processes, each sending its own card: which card the
    simulator saw start first is a race between them, so the cards are told apart by what they
    say, not by their order."""
    assert "ok" == tasks.flaky.delay().get(timeout=20)
    subtitles = sorted(card["displayed"]["subtitle"] for card in ended(phone, 2))
    retried, done = subtitles[1], subtitles[0]  # "Done in …" sorts before "Retry in …"
    assert "Retry in 0.2s: ConnectionError('db went away')" == retried
    assert done.startswith("Done in")


def test_a_revoked_task_ends_cancelled(phone: Any, tasks: Any) -> None:
    """slow() revoked with terminate=True: the worker's main process ends its card Cancelled."""
    result = tasks.slow.delay()
    assert until(lambda: phone.activities())
    result.revoke(terminate=True)
    [activity] = ended(phone)
    displayed = activity["displayed"]
    assert ("slow", "Revoked (terminated)") == (displayed["title"], displayed["subtitle"])
    assert "red" != displayed.get("color")


def test_a_group_of_20_is_one_card_in_the_caller(phone: Any, tasks: Any) -> None:
    """group of 20 add(): one card (the tasks are not live), 20 / 20, Done; the values back."""
    from celery import group

    result = group(tasks.add.s(i, i) for i in range(20))()
    values = livebar.celery.track(result, title="Adds", poll=0.1)
    assert [2 * i for i in range(20)] == values
    livebar.flush(5)
    [activity] = phone.activities()
    displayed = activity["displayed"]
    assert ("Adds", 20, 20) == (displayed["title"], displayed["value"], displayed["upper_limit"])
    assert displayed["subtitle"].startswith("Done in")
    assert len(phone.requests()) <= 8


def test_a_chord_counts_its_header_and_its_callback(phone: Any, tasks: Any) -> None:
    """chord(10 adds, total): 11 tasks on the card; track returns the callback's value."""
    from celery import chord

    result = chord(tasks.add.s(i, 1) for i in range(10))(tasks.total.s())
    assert 55 == livebar.celery.track(result, title="Chord", poll=0.1)
    livebar.flush(5)
    displayed = phone.activities()[0]["displayed"]
    assert (11, 11) == (displayed["value"], displayed["upper_limit"])


def test_a_failed_task_in_a_group_fails_the_card_and_raises(phone: Any, tasks: Any) -> None:
    """A group with one ZeroDivisionError: the card is red with it, and it is raised."""
    from celery import group

    result = group(tasks.divide.s(i) for i in range(10))()
    with pytest.raises(ZeroDivisionError):
        livebar.celery.track(result, title="Divide", poll=0.1)
    livebar.flush(5)
    displayed = phone.activities()[0]["displayed"]
    assert ("Failed: ZeroDivisionError: division by zero", "red") == (
        displayed["subtitle"],
        displayed["color"],
    )


def test_track_refuses_a_plain_result() -> None:
    """A single task's AsyncResult is not a group: a ValidationError names ``result``."""
    from celery.result import AsyncResult

    with pytest.raises(livebar.ValidationError) as info:
        livebar.celery.track(AsyncResult("x"), title="One")
    assert "result" == info.value.field
