"""``livebar`` on the command line.

::

    livebar run [--title T] [--steps a,b,c] [--progress-regex RE] [--step-regex RE] -- CMD ...
    livebar run --fleet NAME --members N [--member NAME] [--deadline S] -- CMD ...
    cat big.csv | livebar --total 1000000 --title Import | psql ...     (pipe mode)
    livebar push --title T [--message M] ...
    livebar watch --pid N [--log FILE --progress-regex RE]           (a running process)
    livebar reap [--deadline S] [--after PID]
    livebar simulate | livebar demo

Configuration comes from the library's environment variables (``ACTIVITYSMITH_API_KEY``,
``ACTIVITYSMITH_BASE_URL``, ``LIVEBAR_DISABLE``, ``LIVEBAR_TIMEOUT``). A job never fails because of
livebar: without a key, or with a setting livebar cannot use, ``run`` and the pipe say so in one
line and go on without the Live Activity, as the library does. Only bad options on the command
line exit 2, before anything runs.

One module per command family: ``run`` (and its line rules), ``pipe``, ``commands`` (push,
watch, reap, simulate, demo); ``parsers`` holds the grammar, ``common`` what they share.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Callable

from livebar._cli.common import EXIT_USAGE, PROG, UsageError, say
from livebar._cli.parsers import parsers

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``livebar`` command line; returns the exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser, commands = parsers()
    if not args_list and sys.stdin.isatty():
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    top_level = ("-h", "--help", "--version")
    if not args_list or (args_list[0].startswith("-") and args_list[0] not in top_level):
        args_list.insert(0, "pipe")
    try:
        args, extra = parser.parse_known_args(args_list)
        if extra:  # said by the command's own parser, so the usage shown is the command's
            command = commands.get(args.command_name, parser)
            command.error(f"unrecognized arguments: {' '.join(extra)}")
    except SystemExit as exc:  # argparse has printed its message (or the help)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except UsageError as exc:
        say(f"{PROG} {args.command_name}: {exc}")
        return EXIT_USAGE
