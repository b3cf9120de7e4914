"""Opening costs the caller nothing: the first activity of a process is handed over, and the
engine, the client, the ledger and their imports load on the engine's thread (issue #19)."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

PROBE = r"""
import sys, threading
import livebar
act = livebar.live_activity("Lazy", total=3)
main = threading.get_ident()
imported = []
def audit(event, args):
    if event == "import" and threading.get_ident() == main:
        imported.append(args[0])
sys.addaudithook(audit)
act.__enter__()
print(" ".join(imported))
act.__exit__(None, None, None)
print(livebar.flush(10.0), act.enabled)
"""


def test_entering_the_first_activity_imports_nothing_heavy_on_the_callers_thread(
    sim: Any,
) -> None:
    """The caller's thread imports only the engine's front (no dispatcher, ledger, client,
    httpx or logging); the activity is mirrored all the same."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        env={**os.environ, **sim.env()},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert 0 == done.returncode, done.stderr
    imported, result = done.stdout.splitlines()
    heavy = {"httpx", "logging", "sqlite3", "livebar._engine.dispatcher", "livebar._wire.client"}
    assert set() == heavy & set(imported.split())
    assert not [name for name in imported.split() if name.startswith("livebar._ledger")]
    assert "True True" == result
