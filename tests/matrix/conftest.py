"""Fixtures shared by the fault matrix (helpers live in ``support``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import livebar
from livebar import _dispatch


@pytest.fixture(autouse=True)
def default_flush_deadline() -> Iterator[None]:
    """Each cell starts from the default flush deadline (5 s), whatever the last configured."""
    _dispatch._flush_timeout = None
    yield
    _dispatch._flush_timeout = None
    livebar.configure(budgets=livebar.Budgets())
