"""``livebar`` on the command line.

::

    livebar run [--title T] [--steps a,b,c] [--progress-regex RE] [--step-regex RE] -- CMD ...
    livebar run --fleet NAME --members N [--member NAME] [--deadline S] -- CMD ...
    cat big.csv | livebar --total 1000000 --title Import | psql ...     (pipe mode)
    livebar push --title T [--message M] ...
    livebar watch --pid N [--log FILE --progress-regex RE]           (a running process)
    livebar simulate | livebar demo

Configuration comes from the library's environment variables (``ACTIVITYSMITH_API_KEY``,
``ACTIVITYSMITH_BASE_URL``, ``LIVEBAR_DISABLE``, ``LIVEBAR_TIMEOUT``). A job never fails because of
livebar: without a key, or with a setting livebar cannot use, ``run`` and the pipe say so in one
line and go on without the Live Activity, as the library does. Only bad options on the command
line exit 2, before anything runs.
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
from types import FrameType
from typing import IO, Any, Callable

from livebar._activity import LiveActivity, live_activity
from livebar._defaults import ENV_API_KEY, ENV_BASE_URL, ENV_DISABLE, ENV_TIMEOUT
from livebar._engine.runtime import flush as livebar_flush
from livebar._process.hooks import handling_sigterm
from livebar._version import __version__
from livebar._wire.config import Config, resolve_config
from livebar._wire.errors import APIError, ConfigurationError, LivebarError, ValidationError

__all__ = ["main"]

PROG = "livebar"
EXIT_USAGE = 2
EXIT_NOT_EXECUTABLE = 126
EXIT_NOT_FOUND = 127
EXIT_BROKEN_PIPE = 141
"""128 + SIGPIPE: what a shell reports for a writer whose reader went away."""
EXIT_INTERRUPTED = 130
RELAY_CHUNK = 64 * 1024
PIPE_CHUNK = 1024 * 1024
MAX_LINE = 64 * 1024
"""Longest partial line kept for regex matching; a longer run without a newline is cut."""
MAX_TITLE = 60
MAX_PORT = 65535
COMMANDS = ("run", "pipe", "push", "watch", "simulate", "demo")


class UsageError(Exception):
    """A bad option: reported as ``livebar <command>: <message>`` with exit code 2."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``livebar`` command line; returns the exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser, commands = _parsers()
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
        _say(f"{PROG} {args.command_name}: {exc}")
        return EXIT_USAGE


# -- parser -----------------------------------------------------------------------------------


