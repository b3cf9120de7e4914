"""``from livebar.auto import tqdm, trange``: the Jupyter-aware bar, mirrored to a Live Activity.

Like ``tqdm.auto``, the bar is a widget in a notebook and text in a terminal; ``livebar.tqdm`` is
already built on ``tqdm.auto.tqdm``, so this module is the same class under the name notebook
users reach for.
"""

from __future__ import annotations

from livebar._integrations.tqdm import tqdm, trange

__all__ = ["tqdm", "trange"]
