"""livebar.tqdm against plain tqdm.auto.tqdm: same arguments, same terminal bytes, same results.

Each scenario runs twice, once with tqdm's class and once with livebar's, each writing to its own
``io.StringIO``. tqdm's clock (``tqdm.std.time``) is replaced by a fake that advances a fixed step
per call, so elapsed times and rates are printed too and still compare exactly: any extra or
missing clock read by the subclass would show up as a difference.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterator
from typing import Any, Callable

import pytest
import tqdm.auto
import tqdm.std

import livebar._integrations.tqdm
from livebar._integrations.tqdm import tqdm as live_tqdm
from livebar._integrations.tqdm import trange as live_trange

Scenario = Callable[[Callable[..., Any], type, io.StringIO], Any]


class FakeClock:
    """Each call returns a time ``step`` seconds after the previous one."""

    def __init__(self, step: float = 0.25) -> None:
        self._ticks = itertools.count()
        self._step = step

    def __call__(self) -> float:
        return 1_000_000.0 + next(self._ticks) * self._step


@pytest.fixture(params=["live-off", "live-on"])
def mode(request: pytest.FixtureRequest) -> str:
    """Run each scenario with mirroring off, then mirroring on (against the simulator)."""
    return str(request.param)


@pytest.fixture
def live_options(mode: str, request: pytest.FixtureRequest) -> dict[str, Any]:
    """livebar keywords for the chosen mode."""
    if mode == "live-off":
        return {"live": False}
    sim = request.getfixturevalue("sim")
    return {"live": True, "api_key": sim.api_key, "base_url": sim.url, "flush_timeout": 2.0}


def run_both(
    scenario: Scenario, live_options: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> tuple[tuple[str, Any], tuple[str, Any]]:
    """Run ``scenario`` with plain tqdm and with livebar; return (output, result) of each."""
    runs = []
    bars: list[Any] = []
    for cls, options in ((tqdm.auto.tqdm, {}), (live_tqdm, live_options)):
        monkeypatch.setattr(tqdm.std, "time", FakeClock())
        out = io.StringIO()

        def make(
            *args: Any,
            _cls: type = cls,
            _options: dict[str, Any] = options,
            _out: io.StringIO = out,
            **kw: Any,
        ) -> Any:
            if len(args) < 5:  # ``file`` is tqdm's fifth positional argument
                kw.setdefault("file", _out)
            bar = _cls(*args, **_options, **kw)
            bars.append(bar)
            return bar

        try:
            result: Any = ("returned", scenario(make, cls, out))
        except Exception as exc:  # compared below: the same exception must come out
            result = ("raised", type(exc), str(exc))
        runs.append((out.getvalue(), result))
    wait_for_endings(bars)
    return runs[0], runs[1]


def wait_for_endings(bars: list[Any]) -> None:
    """Let every mirrored bar's end reach the simulator before the next test (or its shutdown)."""
    for bar in bars:
        activity = getattr(bar, "activity", None)
        if activity is not None:
            bar.close()
            assert activity.wait(timeout=10)


