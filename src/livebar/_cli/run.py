"""``livebar run -- CMD``: run a command, pass its output through byte for byte, and mirror it.

Its lines may move the bar (``--progress-regex``) or name its stages (``--step-regex``); the
exit code says how it ended, and is the CLI's own. SIGINT and SIGTERM are forwarded to the
command (a Ctrl-C from the terminal already reached it) and end the card Cancelled.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from types import FrameType
from typing import IO, Any, Callable

from livebar._activity import LiveActivity
from livebar._cli.common import (
    EXIT_NOT_EXECUTABLE,
    EXIT_NOT_FOUND,
    MAX_TITLE,
    PROG,
    UsageError,
    activity,
    mirroring_allowed,
    say,
    schedule_options,
)
from livebar._engine.runtime import flush as livebar_flush
from livebar._wire.errors import LivebarError

__all__ = ["LineWatcher", "compile_rule", "run"]

RELAY_CHUNK = 64 * 1024
MAX_LINE = 64 * 1024
"""Longest partial line kept for regex matching; a longer run without a newline is cut."""


class LineWatcher:
    """Splits a byte stream into lines (on ``\\n`` or ``\\r``) and moves the activity on matches.

    One per stream; both feed the same activity. Only lines are decoded, never the relay. A line
    that yields no usable numbers is not progress; nothing a line holds can stop the relay.
    """

    def __init__(
        self,
        activity: LiveActivity,
        *,
        progress: re.Pattern[str] | None,
        step: re.Pattern[str] | None,
        steps: list[str] | None,
        step_counter: list[int],
    ) -> None:
        self._activity = activity
        self._progress = progress
        self._step = step
        self._steps = steps
        self._step_counter = step_counter
        self._pending = b""
        self._broken = False

    def feed(self, chunk: bytes) -> None:
        data = self._pending + chunk
        lines = re.split(rb"[\r\n]", data)
        self._pending = lines.pop()[-MAX_LINE:]
        for line in lines:
            if line:
                self.line(line.decode("utf-8", errors="replace"))

    def finish(self) -> None:
        if self._pending:
            self.line(self._pending.decode("utf-8", errors="replace"))
            self._pending = b""

    def line(self, text: str) -> None:
        if self._broken:
            return
        try:
            if self._step is not None:
                match = self._step.search(text)
                if match is not None:
                    self._on_step(match)
            if self._progress is not None:
                match = self._progress.search(text)
                if match is not None:
                    self._on_progress(match)
        except (LivebarError, ValueError):
            pass  # a value the activity refuses is not progress either
        except Exception as exc:  # a livebar bug must never cost the command its output
            self._broken = True
            say(f"{PROG} run: stopped reading progress ({type(exc).__name__}: {exc})")

    def _on_step(self, match: re.Match[str]) -> None:
        group = match.group(1) if match.re.groups else None
        name = (group or match.group(0)).strip()  # an empty group: named by the whole match
        card, steps, counter = self._activity, self._steps, self._step_counter
        if steps is None:
            card.update(subtitle=name[:MAX_TITLE] or None)
            return
        # A known name jumps to its stage; anything else starts the next one.
        index = steps.index(name) if name in steps else min(counter[0], len(steps) - 1)
        counter[0] = index + 1
        card.step(index)

    def _on_progress(self, match: re.Match[str]) -> None:
        numbers = _numbers(match)
        if numbers is None:
            return
        card = self._activity
        if len(numbers) == 1:
            percentage = min(max(numbers[0], 0.0), 100.0)
            if card.segmented:
                card.update(subtitle=f"{percentage:g}%")
            else:
                card.update(percentage=percentage)
            return
        value, upper_limit = numbers
        if upper_limit <= 0:
            return
        value = min(max(value, 0.0), upper_limit)
        if card.segmented:
            card.update(subtitle=f"{value:g}/{upper_limit:g}")
        else:
            card.update(value=value, upper_limit=upper_limit)


def _numbers(match: re.Match[str]) -> list[float] | None:
    """The match's groups as finite numbers, or None when one is empty or not a number."""
    numbers = []
    for group in match.groups():
        try:
            number = float(group)
        except (TypeError, ValueError):  # TypeError: an optional group that did not take part
            return None
        if not math.isfinite(number):
            return None
        numbers.append(number)
    return numbers


def compile_rule(
    pattern: str | None, option: str, *, groups: tuple[int, ...]
) -> re.Pattern[str] | None:
    """``--progress-regex`` / ``--step-regex``, checked: it compiles, has ``groups`` groups, and
    does not match an empty line (it would match any line)."""
    if pattern is None:
        return None
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise UsageError(f"{option}: bad regular expression: {exc}") from None
    if compiled.groups not in groups:
        wanted = " or ".join(str(g) for g in groups)
        raise UsageError(f"{option}: needs {wanted} group(s), found {compiled.groups}")
    if compiled.search("") is not None:
        raise UsageError(f"{option}: '{pattern}' matches an empty line, so it would match any line")
    return compiled


def _program_name(command: Sequence[str], *, shell: bool) -> str:
    """The title of a run without ``--title``: the program's name (``make``, ``deploy.sh``)."""
    words = " ".join(command).split() if shell else list(command)
    program = os.path.basename(words[0]) if words else ""
    return (program or "command")[:MAX_TITLE]


