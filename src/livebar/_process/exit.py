"""livebar's place in the interpreter's exit, taken at ``import livebar``.

``atexit`` runs its handlers in the reverse order of their registration, and a handler
registered while the exit runs is never called. Registering livebar's exit when the first
activity opens would put every handler the program registered before that moment after
livebar's final flush: a ``push()`` or an activity in one of them would never be sent. So the
place is taken at import (cheap: nothing of the engine loads), and the process hooks fill it
(``hook``) when they are installed. What a handler registered even before ``import livebar``
does is delivered when it does it (``runtime.deliver_late``), within what is left of the exit's
deadline, or said not to be.
"""

from __future__ import annotations

import atexit
from typing import Callable

__all__ = ["place"]


class Place:
    """livebar's ``atexit`` handler: calls ``hook`` (the process hooks' exit) if it is set."""

    def __init__(self) -> None:
        self.hook: Callable[[], None] | None = None
        self.taken = False

    def take(self) -> None:
        if not self.taken:
            self.taken = True
            atexit.register(self.run)

    def run(self) -> None:
        hook = self.hook
        if hook is not None:
            hook()


place = Place()
