"""Notebooks: a failing cell ends its activities failed, an interrupted cell cancelled."""

from __future__ import annotations

from typing import Any

import nbformat
import pytest
from IPython.core.interactiveshell import InteractiveShell
from nbclient import NotebookClient

import livebar
from livebar._engine.runtime import runtime
from livebar._integrations.ipython import watch


def by_title(sim: Any) -> dict[str, dict[str, Any]]:
    livebar.flush(10)
    return {a["title"]: a["displayed"] for a in sim.activities()}


@pytest.fixture
def shell(sim: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A real IPython shell in this process, watched by livebar, pointing at the simulator."""
    for name, value in sim.env().items():
        monkeypatch.setenv(name, value)
    shell = InteractiveShell.instance()
    assert watch(shell, runtime.open_activities)
    assert watch(shell, runtime.open_activities)  # idempotent
    yield shell
    InteractiveShell.clear_instance()


def test_a_raising_bare_loop_in_a_cell_ends_failed(sim: Any, shell: Any) -> None:
    """A bare livebar.auto.tqdm loop that raises in a cell: failed, not "Stopped at 25%"."""
    result = shell.run_cell(
        "from livebar.auto import tqdm\n"
        "for i in tqdm(range(8), desc='Cell loop'):\n"
        "    if i == 2:\n"
        "        raise ValueError('bad row')\n"
    )
    assert isinstance(result.error_in_exec, ValueError)
    shown = by_title(sim)["Cell loop"]
    assert "Failed: ValueError: bad row" == shown["subtitle"]
    assert "red" == shown["color"]


def test_keyboard_interrupt_in_a_cell_ends_cancelled(sim: Any, shell: Any) -> None:
    """A cell stopped by KeyboardInterrupt (the kernel's interrupt): Cancelled."""
    shell.run_cell(
        "from livebar.auto import tqdm\n"
        "for i in tqdm(range(8), desc='Interrupted loop'):\n"
        "    if i == 4:\n"
        "        raise KeyboardInterrupt\n"
    )
    shown = by_title(sim)["Interrupted loop"]
    assert shown["subtitle"].startswith("Cancelled")
    assert 50 == shown["percentage"]


def test_only_what_the_failing_cell_opened_is_ended(sim: Any, shell: Any) -> None:
    """An activity opened by an earlier cell stays open; one opened by the failing cell fails."""
    shell.run_cell("import livebar\nlong = livebar.live_activity('Long-lived').start()\n")
    shell.run_cell(
        "callback_like = livebar.live_activity('Opened here').start()\n"
        "raise RuntimeError('cell broke')\n"
    )
    livebar.flush(10)
    assert "Failed: RuntimeError: cell broke" == by_title(sim)["Opened here"]["subtitle"]
    assert shell.user_ns["long"].outcome is None
    shell.run_cell("long.close()")
    assert "done" == shell.user_ns["long"].outcome


def test_a_successful_cell_changes_nothing(sim: Any, shell: Any) -> None:
    """A cell that runs fine: its loop ends done as usual."""
    shell.run_cell(
        "from livebar.auto import tqdm\nfor i in tqdm(range(3), desc='Fine'):\n    pass\n"
    )
    assert by_title(sim)["Fine"]["subtitle"].startswith("Done")


NOTEBOOK_CELLS = [
    "from livebar.auto import tqdm\nimport time",
    "for i in tqdm(range(8), desc='Kernel loop'):\n    if i == 2:\n        raise ValueError('bad')",
    "for i in tqdm(range(1000), desc='Kernel interrupted'):\n    time.sleep(0.01)",
    "import livebar\nlivebar.flush(5)",
]


def test_an_nbclient_notebook_fails_and_cancels(sim: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real kernel: the hook installs itself; the failing cell fails, the interrupted cancels."""
    for name, value in sim.env().items():
        monkeypatch.setenv(name, value)
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(source) for source in NOTEBOOK_CELLS]
    )
    client = NotebookClient(
        notebook,
        kernel_name="python3",
        allow_errors=True,
        interrupt_on_timeout=True,
        timeout=60,
        timeout_func=lambda cell: 3 if "Kernel interrupted" in cell.source else 60,
    )
    client.execute()
    outputs = [o for cell in notebook.cells for o in cell.get("outputs", [])]
    errors = [o["ename"] for o in outputs if o.get("output_type") == "error"]
    assert ["ValueError", "KeyboardInterrupt"] == errors
    shown = by_title(sim)
    assert "Failed: ValueError: bad" == shown["Kernel loop"]["subtitle"]
    assert shown["Kernel interrupted"]["subtitle"].startswith("Cancelled")
