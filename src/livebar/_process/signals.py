"""SIGTERM, taken when ``livebar`` is imported: light (no engine import) and invisible until used.

``docker stop`` and Kubernetes stop a job with SIGTERM. Python's default dies at once, leaving the
phone showing a job that no longer runs; and a handler can only be installed from the main
thread, so waiting for the first activity (which may open in a worker thread) is too late.
``livebar`` therefore takes SIGTERM at import, in the main thread, when nobody else has (a
handler the program installed before is kept and chained). While no activity is open the handler
behaves exactly like the default (or the chained handler); once the process hooks are installed
(the first mirrored activity), their ``listener`` decides how open jobs end.

Every SIGTERM is noted, whoever handles it (``noted``): the endings ask whether one arrived while
their job ran, so a signal the program's own handler absorbed does not make later jobs
"Cancelled".
"""

from __future__ import annotations

import os
import signal
import threading
from typing import Any, Callable

__all__ = ["Sigterm", "die_of", "prepare", "sigterm"]

Listener = Callable[[int, Any, Any], bool]


class Sigterm:
    """What livebar knows of SIGTERM in this process."""

    def __init__(self) -> None:
        self.previous: Any = signal.SIG_DFL
        """The handler the program had installed before livebar's (chained), or the default."""
        self.installed = False
        self.listener: Listener | None = None
        """The process hooks' policy: ``(signum, frame, previous) -> handled``."""
        self.noted: Callable[[], None] | None = None
        """Called at every SIGTERM (the runtime records when it arrived)."""

    def handle(self, signum: int, frame: Any) -> None:
        noted = self.noted
        if noted is not None:
            noted()
        if signal.getsignal(signal.SIGTERM) != self.handle:
            # A handler installed after ours chained us (Lightning's, during fit): it owns
            # SIGTERM now and decides how the job stops; a default would not have been called.
            return
        listener = self.listener
        if listener is not None and listener(signum, frame, self.previous):
            return
        if callable(self.previous):
            self.previous(signum, frame)
            return
        die_of(signum)


sigterm = Sigterm()


def prepare() -> None:
    """Take SIGTERM if this is the main thread and the disposition is still the default (or a
    handler of the program's, which is chained)."""
    if sigterm.installed or threading.current_thread() is not threading.main_thread():
        return
    try:
        current = signal.getsignal(signal.SIGTERM)
        if current is signal.SIG_DFL or (callable(current) and current != sigterm.handle):
            sigterm.previous = current
            signal.signal(signal.SIGTERM, sigterm.handle)
        sigterm.installed = True
    except (ValueError, OSError, AttributeError):  # not the main interpreter, or no signals
        pass


def die_of(signum: int) -> None:
    """End the process the way the default disposition of ``signum`` would."""
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
