"""The integrations' promises to the core: no framework is imported until asked for."""

from __future__ import annotations

import json
import subprocess
import sys

FRAMEWORKS = {
    "IPython",
    "dask",
    "distributed",
    "keras",
    "lightning",
    "pandas",
    "ray",
    "torch",
    "transformers",
}


def test_import_livebar_and_the_stdlib_integrations_import_no_framework() -> None:
    """livebar, act.handle(), rank checks, notebooks and contrib.concurrent load no framework."""
    script = (
        "import json, sys\n"
        "import livebar, livebar.contrib.concurrent, livebar._handle, livebar._ranks\n"
        "import livebar._ipython, livebar._training\n"
        "livebar.pandas  # the name resolves; pandas itself loads only when it is called\n"
        "livebar._ranks.process_rank()\n"
        "livebar._ipython.watch_running_shell()\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert 0 == proc.returncode, proc.stderr
    assert [] == sorted(FRAMEWORKS & set(json.loads(proc.stdout)))
