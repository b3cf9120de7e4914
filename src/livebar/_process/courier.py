"""The courier: a short-lived process that delivers the ends a job's exit could not.

An exit waits for its last ends at most the flush deadline (5 s): a slow server, or the
account's share used up by other processes, can make an end miss it. The engine has already
written each job's own end into the account's ledger; once the process is gone, any livebar
process on the account delivers that end instead of "Lost". The courier makes that happen soon
even when no other livebar process comes by: a detached ``livebar reap --after <pid>`` that waits
for this process to exit, then for room in the account's window (at most ``COURIER_DEADLINE``),
delivers the ends, and exits. The key travels to it in its environment, never on its command
line. ``LIVEBAR_COURIER=0`` turns it off; a courier never sends one of its own.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import TYPE_CHECKING

from livebar._defaults import ENV_API_KEY, ENV_BASE_URL, ENV_COURIER

if TYPE_CHECKING:
    from livebar._wire.config import Config

__all__ = ["COURIER_DEADLINE", "send_courier", "wanted"]

COURIER_DEADLINE = 120.0
"""How long a courier waits for room in the account's window before it gives up (the ends
stay in the ledger for the next livebar process or ``livebar reap``)."""


def wanted() -> bool:
    """Whether couriers may be sent from this process (``LIVEBAR_COURIER``, on by default)."""
    return os.environ.get(ENV_COURIER, "").strip().lower() not in ("0", "false", "no", "off")


def send_courier(config: Config) -> int | None:
    """Start a detached courier for ``config``'s account; its pid, or None if it could not."""
    env = {**os.environ, ENV_API_KEY: config.api_key or "", ENV_BASE_URL: config.base_url}
    env[ENV_COURIER] = "0"  # a courier sends none of its own
    command = [sys.executable, "-m", "livebar", "reap", "--after", str(os.getpid())]
    command += ["--deadline", f"{COURIER_DEADLINE:g}"]
    try:
        courier = subprocess.Popen(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
        )
    except OSError:
        return None
    return courier.pid
