"""Loop cost: nanoseconds per iteration of an empty loop body, wrapped by each progress tool.

All variants run in one process over the same N items, in rounds: each round runs every variant
once, in a shuffled order, so drift of the machine hits every variant alike. The figure is the
median over the rounds, with the range. Ratios to tqdm are computed within each round.

livebar mirrors for real: a simulator is served in-process on 127.0.0.1 and every mirrored run
uses a fresh API key, so each run starts with the account budget a fresh process would have.
``livebar.flush()`` runs between mirrored runs, outside the timed region. The peers that call
the official SDK are measured on the same loop against the same simulator.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import random
import statistics
import sys
import time
from collections.abc import Iterable
from typing import Any, Callable

from bench_common import Spread, emit, sdk_client

INPUTS = ("list", "generator")


def _null() -> Any:
    return open(os.devnull, "w")


def _drain(iterable: Iterable[Any]) -> None:
    for _ in iterable:
        pass


def _sdk_every(client: Any, data: Iterable[Any], total: int, every: int) -> None:
    """The SDK called from the loop every ``every`` items (blocking), as its README shows."""
    la = client.live_activities
    started = la.start(
        content_state={"title": "Bench", "type": "progress", "percentage": 0},
    )
    activity_id = started.activity_id
    for i, _ in enumerate(data, 1):
        if i % every == 0:
            with contextlib.suppress(Exception):  # a 429 would otherwise end the job
                la.update(
                    activity_id=activity_id,
                    content_state={"title": "Bench", "percentage": round(100 * i / total, 1)},
                )
    la.end(
        activity_id=activity_id,
        content_state={"title": "Bench", "percentage": 100, "auto_dismiss_minutes": 0},
    )


def contrib_mirror_class() -> Any:
    """A ``tqdm.contrib`` style mirror (the shape of ``tqdm.contrib.telegram``) on the SDK."""
    from tqdm.contrib.utils_worker import MonoWorker
    from tqdm.std import tqdm as std_tqdm

    class ActivityIO(MonoWorker):  # type: ignore[misc]
        def __init__(self, client: Any, title: str) -> None:
            super().__init__()
            self.la = client.live_activities
            self.title = title
            self.text = ""
            started = self.la.start(
                content_state={"title": title, "type": "progress", "percentage": 0}
            )
            self.activity_id = started.activity_id

        def write(self, percentage: float, text: str) -> Any:
            if text == self.text:
                return None
            self.text = text
            state = {"title": self.title, "percentage": percentage, "subtitle": text[:60]}
            return self.submit(self._safe, self.la.update, state)

        def end(self) -> Any:
            state = {"title": self.title, "percentage": 100, "auto_dismiss_minutes": 0}
            return self.submit(self._safe, self.la.end, state)

        def _safe(self, call: Callable[..., Any], state: dict[str, Any]) -> None:
            with contextlib.suppress(Exception):
                call(activity_id=self.activity_id, content_state=state)

    class ActivityTqdm(std_tqdm):  # type: ignore[misc]
        def __init__(self, *args: Any, client: Any = None, **kwargs: Any) -> None:
            self.aio = ActivityIO(client, kwargs.get("desc") or "Bench")
            super().__init__(*args, **kwargs)

        def display(self, **kwargs: Any) -> None:
            super().display(**kwargs)
            fmt = self.format_dict
            total = fmt.get("total") or 0
            percentage = round(100 * fmt["n"] / total, 1) if total else 0
            self.aio.write(min(percentage, 100), self.format_meter(**fmt))

        def close(self) -> None:
            if self.disable:
                return
            super().close()
            future = self.aio.end()
            if future is not None:
                future.result(timeout=10)

    return ActivityTqdm


def run(quick: bool = False) -> dict[str, Any]:
    import rich.progress
    from rich.console import Console
    from tqdm import tqdm as plain_tqdm

    import livebar
    from livebar.simulator import serve

    try:
        from livebar import tqdm as livebar_tqdm
    except Exception as exc:  # another engineer is finishing it
        livebar_tqdm = None
        tqdm_missing = f"{type(exc).__name__}: {exc}"
    else:
        tqdm_missing = None

    n = 200_000 if quick else 2_000_000
    rounds = 3 if quick else 9
    peer_rounds = 2 if quick else 3
    data = list(range(n))
    keys = (f"ask_bench_{i:04d}" for i in itertools.count())
    key_pool = {f"ask_bench_{i:04d}": None for i in range(400)}
    rng = random.Random(6)

    with serve(
        keys=key_pool, rate_limit=1_000_000, max_activities=100_000, throttle_seconds=0.0
    ) as sim:
        url = sim.url

        def source(kind: str) -> Iterable[int]:
            return data if kind == "list" else (x for x in data)

        def key() -> str:
            return key_of[current[0]]

        variants: dict[str, Callable[[Iterable[int]], Iterable[Any]]] = {
            "bare loop": lambda it: it,
            "tqdm": lambda it: plain_tqdm(it, file=_null(), total=n),
            "rich.progress.track": lambda it: rich.progress.track(
                it, total=n, console=Console(file=_null())
            ),
            "livebar.track": lambda it: livebar.track(
                it, "Bench", total=n, api_key=key(), base_url=url
            ),
            "livebar.track (disable=True)": lambda it: livebar.track(
                it, "Bench", total=n, disable=True
            ),
        }
        if livebar_tqdm is not None:
            variants["livebar.tqdm"] = lambda it: livebar_tqdm(
                it, file=_null(), total=n, api_key=key(), base_url=url
            )
            variants["livebar.tqdm (live=False)"] = lambda it: livebar_tqdm(
                it, file=_null(), total=n, live=False
            )
        mirrored = {"livebar.track", "livebar.tqdm"}
        # One key (one account, one connection) per mirrored variant and input, as in a process
        # that has mirrored a loop before; its first use, in the warm-up round, is not timed.
        key_of = {(name, kind): next(keys) for name in variants for kind in INPUTS}
        current = [("", "")]
        times: dict[str, dict[str, list[float]]] = {
            kind: {name: [] for name in variants} for kind in INPUTS
        }
        first_use: list[float] = []
        for round_no in range(rounds + 1):
            for kind in INPUTS:
                order = list(variants)
                rng.shuffle(order)
                for name in order:
                    current[0] = (name, kind)
                    began = time.perf_counter()
                    _drain(variants[name](source(kind)))
                    elapsed = time.perf_counter() - began
                    if round_no:
                        times[kind][name].append(elapsed / n * 1e9)
                    if name in mirrored:
                        flushed = time.perf_counter()
                        livebar.flush(5.0)
                        if not round_no:
                            first_use.append(time.perf_counter() - flushed + elapsed)

        # The peers: the official SDK, blocking every 1 %, and a tqdm.contrib style mirror.
        sdk = sdk_client(url, next(keys))
        mirror = contrib_mirror_class()
        peer_times: dict[str, dict[str, list[float]]] = {kind: {} for kind in INPUTS}
        for _ in range(peer_rounds):
            for kind in INPUTS:
                began = time.perf_counter()
                _sdk_every(sdk, source(kind), n, n // 100)
                peer_times[kind].setdefault("activitysmith SDK every 1 %", []).append(
                    (time.perf_counter() - began) / n * 1e9
                )
                began = time.perf_counter()
                _drain(mirror(source(kind), total=n, file=_null(), client=sdk, desc="Bench"))
                peer_times[kind].setdefault("tqdm.contrib-style mirror (SDK)", []).append(
                    (time.perf_counter() - began) / n * 1e9
                )
        mirrored_started = len(sim.activities())

    result: dict[str, Any] = {"n": n, "rounds": rounds, "peer_rounds": peer_rounds, "inputs": {}}
    for kind in INPUTS:
        rows: dict[str, Any] = {}
        t = times[kind]
        for name, values in t.items():
            row: dict[str, Any] = {"ns": Spread.of(values).to_json()}
            if name not in ("bare loop", "tqdm"):
                total = [v / q for v, q in zip(values, t["tqdm"])]
                over = [(v - b) / (q - b) for v, q, b in zip(values, t["tqdm"], t["bare loop"])]
                row["vs_tqdm_total"] = Spread.of(total).to_json()
                row["vs_tqdm_overhead"] = Spread.of(over).to_json()
            rows[name] = row
        for name, values in peer_times[kind].items():
            tq = statistics.median(t["tqdm"])
            bare = statistics.median(t["bare loop"])
            med = statistics.median(values)
            rows[name] = {
                "ns": Spread.of(values).to_json(),
                "vs_tqdm_total_median": med / tq,
                "vs_tqdm_overhead_median": (med - bare) / (tq - bare),
                "peer": True,
            }
        result["inputs"][kind] = rows
    result["tqdm_missing"] = tqdm_missing
    result["first_activity_seconds"] = Spread.of(first_use).to_json()
    result["activities_seen_by_simulator"] = mirrored_started
    return result


def _main(argv: list[str]) -> None:
    emit(run(quick="--quick" in argv))


if __name__ == "__main__":
    _main(sys.argv[1:])