def _parsers() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
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

    run = sub.add_parser(
        "run",
        help="run a command and mirror it",
        description=(
            "Run CMD (without a shell unless --shell), pass its output through unchanged, and "
            "mirror it as a Live Activity that ends done or failed by the exit code."
        ),
        epilog=f"example: {PROG} run --title Build --progress-regex '(\\d+)%' -- make all",
    )
    _live_options(run, title="the activity's title (default: the program's name)")
    run.add_argument("--steps", metavar="A,B,C", help="comma-separated stage names")
    run.add_argument(
        "--progress-regex",
        metavar="RE",
        help="a line matching RE moves the bar: one group = percentage, two = value/total",
    )
    run.add_argument(
        "--step-regex",
        metavar="RE",
        help="a line matching RE starts a stage (named by its group, else the next one)",
    )
    run.add_argument("--shell", action="store_true", help="run CMD through the shell")
    _fleet_options(run)
    run.add_argument("command", nargs=argparse.REMAINDER, metavar="-- CMD ARGS")
    run.set_defaults(handler=_run, command_name="run")

    pipe = sub.add_parser(
        "pipe",
        help="copy stdin to stdout, counting lines (the default without a command)",
        description="Copy stdin to stdout untouched, counting lines (or bytes) on the way.",
        epilog=f"example: cat big.csv | {PROG} --total 1000000 --title Import | psql db",
    )
    _live_options(pipe, title="the activity's title (default: Pipe)")
    pipe.add_argument("--total", type=_positive_number, help="expected lines (or bytes)")
    pipe.add_argument("--bytes", action="store_true", help="count bytes instead of lines")
    pipe.set_defaults(handler=_pipe, command_name="pipe")

    push = sub.add_parser(
        "push",
        help="send a push notification",
        description="Send one push notification and print the result.",
        epilog=f"example: {PROG} push --title Deployed --action 'CI=https://ci.example.com'",
    )
    push.add_argument("--title", required=True, type=_title, help="the notification's title")
    push.add_argument("--message", help="its text")
    push.add_argument("--subtitle", help="a line between the title and the text")
    push.add_argument(
        "--channel",
        action="append",
        dest="channels",
        metavar="SLUG",
        help="send to this channel only (repeatable)",
    )
    push.add_argument("--media", metavar="URL", help="https URL of an image, audio or video")
    push.add_argument("--redirection", metavar="URL", help="https or shortcuts URL to open")
    push.add_argument(
        "--action",
        action="append",
        dest="actions",
        type=_button("open_url", "--action"),
        metavar="TITLE=URL",
        help="a button that opens an https or shortcuts URL (repeatable, at most 4 buttons)",
    )
    push.add_argument(
        "--webhook",
        action="append",
        dest="actions",
        type=_button("webhook", "--webhook"),
        metavar="TITLE=URL",
        help="a button that makes ActivitySmith POST to an https URL (repeatable)",
    )
    push.add_argument("--badge", type=int, metavar="N", help="the app icon's badge number")
    push.add_argument("--sound", metavar="NAME", help="the notification sound")
    push.set_defaults(handler=_push, command_name="push")

    watch = sub.add_parser(
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
    _live_options(watch, title="the activity's title (default: the program's name)")
    watch.add_argument("--pid", type=int, help="the process to watch (required)")
    watch.add_argument("--log", metavar="FILE", help="a log file the process writes")
    watch.add_argument(
        "--progress-regex",
        metavar="RE",
        help="a log line matching RE moves the bar: one group = percentage, two = value/total",
    )
    watch.add_argument("command", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    watch.set_defaults(handler=_watch, command_name="watch")

    reap = sub.add_parser(
        "reap",
        help="end the Live Activities of livebar processes that were killed",
        description=(
            "End, truthfully, every Live Activity of this account whose livebar process is gone "
            "(killed, OOM, a lost node): 'Lost: process 4121 was killed after 2h 13m at 61%'. "
            "Any livebar process on the account does this on its own; run it from cron or a "
            "shell when none is running."
        ),
    )
    reap.add_argument(
        "--deadline",
        type=_positive_number,
        default=30.0,
        help="longest wait for room in the account's rate limit, in seconds (default 30)",
    )
    reap.add_argument(
        "--after",
        type=int,
        metavar="PID",
        help="first wait (up to 30 s) for process PID to exit: how an exit's courier starts",
    )
    reap.set_defaults(handler=_reap, command_name="reap")

    simulate = sub.add_parser(
        "simulate",
        help="serve the local ActivitySmith simulator and its lock-screen page",
        description="Serve an ActivitySmith-compatible simulator (needs livebar[simulator]).",
    )
    simulate.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    simulate.add_argument(
        "--port", type=int, help="port to listen on (default 8787; 0: a free one)"
    )
    simulate.add_argument(
        "--key", action="append", dest="keys", metavar="KEY", help="an API key to accept"
    )
    simulate.add_argument("--open", action="store_true", help="open the page in a browser")
    simulate.set_defaults(handler=_simulate, command_name="simulate")

    demo = sub.add_parser(
        "demo",
        help="watch livebar drive the simulated lock screen",
        description="Run a short demo job against the simulator (needs livebar[simulator]).",
    )
    demo.add_argument("--keep-open", action="store_true", help="keep serving after the demo")
    demo.add_argument("--fast", action="store_true", help="compress the demo's timings")
    demo.add_argument("--port", type=int, help="port for the simulator (default: a free one)")
    demo.set_defaults(handler=_demo, command_name="demo")

    parser.set_defaults(handler=_no_command, command_name="")
    commands = {
        "run": run,
        "pipe": pipe,
        "push": push,
        "watch": watch,
        "simulate": simulate,
        "demo": demo,
    }
    return parser, commands


def _live_options(parser: argparse.ArgumentParser, *, title: str) -> None:
    parser.add_argument("--title", type=_title, help=title)
    parser.add_argument("--subtitle", help="a line under the title")
    parser.add_argument(
        "--channel",
        action="append",
        dest="channels",
        metavar="SLUG",
        help="send to this channel only (repeatable)",
    )


def _fleet_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "fleet", "run as one member of a fleet: one card for every member (a shared ledger)"
    )
    group.add_argument("--fleet", metavar="NAME", help="the fleet this command is a member of")
    group.add_argument(
        "--members", metavar="N|A,B,C", type=_members, help="how many members, or their names"
    )
    group.add_argument(
        "--member",
        metavar="NAME",
        help="this member's name (default: LIVEBAR_HOST_ID, JOB_COMPLETION_INDEX, the host)",
    )
    group.add_argument(
        "--deadline",
        type=_non_negative_number,
        metavar="SECONDS",
        help="seconds by which every member should have started",
    )
    group.add_argument("--run", metavar="ID", help="the run id (default: LIVEBAR_FLEET_RUN)")


def _members(text: str) -> int | list[str]:
    if text.strip().isdigit():
        return int(text)
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError("give a count or comma-separated names")
    return names


def _title(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def _button(kind: str, option: str) -> Callable[[str], dict[str, str]]:
    """The argparse type of ``--action`` / ``--webhook``: ``TITLE=URL`` as an action's JSON."""

    def parse(text: str) -> dict[str, str]:
        title, equals, url = text.partition("=")
        if not (equals and title.strip() and url.strip()):
            raise argparse.ArgumentTypeError(f"give TITLE=URL (got {text!r})")
        button = {"title": title.strip(), "type": kind, "url": url.strip()}
        return {**button, "method": "POST"} if kind == "webhook" else button

    parse.__name__ = option  # argparse names the type in "invalid <type> value" messages
    return parse


def _positive_number(text: str) -> float:
    return _number(text, zero=False)


def _non_negative_number(text: str) -> float:
    return _number(text, zero=True)


def _number(text: str, *, zero: bool) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (0 <= value < math.inf if zero else value > 0):
        raise argparse.ArgumentTypeError("must be >= 0" if zero else "must be > 0")
    return value


def _port(port: int | None) -> int | None:
    if port is not None and not 0 <= port <= MAX_PORT:
        raise UsageError(
            f"--port {port}: must be between 0 and {MAX_PORT} (--port 0 picks a free one)"
        )
    return port


def _no_command(args: argparse.Namespace) -> int:
    _parsers()[0].print_help(sys.stderr)
    return EXIT_USAGE


# -- shared ---------------------------------------------------------------------------------


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _setting_error(exc: ConfigurationError) -> str:
    """``exc`` naming the environment variable the setting came from (the CLI reads no other)."""
    variables = {"api_key": ENV_API_KEY, "base_url": ENV_BASE_URL}
    detail = str(exc).split(": ", 1)[-1]
    return f"{variables.get(exc.option, exc.option)}: {detail}"


def _config() -> Config:
    """The environment's settings; a bad one is a usage error (for ``push``, which only sends)."""
    try:
        return resolve_config()
    except ConfigurationError as exc:
        raise UsageError(_setting_error(exc)) from None


def _mirroring_allowed() -> bool:
    """Whether ``run`` and the pipe mirror; when they cannot, one line says why (as the library
    does) and the job runs anyway. ``LIVEBAR_DISABLE=1`` turns mirroring off silently."""
    try:
        config = resolve_config()
    except ConfigurationError as exc:
        _say(f"{PROG}: {_setting_error(exc)}; running without the Live Activity.")
        return False
    if config.disabled:
        return False
    if not config.api_key:
        _say(
            f"{PROG}: {ENV_API_KEY} is not set; running without the Live Activity "
            f"({ENV_DISABLE}=1 silences this)."
        )
        return False
    return True


def _activity(title: str, args: argparse.Namespace, **options: Any) -> LiveActivity:
    """The activity the options describe, checked but not started (bad options exit 2); a
    fleet's member with ``--fleet``."""
    fleet_name = getattr(args, "fleet", None)
    if fleet_name is None and getattr(args, "members", None) is not None:
        raise UsageError("--members needs --fleet")
    try:
        if fleet_name is not None:
            if args.members is None:
                raise UsageError("--fleet needs --members (a count, or the members' names)")
            from livebar._fleet import fleet

            return fleet(
                fleet_name,
                members=args.members,
                member=args.member,
                deadline=args.deadline,
                run=args.run,
                title=title,
                subtitle=args.subtitle,
                channels=args.channels,
                **options,
            )
        return live_activity(title, subtitle=args.subtitle, channels=args.channels, **options)
    except ValidationError as exc:
        raise UsageError(str(exc)) from None


# -- run --------------------------------------------------------------------------------------


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
            _say(f"{PROG} run: stopped reading progress ({type(exc).__name__}: {exc})")

    def _on_step(self, match: re.Match[str]) -> None:
        group = match.group(1) if match.re.groups else None
        name = (group or match.group(0)).strip()  # an empty group: named by the whole match
        activity, steps, counter = self._activity, self._steps, self._step_counter
        if steps is None:
            activity.update(subtitle=name[:MAX_TITLE] or None)
            return
        # A known name jumps to its stage; anything else starts the next one.
        index = steps.index(name) if name in steps else min(counter[0], len(steps) - 1)
        counter[0] = index + 1
        activity.step(index)

    def _on_progress(self, match: re.Match[str]) -> None:
        numbers = _numbers(match)
        if numbers is None:
            return
        activity = self._activity
        if len(numbers) == 1:
            percentage = min(max(numbers[0], 0.0), 100.0)
            if activity.segmented:
                activity.update(subtitle=f"{percentage:g}%")
            else:
                activity.update(percentage=percentage)
            return
        value, upper_limit = numbers
        if upper_limit <= 0:
            return
        value = min(max(value, 0.0), upper_limit)
        if activity.segmented:
            activity.update(subtitle=f"{value:g}/{upper_limit:g}")
        else:
            activity.update(value=value, upper_limit=upper_limit)


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


def _compile(
    pattern: str | None, option: str, *, groups: tuple[int, ...]
) -> re.Pattern[str] | None:
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


def _run(args: argparse.Namespace) -> int:
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        raise UsageError("no command given (usage: livebar run [options] -- CMD ARGS...)")
    progress = _compile(args.progress_regex, "--progress-regex", groups=(1, 2))
    step = _compile(args.step_regex, "--step-regex", groups=(0, 1))
    steps = [s.strip() for s in args.steps.split(",") if s.strip()] if args.steps else None
    if args.steps is not None and not steps:
        raise UsageError("--steps: give at least one stage name")
    title = args.title or args.fleet or _program_name(command, shell=args.shell)
    checked = _activity(title, args, steps=steps)
    activity = checked if _mirroring_allowed() else None
    if activity is not None and progress is not None and steps is None:
        activity.update(percentage=0.0)  # a progress bar from the start, not a one-step job
    watch = activity is not None and (progress is not None or step is not None)
    env = None
    if watch:
        # Piped output makes Python block-buffer; ask for lines so progress shows as it happens.
        env = {**os.environ, "PYTHONUNBUFFERED": os.environ.get("PYTHONUNBUFFERED", "1")}

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
            process = subprocess.Popen(
                " ".join(command) if args.shell else command,
                shell=args.shell,
                stdout=subprocess.PIPE if watch else None,
                stderr=subprocess.PIPE if watch else None,
                env=env,
            )
        except FileNotFoundError:
            _say(f"{PROG} run: command not found: {command[0]}")
            return EXIT_NOT_FOUND
        except PermissionError:
            _say(f"{PROG} run: permission denied: {command[0]}")
            return EXIT_NOT_EXECUTABLE
        children.append(process)
        relays = []
        if activity is not None:
            activity.start()
        if activity is not None and watch:
            counter = [0]
            streams = ((process.stdout, sys.stdout.buffer), (process.stderr, sys.stderr.buffer))
            for source, sink in streams:
                assert source is not None
                watcher = LineWatcher(
                    activity, progress=progress, step=step, steps=steps, step_counter=counter
                )
                relay = threading.Thread(
                    target=_relay, args=(source, sink, watcher), name="livebar-relay", daemon=True
                )
                relay.start()
                relays.append(relay)
        returncode = process.wait()
        for relay in relays:
            relay.join()

    if activity is not None:
        if signalled:
            activity.cancel()
        elif returncode == 0:
            if steps is not None:
                activity.advance(len(steps))  # a command that exits 0 went through every stage
            activity.close()
        else:
            activity.fail(
                SystemExit(returncode if returncode > 0 else _describe_status(returncode))
            )
        livebar_flush()
    return returncode if returncode >= 0 else 128 - returncode


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


# -- pipe -------------------------------------------------------------------------------------


def _pipe(args: argparse.Namespace) -> int:
    from livebar._integrations.tqdm import tqdm

    title = args.title or "Pipe"
    _activity(title, args, total=args.total)  # bad options exit 2 whether or not it mirrors
    enabled = _mirroring_allowed()
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


# -- push -------------------------------------------------------------------------------------


def _push(args: argparse.Namespace) -> int:
    from livebar._wire.client import Client
    from livebar._wire.payload import PushNotification

    body = {
        "title": args.title,
        "message": args.message,
        "subtitle": args.subtitle,
        "media": args.media,
        "redirection": args.redirection,
        "actions": args.actions,
        "badge": args.badge,
        "sound": args.sound,
        "target": {"channels": args.channels} if args.channels else None,
    }
    try:  # parsed as the API's JSON, so an error names the field as the API does
        notification = PushNotification.from_json(
            {name: value for name, value in body.items() if value is not None}
        )
    except ValidationError as exc:
        raise UsageError(str(exc)) from None
    config = _config()
    if config.disabled:
        _say(f"{PROG} push: skipped ({ENV_DISABLE} is set)")
        return 0
    if not config.api_key:
        raise UsageError(f"no API key: set {ENV_API_KEY}")
    try:
        with Client(api_key=config.api_key, base_url=config.base_url) as client:
            result = client.push(notification)
    except APIError as exc:
        _say(f"{PROG} push: failed: {exc}")
        return 1
    except LivebarError as exc:
        _say(f"{PROG} push: failed: {exc}")
        return 1
    devices = "" if result.devices_notified is None else f" to {result.devices_notified} device(s)"
    print(f"{PROG}: push sent{devices}", flush=True)
    return 0


# -- watch ------------------------------------------------------------------------------------


def _watch(args: argparse.Namespace) -> int:
    from livebar._integrations import watch

    command = [word for word in args.command if word != "--"]
    if command:
        raise UsageError(
            "watches a process that is already running (--pid); to start one and watch it, "
            f"use: {PROG} run -- {' '.join(command)}"
        )
    if args.pid is None:
        raise UsageError("give the process to watch: --pid PID")
    progress = _compile(args.progress_regex, "--progress-regex", groups=(1, 2))
    if progress is not None and args.log is None:
        raise UsageError("--progress-regex reads the log: give --log FILE")
    try:
        process = watch.Process(args.pid)
    except watch.NoSuchProcess as exc:
        raise UsageError(str(exc)) from None
    checked = _activity(args.title or process.name, args)
    activity = checked if _mirroring_allowed() else None
    lines = None
    if activity is not None and progress is not None:
        activity.update(percentage=0.0)  # a progress bar from the start, as `run` does
        lines = LineWatcher(activity, progress=progress, step=None, steps=None, step_counter=[0])
    return watch.watch(process, activity, log=args.log, progress=progress, lines=lines, say=_say)


# -- reap -------------------------------------------------------------------------------------


def _reap(args: argparse.Namespace) -> int:
    from livebar._engine.reap import reap
    from livebar._ledger.settings import open_ledger
    from livebar._wire.account import account_for
    from livebar._wire.client import Client

    config = _config()
    if not config.api_key:
        raise UsageError(f"no API key: set {ENV_API_KEY}")
    if args.after is not None:
        _wait_for_exit(args.after, timeout=30.0)
    ledger = open_ledger(account_for(api_key=config.api_key, base_url=config.base_url))
    try:
        with Client(api_key=config.api_key, base_url=config.base_url, retry=False) as client:
            report = reap(ledger, client, deadline=args.deadline)
    finally:
        ledger.close(0.0)
    for orphan in report.ended:
        print(f"{PROG}: ended {orphan.title!r}", flush=True)
    for orphan in report.already_ended:
        print(f"{PROG}: {orphan.title!r} had already ended", flush=True)
    for orphan, why in report.failed:
        _say(f"{PROG} reap: could not end {orphan.title!r}: {why}")
    if not report.found:
        print(f"{PROG}: nothing to reap ({ledger.backend} ledger)", flush=True)
    return 1 if report.failed else 0


def _wait_for_exit(pid: int, *, timeout: float) -> None:
    """Return once process ``pid`` is gone (or after ``timeout`` seconds)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        except PermissionError:  # alive, another user's
            pass
        time.sleep(0.05)


# -- simulator --------------------------------------------------------------------------------


def _simulator_demo_module() -> Any:
    try:
        from livebar.simulator import _demo
    except ImportError:
        raise UsageError(
            'the simulator is not installed: pip install "livebar[simulator]"'
        ) from None
    return _demo


def _simulate(args: argparse.Namespace) -> int:
    demo = _simulator_demo_module()
    options = {"host": args.host, "port": _port(args.port), "keys": args.keys}
    code: int = demo.run_simulate(
        open_browser=args.open, **{k: v for k, v in options.items() if v is not None}
    )
    return code


def _demo(args: argparse.Namespace) -> int:
    demo = _simulator_demo_module()
    options = {} if args.port is None else {"port": _port(args.port)}
    try:
        code: int = demo.run_demo(keep_open=args.keep_open, fast=args.fast, **options)
    except KeyboardInterrupt:  # before the tour began, or while its page was kept open
        return EXIT_INTERRUPTED
    return code
