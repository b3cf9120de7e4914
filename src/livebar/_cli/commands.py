"""The short commands: ``push`` (one notification), ``watch`` (a running process), ``reap``
(the activities of killed processes) and the simulator's ``simulate`` and ``demo``."""

from __future__ import annotations

import argparse
import os
from typing import Any

from livebar._cli.common import (
    EXIT_INTERRUPTED,
    PROG,
    UsageError,
    activity,
    config,
    mirroring_allowed,
    port,
    say,
)
from livebar._cli.run import LineWatcher, compile_rule
from livebar._defaults import ENV_API_KEY, ENV_DISABLE
from livebar._wire.errors import ConfigurationError, LivebarError, ValidationError

__all__ = ["demo", "push", "reap", "simulate", "watch"]


def push(args: argparse.Namespace) -> int:
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
    settings = config()
    if settings.disabled:
        say(f"{PROG} push: skipped ({ENV_DISABLE} is set)")
        return 0
    if not settings.api_key:
        raise UsageError(f"no API key: set {ENV_API_KEY}")
    try:
        with Client(api_key=settings.api_key, base_url=settings.base_url) as client:
            result = client.push(notification)
    except LivebarError as exc:
        say(f"{PROG} push: failed: {exc}")
        return 1
    devices = "" if result.devices_notified is None else f" to {result.devices_notified} device(s)"
    print(f"{PROG}: push sent{devices}", flush=True)
    return 0


def watch(args: argparse.Namespace) -> int:
    from livebar._integrations import watch as watching

    command = [word for word in args.command if word != "--"]
    if command:
        raise UsageError(
            "watches a process that is already running (--pid); to start one and watch it, "
            f"use: {PROG} run -- {' '.join(command)}"
        )
    if args.pid is None:
        raise UsageError("give the process to watch: --pid PID")
    progress = compile_rule(args.progress_regex, "--progress-regex", groups=(1, 2))
    if progress is not None and args.log is None:
        raise UsageError("--progress-regex reads the log: give --log FILE")
    try:
        process = watching.Process(args.pid)
    except watching.NoSuchProcess as exc:
        raise UsageError(str(exc)) from None
    checked = activity(args.title or process.name, args)
    card = checked if mirroring_allowed() else None
    lines = None
    if card is not None and progress is not None:
        card.update(percentage=0.0)  # a progress bar from the start, as `run` does
        lines = LineWatcher(card, progress=progress, step=None, steps=None, step_counter=[0])
    return watching.watch(process, card, log=args.log, progress=progress, lines=lines, say=say)


def reap(args: argparse.Namespace) -> int:
    from livebar._cli.reports import reap_json, reap_lines
    from livebar._engine.reap import reap as reap_orphans
    from livebar._ledger.settings import open_ledger
    from livebar._wire.account import account_for
    from livebar._wire.client import Client
    from livebar._wire.config import hang_after_setting

    settings = config()
    if not settings.api_key:
        raise UsageError(f"no API key: set {ENV_API_KEY}")
    try:
        hang_after = hang_after_setting()
    except ConfigurationError as exc:
        raise UsageError(str(exc)) from None
    if args.after is not None:
        _wait_for_exit(args.after, timeout=30.0)
    ledger = open_ledger(account_for(api_key=settings.api_key, base_url=settings.base_url))
    try:
        with Client(api_key=settings.api_key, base_url=settings.base_url, retry=False) as client:
            report = reap_orphans(ledger, client, deadline=args.deadline, hang_after=hang_after)
    finally:
        ledger.close(0.0)
    if args.json:
        print(reap_json(report, ledger.backend), flush=True)
    else:
        reap_lines(report, ledger.backend)
    return 1 if report.failed or report.mark_failed or report.missed_failed else 0


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


def _simulator_demo_module() -> Any:
    try:
        from livebar.simulator import _demo
    except ImportError:
        raise UsageError(
            'the simulator is not installed: pip install "livebar[simulator]"'
        ) from None
    return _demo


def simulate(args: argparse.Namespace) -> int:
    tour = _simulator_demo_module()
    options = {"host": args.host, "port": port(args.port), "keys": args.keys}
    code: int = tour.run_simulate(
        open_browser=args.open, **{k: v for k, v in options.items() if v is not None}
    )
    return code


def demo(args: argparse.Namespace) -> int:
    tour = _simulator_demo_module()
    options = {} if args.port is None else {"port": port(args.port)}
    try:
        code: int = tour.run_demo(keep_open=args.keep_open, fast=args.fast, **options)
    except KeyboardInterrupt:  # before the tour began, or while its page was kept open
        return EXIT_INTERRUPTED
    return code
