"""Integrations with the standard library and third-party frameworks, each imported on demand.

``livebar.contrib.concurrent``: ``thread_map`` and ``process_map``. The framework integrations
live at the top level: ``livebar.lightning``, ``livebar.keras``, ``livebar.transformers``,
``livebar.dask``, ``livebar.ray`` and ``livebar.pandas()``.
"""
