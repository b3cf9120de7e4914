"""Cards known by a key: for frameworks whose job starts in one place and may end in another.

A Celery task starts in a pool process and may be ended by the worker's main process (a
revocation that killed the pool process); a Prefect flow's crash hook may run outside the
process that ran the flow. Each card is a stream on a key derived from the framework's own id
(``celery-<task id>-<attempt>``, ``prefect-<flow run id>``): ended here when this process holds
it, or, from anywhere else, by a fresh activity on the same key, which continues that stream
and ends it.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from livebar._activity import LiveActivity

__all__ = ["END_WAIT", "KeyedCards"]

END_WAIT = 2.0
"""Seconds an ending waits to reach the phone: the framework's process may be replaced next
(a pool process at ``max_tasks_per_child``) without running exit hooks."""


class KeyedCards:
    """The open cards of this process, by key (a stream key). Never raises into the caller's
    framework for anything livebar or the network does."""

    def __init__(self) -> None:
        self._open: dict[str, LiveActivity] = {}
        self._lock = threading.Lock()

    def open(self, key: str, title: str, **options: Any) -> LiveActivity | None:
        """Start the card for ``key`` (None when the options are refused: logged, not raised)."""
        import livebar

        try:
            card = livebar.live_activity(title, stream_key=key, **options)
            card.start()
        except livebar.LivebarError:
            return None
        with self._lock:
            self._open[key] = card
        return card

    def get(self, key: str) -> LiveActivity | None:
        return self._open.get(key)

    def forget(self, key: str) -> None:
        """Leave ``key``'s card to be ended elsewhere."""
        with self._lock:
            self._open.pop(key, None)

    def end(
        self,
        key: str,
        title: str,
        exc: BaseException | None = None,
        *,
        outcome: str | None = None,
        subtitle: str | None = None,
        wait: float = END_WAIT,
        **options: Any,
    ) -> None:
        """End ``key``'s card: the one held here, else a fresh one on the same stream key."""
        import livebar

        with self._lock:
            card = self._open.pop(key, None)
        try:
            if card is None:
                card = livebar.live_activity(title, stream_key=key, **options)
            card.close(exc, outcome=outcome, subtitle=subtitle)
            card.wait(wait)
        except Exception:  # never raise into the framework's hooks
            return
