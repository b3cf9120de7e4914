"""The command line's grammar: the top-level parser and one function per command."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from livebar._cli.commands import demo, push, reap, simulate, watch
from livebar._cli.common import (
    EXIT_USAGE,
    PROG,
    button,
    comma_list,
    duration,
    members,
    non_empty,
    non_negative_number,
    positive_number,
)
from livebar._cli.pipe import pipe
from livebar._cli.run import run
from livebar._cli.status import status
from livebar._defaults import ENV_API_KEY, ENV_BASE_URL, ENV_DISABLE, ENV_TIMEOUT
from livebar._version import __version__

__all__ = ["parsers"]

if TYPE_CHECKING:
    Commands = argparse._SubParsersAction[argparse.ArgumentParser]


def parsers() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The top-level parser, and each command's parser by name."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Mirror a job to an iPhone Live Activity (ActivitySmith).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "examples:\n"
            f"  {PROG} run --title Build --progress-regex '(\\d+)%' -- make all\n"
            f"  cat big.csv | {PROG} --total 1000000 --title Import | psql db   (pipe mode)\n"
            f"  {PROG} push --title 'Backup done' --message '42 GB'\n\n"
            f"Without a command {PROG} runs in pipe mode (see '{PROG} pipe --help').\n"
            f"environment: {ENV_API_KEY}, {ENV_BASE_URL}, {ENV_DISABLE}, {ENV_TIMEOUT}"
        ),
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    made = {
        "run": _run(sub),
        "pipe": _pipe(sub),
        "push": _push(sub),
        "watch": _watch(sub),
        "reap": _reap(sub),
        "status": _status(sub),
        "simulate": _simulate(sub),
        "demo": _demo(sub),
    }
    parser.set_defaults(handler=_no_command, command_name="")
    return parser, made


def _no_command(args: argparse.Namespace) -> int:
    parsers()[0].print_help(sys.stderr)
    return EXIT_USAGE


def _run(sub: Commands) -> argparse.ArgumentParser:
    run_parser = sub.add_parser(
        "run",
        help="run a command and mirror it",
        description=(
            "Run CMD (without a shell unless --shell), pass its output through unchanged, and "
            "mirror it as a Live Activity that ends done or failed by the exit code."
        ),
        epilog=f"example: {PROG} run --title Build --progress-regex '(\\d+)%' -- make all",
    )
    _live_options(run_parser, title="the activity's title (default: the program's name)")
    run_parser.add_argument("--steps", metavar="A,B,C", help="comma-separated stage names")
    run_parser.add_argument(
        "--progress-regex",
        metavar="RE",
        help="a line matching RE moves the bar: one group = percentage, two = value/total",
    )
    run_parser.add_argument(
        "--step-regex",
        metavar="RE",
        help="a line matching RE starts a stage (named by its group, else the next one)",
    )
    run_parser.add_argument("--shell", action="store_true", help="run CMD through the shell")
    _fleet_options(run_parser)
    _schedule_options(run_parser)
    run_parser.add_argument("command", nargs=argparse.REMAINDER, metavar="-- CMD ARGS")
    run_parser.set_defaults(handler=run, command_name="run")
    return run_parser


def _pipe(sub: Commands) -> argparse.ArgumentParser:
    pipe_parser = sub.add_parser(
        "pipe",
        help="copy stdin to stdout, counting lines (the default without a command)",
        description="Copy stdin to stdout untouched, counting lines (or bytes) on the way.",
        epilog=f"example: cat big.csv | {PROG} --total 1000000 --title Import | psql db",
    )
    _live_options(pipe_parser, title="the activity's title (default: Pipe)")
    pipe_parser.add_argument("--total", type=positive_number, help="expected lines (or bytes)")
    pipe_parser.add_argument("--bytes", action="store_true", help="count bytes instead of lines")
    pipe_parser.set_defaults(handler=pipe, command_name="pipe")
    return pipe_parser


def _push(sub: Commands) -> argparse.ArgumentParser:
    command = sub.add_parser(
        "push",
        help="send a push notification",
        description="Send one push notification and print the result.",
        epilog=f"example: {PROG} push --title Deployed --action 'CI=https://ci.example.com'",
    )
    command.add_argument("--title", required=True, type=non_empty, help="the notification's title")
    command.add_argument("--message", help="its text")
    command.add_argument("--subtitle", help="a line between the title and the text")
    _channel_option(command)
    command.add_argument("--media", metavar="URL", help="https URL of an image, audio or video")
    command.add_argument("--redirection", metavar="URL", help="https or shortcuts URL to open")
    command.add_argument(
        "--action",
        action="append",
        dest="actions",
        type=button("open_url", "--action"),
        metavar="TITLE=URL",
        help="a button that opens an https or shortcuts URL (repeatable, at most 4 buttons)",
    )
    command.add_argument(
        "--webhook",
        action="append",
        dest="actions",
        type=button("webhook", "--webhook"),
        metavar="TITLE=URL",
        help="a button that makes ActivitySmith POST to an https URL (repeatable)",
    )
    command.add_argument("--badge", type=int, metavar="N", help="the app icon's badge number")
    command.add_argument("--sound", metavar="NAME", help="the notification sound")
    command.set_defaults(handler=push, command_name="push")
    return command


def _watch(sub: Commands) -> argparse.ArgumentParser:
    command = sub.add_parser(
        "watch",
        help="mirror a process that is already running, until it exits",
        description=(
            "Show a Live Activity for the running process PID until it exits (its exit status "
            "cannot be known: the card ends 'Ended after 3h 12m'). With --log, follow the log "
            "file's progress and show its last matching line."
        ),
        epilog=(
            f"example: {PROG} watch --pid 4121 --log train.log --progress-regex '(\\d+)/(\\d+)'"
        ),
    )
    _live_options(command, title="the activity's title (default: the program's name)")
    command.add_argument("--pid", type=int, help="the process to watch (required)")
    command.add_argument("--log", metavar="FILE", help="a log file the process writes")
    command.add_argument(
        "--progress-regex",
        metavar="RE",
        help="a log line matching RE moves the bar: one group = percentage, two = value/total",
    )
    command.add_argument("command", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    command.set_defaults(handler=watch, command_name="watch")
    return command


def _reap(sub: Commands) -> argparse.ArgumentParser:
    command = sub.add_parser(
        "reap",
        help="end the cards of killed livebar processes, mark those of hung ones",
        description=(
            "End, truthfully, every Live Activity of this account whose livebar process is gone "
            "(killed, OOM, a lost node): 'Lost: process 4121 was killed after 2h 13m at 61%'; "
            "mark, once, the card of a live process silent for LIVEBAR_HANG_AFTER seconds "
            "(default 300): 'Not responding for 5m at 61%'. Any livebar process on the account "
            "does this on its own; run it from cron or a systemd timer when none is running."
        ),
    )
    command.add_argument(
        "--json", action="store_true", help="print what was done as one JSON object"
    )
    command.add_argument(
        "--deadline",
        type=positive_number,
        default=30.0,
        help="longest wait for room in the account's rate limit, in seconds (default 30)",
    )
    command.add_argument(
        "--after",
        type=int,
        metavar="PID",
        help="first wait (up to 30 s) for process PID to exit: how an exit's courier starts",
    )
    command.set_defaults(handler=reap, command_name="reap")
    return command


def _status(sub: Commands) -> argparse.ArgumentParser:
    command = sub.add_parser(
        "status",
        help="list the account's jobs: running, not responding, overdue, last outcome",
        description=(
            "List the jobs of this account as its ledger knows them: the cards on the phone "
            "(running, or not responding) and the scheduled jobs (--expect-every): overdue, "
            "or waiting for their next start, with how each last ended."
        ),
    )
    command.add_argument("--json", action="store_true", help="print one JSON object")
    command.add_argument(
        "--forget",
        metavar="NAME",
        help="drop the schedule of a job renamed or retired (no more 'has not started' pushes)",
    )
    command.set_defaults(handler=status, command_name="status")
    return command


def _simulate(sub: Commands) -> argparse.ArgumentParser:
    command = sub.add_parser(
        "simulate",
        help="serve the local ActivitySmith simulator and its lock-screen page",
        description="Serve an ActivitySmith-compatible simulator (needs livebar[simulator]).",
    )
    command.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    command.add_argument("--port", type=int, help="port to listen on (default 8787; 0: a free one)")
    command.add_argument(
        "--key", action="append", dest="keys", metavar="KEY", help="an API key to accept"
    )
    command.add_argument("--open", action="store_true", help="open the page in a browser")
    command.set_defaults(handler=simulate, command_name="simulate")
    return command


def _demo(sub: Commands) -> argparse.ArgumentParser:
    command = sub.add_parser(
        "demo",
        help="watch livebar drive the simulated lock screen",
        description="Run a short demo job against the simulator (needs livebar[simulator]).",
    )
    command.add_argument("--keep-open", action="store_true", help="keep serving after the demo")
    command.add_argument("--fast", action="store_true", help="compress the demo's timings")
    command.add_argument("--port", type=int, help="port for the simulator (default: a free one)")
    command.set_defaults(handler=demo, command_name="demo")
    return command


def _live_options(parser: argparse.ArgumentParser, *, title: str) -> None:
    parser.add_argument("--title", type=non_empty, help=title)
    parser.add_argument("--subtitle", help="a line under the title")
    _channel_option(parser)
    _watchdog_options(parser)


def _channel_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--channel",
        action="append",
        dest="channels",
        metavar="SLUG",
        help="send to this channel only (repeatable)",
    )


def _schedule_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "schedule",
        "a job that should start every so often: a missed start is pushed, once per period, by "
        "any livebar process on the account and by 'livebar reap'",
    )
    group.add_argument("--name", metavar="NAME", help="the job's stable name across runs")
    group.add_argument(
        "--expect-every",
        type=duration,
        metavar="DURATION",
        help="it should start again this often: 24h, 90m, 7d (needs --name)",
    )
    group.add_argument(
        "--grace",
        type=duration,
        metavar="DURATION",
        help="how late a start may be before it is missed (default: a 24th of the period)",
    )


def _fleet_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "fleet", "run as one member of a fleet: one card for every member (a shared ledger)"
    )
    group.add_argument("--fleet", metavar="NAME", help="the fleet this command is a member of")
    group.add_argument(
        "--members", metavar="N|A,B,C", type=members, help="how many members, or their names"
    )
    group.add_argument(
        "--member",
        metavar="NAME",
        help="this member's name (default: LIVEBAR_HOST_ID, JOB_COMPLETION_INDEX, the host)",
    )
    group.add_argument(
        "--deadline",
        type=non_negative_number,
        metavar="SECONDS",
        help="seconds by which every member should have started",
    )
    group.add_argument("--run", metavar="ID", help="the run id (default: LIVEBAR_FLEET_RUN)")


def _watchdog_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "watchdog", "say on the card when the job stops moving or runs long (off by default)"
    )
    group.add_argument(
        "--stall-after",
        type=duration,
        metavar="DURATION",
        help="show 'No progress for 12m at 61%%' when the bar has not moved this long "
        "(90, 90s, 10m, 2h, 1h30m, 1d)",
    )
    group.add_argument(
        "--expected",
        type=duration,
        metavar="DURATION",
        help="show 'Running 40m over (expected 2h)' once the job runs longer than this",
    )
    group.add_argument(
        "--notify-on",
        type=comma_list,
        metavar="EVENTS",
        help="also push when the job ends so or the card turns so: any of failed, cancelled, "
        "stopped, done, stalled, overrun (comma-separated)",
    )
