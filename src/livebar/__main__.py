"""``python -m livebar``: the same as the ``livebar`` command."""

from __future__ import annotations

from livebar._cli import main

raise SystemExit(main())
