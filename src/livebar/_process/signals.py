"""SIGTERM, taken when ``livebar`` is imported: light (no engine import) and invisible until used.

``docker stop`` and Kubernetes stop a job with SIGTERM. Python's default dies at once, leaving the
phone showing a job that no longer runs; and a handler can only be installed from the main
thread, so waiting for the first activity (which may open in a worker thread) is too late.
``livebar`` therefore takes SIGTERM at import, in the main thread, when nobody else has. While no
activity is open the handler behaves exactly like the default (the process dies of the signal);
otherwise the process hooks (``livebar._process.hooks``) decide how the jobs end.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from typing import Any

__all__ = ["prepare", "terminating"]

_previous: Any = signal.SIG_DFL
_installed = False
_terminated = False


def prepare() -> None:
    """Take SIGTERM if this is the main thread and the disposition is still the default."""
    global _installed, _previous
    if _installed or threading.current_thread() is not threading.main_thread():
        return
    try:
        current = signal.getsignal(signal.SIGTERM)
        if current is signal.SIG_DFL or (callable(current) and current is not _on_sigterm):
            _previous = current
            signal.signal(signal.SIGTERM, _on_sigterm)
        _installed = True
    except (ValueError, OSError, AttributeError):  # not the main interpreter, or no signals
        pass


def terminating() -> bool:
    """True once this process received SIGTERM (a job that stops now was cancelled)."""
    return _terminated


def _on_sigterm(signum: int, frame: Any) -> None:
    global _terminated
    _terminated = True
    if signal.getsignal(signal.SIGTERM) is not _on_sigterm:
        # A handler installed after ours chained us (Lightning's, during fit): it owns
        # SIGTERM now and decides how the job stops; a default would not have been called at all.
        return
    hooks = sys.modules.get("livebar._process.hooks")
    if hooks is not None and hooks.on_sigterm(signum, frame, _previous):
        return
    if callable(_previous):
        _previous(signum, frame)
        return
    die_of(signum)


def die_of(signum: int) -> None:
    """End the process the way the default disposition of ``signum`` would."""
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def note_terminated() -> None:
    """A handler of livebar's own (the CLI's) turned SIGTERM into ``Terminated``."""
    global _terminated
    _terminated = True
