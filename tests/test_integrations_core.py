"""The integrations' promises to the core: no framework is imported until asked for."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

FRAMEWORKS = {
    "IPython",
    "airflow",
    "celery",
    "dask",
    "distributed",
    "keras",
    "lightning",
    "pandas",
    "prefect",
    "ray",
    "torch",
    "transformers",
}


def test_import_livebar_and_the_stdlib_integrations_import_no_framework() -> None:
    """livebar, act.handle(), rank checks, notebooks, contrib.concurrent, the pytest plugin,
    LogHandler and ``livebar watch`` load no framework."""
    script = (
        "import json, sys\n"
        "import livebar, livebar.contrib.concurrent, livebar._integrations.handle\n"
        "import livebar._engine.ranks\n"
        "import livebar._integrations.ipython, livebar._integrations.training\n"
        "import livebar.pytest_plugin, livebar._integrations.watch, livebar._integrations.keyed\n"
        "livebar.LogHandler\n"
        "livebar.pandas  # the name resolves; pandas itself loads only when it is called\n"
        "livebar._engine.ranks.process_rank()\n"
        "livebar._integrations.ipython.watch_running_shell(list)\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert 0 == proc.returncode, proc.stderr
    assert [] == sorted(FRAMEWORKS & set(json.loads(proc.stdout)))


def test_close_with_a_subtitle_shows_the_callers_wording(sim: Any) -> None:
    """close(subtitle=...) replaces the engine's ending text (integrations' "Stopped early")."""
    import livebar

    act = livebar.live_activity("Fit", total=10, api_key=sim.api_key, base_url=sim.url).start()
    act.update(4)
    act.close(outcome="stopped", subtitle="Stopped early at epoch 4")
    assert act.wait(10)
    [activity] = sim.activities()
    assert ("Stopped early at epoch 4", 40) == (
        activity["displayed"]["subtitle"],
        activity["displayed"]["percentage"],
    )


def test_close_with_a_bad_subtitle_names_the_field() -> None:
    """A subtitle that is not a string is refused before anything changes."""
    import pytest

    import livebar
    from livebar._wire.errors import ValidationError

    act = livebar.live_activity("Fit", disable=True).start()
    with pytest.raises(ValidationError) as caught:
        act.close(subtitle=42)  # type: ignore[arg-type]
    assert ("subtitle", None) == (caught.value.field, act.outcome)
