"""How a bare ``for`` loop over ``track()`` or ``livebar.tqdm`` was left: ``break``, or a raise.

Python closes a loop's iterator the same way after a ``break`` and after an exception in the loop
body, and the exception in flight is out of reach while it unwinds. What differs is where the
loop's frame stands when it lets go of the iterator: a ``break`` or ``return`` drops it with a
plain stack operation (``POP_TOP``), a rebinding with ``STORE_*``/``DELETE_*``, while an
exception unwinds from the instruction that raised (a call, a ``raise``). That holds on every
CPython from 3.9 to 3.13, so a bare loop can tell "stopped" from "failed" without any cost per
item; the exception's type, when it escapes the program, comes later from ``sys.excepthook``.

The reading is only trusted for a loop written directly over the iterable
(``for x in track(...)``, also through ``enumerate``/``zip``), checked once at the call site,
and only when that same frame is the one letting go. Anything else (a generator expression, a
consumer function) reads as a deliberate stop, which is what livebar said before.
"""

from __future__ import annotations

import enum
import opcode
import sys
from types import FrameType

__all__ = ["LoopSite", "LoopExit", "loop_site", "how_left"]

_OPNAMES = opcode.opname
_SKIPPED = frozenset({"CACHE", "EXTENDED_ARG", "NOP", "PRECALL", "KW_NAMES", "PUSH_NULL"})
_BUILDING = ("LOAD_", "CALL", "COPY", "SWAP", "BUILD_TUPLE")
"""Instructions that may sit between ``track(...)`` and ``GET_ITER`` (``zip(track(a), b)``)."""
_DELIBERATE = ("POP_TOP", "END_FOR", "FOR_ITER", "STORE_", "DELETE_", "RETURN_", "JUMP", "POP_")
"""Where a frame stands when it drops an iterator on purpose."""
_LOOKAHEAD = 24


class LoopExit(enum.Enum):
    """How a loop was left before its end."""

    DELIBERATE = "deliberate"  # break, return, del: "stopped"
    EXCEPTION = "exception"  # an exception unwound the loop: "failed" unless told better
    UNKNOWN = "unknown"  # not a loop we can read: "stopped", an uncaught exception may correct


class LoopSite:
    """The frame that wrote ``for x in track(...)``; compared again when the loop is left.

    ``frame`` is kept while the loop runs: if the interpreter exits before the loop lets go of
    its iterator (``sys.exit()`` in its body at module level: the iterator is closed only after
    ``atexit``), the exit reads how the frame was left from the frame itself."""

    __slots__ = ("code", "frame", "frame_id")

    def __init__(self, frame: FrameType) -> None:
        self.code = frame.f_code
        self.frame_id = id(frame)
        self.frame: FrameType | None = frame


def loop_site(depth: int) -> LoopSite | None:
    """The caller ``depth`` frames up, if it is iterating the call's result in a ``for`` loop."""
    try:
        frame = sys._getframe(depth + 1)
    except (AttributeError, ValueError):
        return None
    code = frame.f_code.co_code
    i = frame.f_lasti + 2
    seen = 0
    got_iter = False
    while i < len(code) and seen < _LOOKAHEAD:
        name = _OPNAMES[code[i]]
        i += 2
        if name in _SKIPPED:
            continue
        seen += 1
        if got_iter:
            return LoopSite(frame) if name == "FOR_ITER" else None
        if name == "GET_ITER":
            got_iter = True
        elif not name.startswith(_BUILDING):
            return None
    return None


def how_left(site: LoopSite | None, closer: FrameType | None) -> LoopExit:
    """Read how the loop of ``site`` was left, from ``closer``: the frame that let go of it."""
    if site is None or closer is None:
        return LoopExit.UNKNOWN
    if id(closer) != site.frame_id or closer.f_code is not site.code:
        return LoopExit.UNKNOWN
    lasti = closer.f_lasti
    if lasti < 0:
        return LoopExit.UNKNOWN
    name = _OPNAMES[closer.f_code.co_code[lasti]]
    return LoopExit.DELIBERATE if name.startswith(_DELIBERATE) else LoopExit.EXCEPTION


def caller(depth: int) -> FrameType | None:
    """The frame ``depth`` levels above the caller of this function, if there is one."""
    try:
        return sys._getframe(depth + 1)
    except (AttributeError, ValueError):
        return None
