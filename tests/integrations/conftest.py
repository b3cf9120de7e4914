"""The integration tests: real frameworks, tiny models, CPU only, offline.

Run in their own virtual environment (see ``.ci/run``); the core suite never collects this
folder (``norecursedirs`` in ``pyproject.toml``). The parent ``tests/conftest.py`` supplies the
spec-checked ``sim`` fixture.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("KERAS_BACKEND", "torch")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("DASK_DISTRIBUTED__DIAGNOSTICS__NVML", "False")


import pytest

# The frameworks' own deprecation warnings, each by message and by the module that raises it:
# under filterwarnings=error they would fail tests that are about livebar, not about them.
FRAMEWORK_WARNINGS = (
    r"ignore:`isinstance\(treespec, LeafSpec\)` is deprecated:FutureWarning:"
    r"lightning.pytorch.utilities._pytree",
)


def pytest_configure(config: pytest.Config) -> None:
    for line in FRAMEWORK_WARNINGS:
        config.addinivalue_line("filterwarnings", line)


@pytest.fixture(autouse=True)
def quick_updates() -> None:
    """Updates may go out 50 ms apart, so a run of a second shows its subtitles on the phone."""
    import livebar

    livebar.configure(budgets=livebar.Budgets(min_update_gap=0.05))
