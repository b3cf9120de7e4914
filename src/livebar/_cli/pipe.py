"""Pipe mode: ``… | livebar --total N --title T | …`` copies stdin to stdout byte for byte and
counts its lines (or bytes) on a ``livebar.tqdm`` bar: a terminal bar on a TTY, the card
either way."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys

from livebar._cli.common import (
    EXIT_BROKEN_PIPE,
    EXIT_INTERRUPTED,
    UsageError,
    activity,
    mirroring_allowed,
    watchdog_options,
)
from livebar._engine.runtime import flush as livebar_flush
from livebar._process.hooks import handling_sigterm
from livebar._wire.errors import ValidationError

__all__ = ["pipe"]

PIPE_CHUNK = 1024 * 1024


def pipe(args: argparse.Namespace) -> int:
    from livebar._integrations.tqdm import tqdm

    title = args.title or "Pipe"
    activity(title, args, total=args.total)  # bad options exit 2 whether or not it mirrors
    enabled = mirroring_allowed()
    count_bytes: bool = args.bytes
    try:
        bar = tqdm(
            total=args.total,
            file=sys.stderr,
            disable=None,  # a terminal bar only on a TTY; the activity counts either way
            unit="B" if count_bytes else "lines",
            unit_scale=count_bytes,
            unit_divisor=1024 if count_bytes else 1000,
            mininterval=0.5,
            title=title,
            subtitle=args.subtitle,
            channels=args.channels,
            live=enabled,
            **watchdog_options(args),
        )
    except ValidationError as exc:
        raise UsageError(str(exc)) from None
    read = getattr(sys.stdin.buffer, "read1", sys.stdin.buffer.read)
    sink = sys.stdout.buffer
    code = 0
    try:
        with handling_sigterm(), bar:
            while True:
                chunk = read(PIPE_CHUNK)
                if not chunk:
                    break
                try:
                    sink.write(chunk)
                    sink.flush()
                except BrokenPipeError:
                    # The reader went away (``| head``): stop as any writer would, quietly.
                    _silence_stdout()
                    if bar.activity is not None:
                        bar.activity.close(outcome="stopped")
                    code = EXIT_BROKEN_PIPE
                    break
                bar.update(len(chunk) if count_bytes else chunk.count(b"\n"))
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    except SystemExit as exc:  # SIGTERM, see _terminate_as_exit
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        if bar.activity is not None:
            livebar_flush()
    return code


def _silence_stdout() -> None:
    """Point fd 1 at /dev/null so the interpreter's final flush does not fail again."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