def assert_same(
    scenario: Scenario, live_options: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> str:
    """Both runs printed the same bytes and returned (or raised) the same thing."""
    plain, ours = run_both(scenario, live_options, monkeypatch)
    assert plain == ours
    return plain[0]


def numbers(n: int) -> Iterator[int]:
    """A generator with no length."""
    yield from range(n)


def test_iterate_list_with_default_format(live_options, monkeypatch) -> None:
    """Iterating a list prints the same bars, rates and elapsed times."""

    def scenario(make, cls, out):
        return [x * 2 for x in make(list(range(50)), desc="Resize", mininterval=0.5)]

    output = assert_same(scenario, live_options, monkeypatch)
    assert "Resize: 100%" in output


def test_generator_without_length(live_options, monkeypatch) -> None:
    """A generator with no length prints a counter and rate the same way."""

    def scenario(make, cls, out):
        return sum(make(numbers(40), unit="rows", mininterval=0))

    assert_same(scenario, live_options, monkeypatch)


def test_manual_updates_with_units(live_options, monkeypatch) -> None:
    """update(n) with unit_scale and unit_divisor returns and prints what tqdm does."""

    def scenario(make, cls, out):
        bar = make(total=10 * 1024 * 1024, unit="B", unit_scale=True, unit_divisor=1024)
        returned = [bar.update(1024 * 1024) for _ in range(10)]
        bar.close()
        return returned, bar.n, bar.total

    assert_same(scenario, live_options, monkeypatch)


def test_descriptions_and_postfixes(live_options, monkeypatch) -> None:
    """set_description, set_postfix (dict and keywords) and their _str forms print the same."""

    def scenario(make, cls, out):
        with make(total=4, desc="Train", postfix={"loss": 1.0}, mininterval=0) as bar:
            bar.set_description("Epoch 1")
            bar.update()
            bar.set_postfix({"loss": 0.5}, acc=0.25)
            bar.update()
            bar.set_postfix_str("custom")
            bar.set_description_str("raw desc")
            bar.update(2)
            return bar.desc, bar.postfix

    assert_same(scenario, live_options, monkeypatch)


def test_reset_for_epochs(live_options, monkeypatch) -> None:
    """reset(total=...) between epochs prints the same bars."""

    def scenario(make, cls, out):
        bar = make(total=3, desc="Epochs", mininterval=0)
        for epoch, size in enumerate((3, 5, 2)):
            bar.reset(total=size)
            bar.set_description(f"Epoch {epoch}")
            for _ in range(size):
                bar.update()
        bar.close()
        return bar.n, bar.total

    assert_same(scenario, live_options, monkeypatch)


def test_nested_bars_and_leave_false(live_options, monkeypatch) -> None:
    """An outer bar with inner bars that do not leave prints the same screen."""

    def scenario(make, cls, out):
        total = 0
        for i in make(range(3), desc="outer", mininterval=0):
            for j in make(range(4), desc="inner", leave=False, mininterval=0):
                total += i * j
        return total

    assert_same(scenario, live_options, monkeypatch)


def test_positions(live_options, monkeypatch) -> None:
    """Bars at explicit positions print the same cursor movements."""

    def scenario(make, cls, out):
        bars = [make(total=2, position=p, desc=f"bar{p}", mininterval=0) for p in range(3)]
        for bar in reversed(bars):
            bar.update(2)
            bar.close()
        return [bar.pos for bar in bars]

    assert_same(scenario, live_options, monkeypatch)


def test_with_and_break(live_options, monkeypatch) -> None:
    """Breaking out of a loop inside ``with`` prints the bar where it stopped."""

    def scenario(make, cls, out):
        seen = []
        with make(range(100), mininterval=0) as bar:
            for x in bar:
                seen.append(x)
                if x == 10:
                    break
        return seen, bar.n

    assert_same(scenario, live_options, monkeypatch)


def test_bare_loop_break(live_options, monkeypatch) -> None:
    """Breaking out of a bare ``for`` loop prints the same."""

    def scenario(make, cls, out):
        for x in make(range(100), mininterval=0):
            if x == 7:
                break
        return x

    assert_same(scenario, live_options, monkeypatch)


def test_exception_inside_with(live_options, monkeypatch) -> None:
    """An exception inside ``with`` prints the same and comes out unchanged."""

    def scenario(make, cls, out):
        with make(range(10), mininterval=0) as bar:
            for x in bar:
                if x == 3:
                    raise ValueError("bad row 3")

    plain, ours = run_both(scenario, live_options, monkeypatch)
    assert plain == ours
    assert ("raised", ValueError, "bad row 3") == ours[1]


def test_exception_raised_by_the_iterable(live_options, monkeypatch) -> None:
    """An iterable that raises prints the same and the error comes out unchanged."""

    def broken() -> Iterator[int]:
        yield 1
        raise OSError("disk gone")

    def scenario(make, cls, out):
        return list(make(broken(), mininterval=0))

    plain, ours = run_both(scenario, live_options, monkeypatch)
    assert plain == ours
    assert ("raised", OSError, "disk gone") == ours[1]


def test_write_and_external_write_mode(live_options, monkeypatch) -> None:
    """tqdm.write and external_write_mode (class methods) print around the bar the same way."""

    def scenario(make, cls, out):
        bar = make(total=3, mininterval=0)
        bar.update()
        cls.write("a message", file=out)
        with cls.external_write_mode(file=out):
            out.write("from print\n")
        bar.write("via instance", file=out)
        bar.update(2)
        bar.close()
        return bar.n

    assert_same(scenario, live_options, monkeypatch)


def test_refresh_clear_unpause_and_close_twice(live_options, monkeypatch) -> None:
    """refresh, clear, unpause and a second close behave and return the same."""

    def scenario(make, cls, out):
        bar = make(total=5, mininterval=0)
        results = [bar.refresh(), bar.update(2)]
        bar.clear()
        results.append(bar.unpause())
        results.append(bar.update())
        results.append(bar.close())
        results.append(bar.close())
        return results

    assert_same(scenario, live_options, monkeypatch)


def test_bar_format_miniters_and_initial(live_options, monkeypatch) -> None:
    """bar_format, miniters, initial, ncols and ascii reach tqdm unchanged."""

    def scenario(make, cls, out):
        bar = make(
            total=20,
            initial=5,
            miniters=3,
            mininterval=0,
            ncols=60,
            ascii=True,
            bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}]",
        )
        for _ in range(15):
            bar.update()
        bar.close()
        return str(bar)

    assert_same(scenario, live_options, monkeypatch)


