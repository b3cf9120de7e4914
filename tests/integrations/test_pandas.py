"""livebar.pandas(): progress_apply / progress_map with one activity each, honest endings."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from phone import only_activity

import livebar


@pytest.fixture
def registered(sim: Any) -> None:
    """progress_* registered, pointing at the simulator."""
    livebar.pandas(api_key=sim.api_key, base_url=sim.url, mininterval=0)


def test_series_progress_apply_is_done_with_the_same_result(sim: Any, registered: None) -> None:
    """Series.progress_apply returns what apply returns; the activity ends done at 100%."""
    series = pd.Series(range(200))
    assert series.apply(lambda x: x * 2).equals(series.progress_apply(lambda x: x * 2))
    activity = only_activity(sim)
    assert ("<lambda> (apply)", 100) == (
        activity["displayed"]["title"],
        activity["displayed"]["percentage"],
    )
    assert activity["displayed"]["subtitle"].startswith("Done in")


def test_dataframe_rows_and_groups(sim: Any, registered: None) -> None:
    """DataFrame.progress_apply(axis=1) counts rows; groupby().progress_apply counts groups."""
    frame = pd.DataFrame({"key": [1, 1, 2, 3], "value": [1.0, 2.0, 3.0, 4.0]})
    rows = frame.progress_apply(lambda row: row["value"] + 1, axis=1)
    assert [2.0, 3.0, 4.0, 5.0] == rows.tolist()
    totals = frame.groupby("key")["value"].progress_apply(lambda group: group.sum())
    assert [3.0, 3.0, 4.0] == totals.tolist()
    cells = frame.progress_map(str)
    assert "1.0" == cells.loc[0, "value"]
    livebar.flush(10)
    ended = {a["displayed"]["title"]: a for a in sim.activities()}
    assert {"<lambda> (apply)", "str (map)"} == set(ended)
    assert all(a["displayed"]["subtitle"].startswith("Done") for a in sim.activities())
    assert 3 == len(sim.activities())


def test_a_failing_function_fails_the_activity(sim: Any, registered: None) -> None:
    """An exception on row 3: the same exception out of progress_apply, failed on the phone."""

    def parse(x: int) -> int:
        if x == 3:
            raise ValueError("row 3 is not a number")
        return x

    with pytest.raises(ValueError, match="row 3"):
        pd.Series(range(10)).progress_apply(parse)
    displayed = only_activity(sim)["displayed"]
    assert "ValueError: row 3 is not a number" in displayed["subtitle"]
    assert "red" == displayed["color"]


def test_ctrl_c_cancels(sim: Any, registered: None) -> None:
    """A KeyboardInterrupt mid-map: Cancelled, and the interrupt propagates."""

    def interrupt(x: int) -> int:
        if x == 5:
            raise KeyboardInterrupt
        return x

    with pytest.raises(KeyboardInterrupt):
        pd.Series(range(10)).progress_map(interrupt)
    displayed = only_activity(sim)["displayed"]
    assert displayed["subtitle"].startswith("Cancelled")
    assert 50 == displayed["percentage"]