def _relay(source: IO[bytes], sink: IO[bytes], watcher: LineWatcher) -> None:
    """Copy ``source`` to ``sink`` byte for byte, showing each chunk to ``watcher``."""
    fd = source.fileno()
    try:
        while True:
            chunk = os.read(fd, RELAY_CHUNK)
            if not chunk:
                break
            try:
                sink.write(chunk)
                sink.flush()
            except (BrokenPipeError, ValueError):
                # Our reader went away: let the command see its pipe close, as it would unwrapped.
                break
            watcher.feed(chunk)
        watcher.finish()
    finally:
        source.close()


def _terminal_sent_it() -> bool:
    """True when a Ctrl-C came from our terminal, which delivers it to the command as well."""
    for fd in (0, 1, 2):
        try:
            if os.isatty(fd):
                return os.tcgetpgrp(fd) == os.getpgrp()
        except OSError:
            continue
    return False


@dataclass
class _Plan:
    """A checked ``livebar run``: the command, the rules its lines follow, the card."""

    command: list[str]
    shell: bool
    progress: re.Pattern[str] | None
    step: re.Pattern[str] | None
    steps: list[str] | None
    card: LiveActivity | None

    @property
    def watching(self) -> bool:
        """Whether the command's output is read (a rule and a card to move)."""
        return self.card is not None and (self.progress is not None or self.step is not None)


def _plan(args: argparse.Namespace) -> _Plan:
    """``args`` checked (a usage error exits 2 before anything runs)."""
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        raise UsageError("no command given (usage: livebar run [options] -- CMD ARGS...)")
    progress = compile_rule(args.progress_regex, "--progress-regex", groups=(1, 2))
    step = compile_rule(args.step_regex, "--step-regex", groups=(0, 1))
    steps = [s.strip() for s in args.steps.split(",") if s.strip()] if args.steps else None
    if args.steps is not None and not steps:
        raise UsageError("--steps: give at least one stage name")
    title = args.title or args.fleet or _program_name(command, shell=args.shell)
    checked = activity(title, args, steps=steps, **schedule_options(args))
    card = checked if mirroring_allowed() else None
    if card is not None and progress is not None and steps is None:
        card.update(percentage=0.0)  # a progress bar from the start, not a one-step job
    return _Plan(command, args.shell, progress, step, steps, card)


def run(args: argparse.Namespace) -> int:
    plan = _plan(args)
    signalled: list[int] = []
    children: list[subprocess.Popen[bytes]] = []

    def forward(signum: int, frame: FrameType | None) -> None:
        signalled.append(signum)
        if signum == signal.SIGINT and _terminal_sent_it():
            return  # the terminal sent Ctrl-C to the whole foreground group, the command too
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signum)

    with _signals_forwarded_to(forward):
        try:
            process = _spawn(plan)
        except FileNotFoundError:
            say(f"{PROG} run: command not found: {plan.command[0]}")
            return EXIT_NOT_FOUND
        except PermissionError:
            say(f"{PROG} run: permission denied: {plan.command[0]}")
            return EXIT_NOT_EXECUTABLE
        children.append(process)
        returncode = _follow(plan, process)
    if plan.card is not None:
        _end(plan, returncode, signalled=bool(signalled))
    return returncode if returncode >= 0 else 128 - returncode


def _spawn(plan: _Plan) -> subprocess.Popen[bytes]:
    env = None
    if plan.watching:
        # Piped output makes Python block-buffer; ask for lines so progress shows as it happens.
        env = {**os.environ, "PYTHONUNBUFFERED": os.environ.get("PYTHONUNBUFFERED", "1")}
    return subprocess.Popen(
        " ".join(plan.command) if plan.shell else plan.command,
        shell=plan.shell,
        stdout=subprocess.PIPE if plan.watching else None,
        stderr=subprocess.PIPE if plan.watching else None,
        env=env,
    )


def _follow(plan: _Plan, process: subprocess.Popen[bytes]) -> int:
    """Start the card, relay the command's output through the line rules; its exit status."""
    relays = []
    if plan.card is not None:
        plan.card.start()
    if plan.card is not None and plan.watching:
        counter = [0]
        streams = ((process.stdout, sys.stdout.buffer), (process.stderr, sys.stderr.buffer))
        for source, sink in streams:
            assert source is not None
            watcher = LineWatcher(
                plan.card,
                progress=plan.progress,
                step=plan.step,
                steps=plan.steps,
                step_counter=counter,
            )
            relay = threading.Thread(
                target=_relay, args=(source, sink, watcher), name="livebar-relay", daemon=True
            )
            relay.start()
            relays.append(relay)
    returncode = process.wait()
    for relay in relays:
        relay.join()
    return returncode


def _end(plan: _Plan, returncode: int, *, signalled: bool) -> None:
    card = plan.card
    assert card is not None
    if signalled:
        card.cancel()
    elif returncode == 0:
        if plan.steps is not None:
            card.advance(len(plan.steps))  # a command that exits 0 went through every stage
        card.close()
    else:
        card.fail(SystemExit(returncode if returncode > 0 else _describe_status(returncode)))
    livebar_flush()


@contextlib.contextmanager
def _signals_forwarded_to(handler: Callable[[int, FrameType | None], None]) -> Any:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _describe_status(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit code {returncode}"