def test_positional_arguments(live_options, monkeypatch) -> None:
    """tqdm's positional arguments (iterable, desc, total, leave, file) keep their meaning."""

    def scenario(make, cls, out):
        return "".join(make(iter("abcdef"), "letters", 6, False, out))

    assert_same(scenario, live_options, monkeypatch)


def test_sized_helpers(live_options, monkeypatch) -> None:
    """len(), bool(), ``in`` and reversed() answer what tqdm answers."""

    def scenario(make, cls, out):
        bar = make(list(range(5)), mininterval=0)
        answers = [len(bar), bool(bar), 3 in bar, list(reversed(bar))]
        bar.close()
        return answers

    assert_same(scenario, live_options, monkeypatch)


def test_disable_true(live_options, monkeypatch) -> None:
    """disable=True prints nothing and iterates the same."""

    def scenario(make, cls, out):
        bar = make(range(5), disable=True)
        items = list(bar)
        return items, bar.update(), bar.n, bar.close()

    assert "" == assert_same(scenario, live_options, monkeypatch)


def test_disable_none_on_a_non_tty(live_options, monkeypatch) -> None:
    """disable=None writing to a non-TTY prints nothing, like tqdm."""

    def scenario(make, cls, out):
        items = list(make(range(5), disable=None))
        bar = make(total=3, disable=None)
        bar.update()
        bar.close()
        return items

    assert "" == assert_same(scenario, live_options, monkeypatch)


def test_unknown_argument_raises_like_tqdm(live_options, monkeypatch) -> None:
    """An argument neither tqdm nor livebar knows raises tqdm's own error."""

    def scenario(make, cls, out):
        make(total=3, no_such_option=1)

    plain, ours = run_both(scenario, live_options, monkeypatch)
    assert plain == ours
    assert "raised" == ours[1][0]


def test_trange(live_options, monkeypatch) -> None:
    """trange(n) is tqdm(range(n))."""

    def scenario(make, cls, out):
        factory = tqdm.auto.trange if cls is tqdm.auto.tqdm else live_trange
        options = {} if cls is tqdm.auto.tqdm else live_options
        return list(factory(2, 9, 3, file=out, mininterval=0, **options))

    assert_same(scenario, live_options, monkeypatch)


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Run async tests on asyncio and trio."""
    return str(request.param)


@pytest.mark.anyio
async def test_async_for(live_options, monkeypatch) -> None:
    """``async for`` over an async generator prints the same and yields the same items."""

    async def agen(n: int) -> Any:
        for i in range(n):
            yield i

    outputs = []
    for cls, options in ((tqdm.auto.tqdm, {}), (live_tqdm, live_options)):
        monkeypatch.setattr(tqdm.std, "time", FakeClock())
        out = io.StringIO()
        items = [x async for x in cls(agen(6), total=6, file=out, mininterval=0, **options)]
        outputs.append((out.getvalue(), items))
    assert outputs[0] == outputs[1]


def test_subclass_of_tqdm_auto() -> None:
    """livebar's class is a tqdm.auto.tqdm, so isinstance checks and class methods still work."""
    assert issubclass(live_tqdm, tqdm.auto.tqdm)
    assert ["tqdm", "trange"] == livebar._integrations.tqdm.__all__
