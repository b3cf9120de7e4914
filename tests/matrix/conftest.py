"""Fixtures shared by the fault matrix (helpers live in ``support``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import livebar
from livebar._defaults import DEFAULT_FLUSH_TIMEOUT


@pytest.fixture(autouse=True)
def default_flush_deadline() -> Iterator[None]:
    """Each cell starts from the default flush deadline (5 s), whatever the last configured."""
    livebar.configure(flush_timeout=DEFAULT_FLUSH_TIMEOUT)
    yield
    livebar.configure(flush_timeout=DEFAULT_FLUSH_TIMEOUT)
