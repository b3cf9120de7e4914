"""Which process of a distributed job mirrors: only the main one, unless told otherwise.

A job launched as several processes (``torchrun``, Lightning's DDP launcher, ``accelerate
launch``, SLURM, MPI) runs the same code in every process. Each would start its own Live
Activity; only the main process should. The decision is made when an activity starts, never at
import, and reads, in order:

1. the explicit ``ranks=`` of the activity, else ``LIVEBAR_RANKS``: ``"main"`` (the default)
   or ``"all"`` (every process mirrors, e.g. independent jobs that happen to run under SLURM);
2. ``torch.distributed``, when the job already imported it and initialised a process group: its
   rank (livebar never imports torch itself);
3. otherwise the launchers' environment variables: any of ``RANK_VARIABLES`` set to a non-zero
   number means "not the main process". Lightning's DDP launcher sets only ``LOCAL_RANK`` and
   ``NODE_RANK``, so every one of them counts, not just ``RANK``.

Pure apart from reading ``sys.modules`` and the environment (both injectable for tests).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from types import ModuleType

from livebar._defaults import ENV_RANKS, RANK_MODES
from livebar._job.options import check_ranks
from livebar._wire.errors import ConfigurationError

__all__ = ["RANK_VARIABLES", "decide", "is_main_process", "process_rank"]

RANK_VARIABLES = (
    "RANK",
    "LOCAL_RANK",
    "NODE_RANK",
    "GROUP_RANK",
    "SLURM_PROCID",
    "OMPI_COMM_WORLD_RANK",
    "PMI_RANK",
    "JSM_NAMESPACE_RANK",
)
"""Set by torchrun / Lightning / accelerate, SLURM, Open MPI, MPICH / Intel MPI, IBM LSF."""


def process_rank(
    *,
    environ: Mapping[str, str] | None = None,
    modules: Mapping[str, ModuleType] | None = None,
) -> int:
    """This process's rank as far as anyone can tell: 0 for the main process (or no launcher).

    ``torch.distributed``'s rank when a process group is initialised; otherwise the first
    non-zero launcher variable (a malformed value is ignored: it cannot prove anything).
    """
    distributed = (sys.modules if modules is None else modules).get("torch.distributed")
    if distributed is not None:
        try:
            if distributed.is_available() and distributed.is_initialized():
                rank: int = distributed.get_rank()
                return rank
        except Exception:  # a half-imported or broken torch must not break the job
            pass
    env = os.environ if environ is None else environ
    for name in RANK_VARIABLES:
        value = env.get(name, "").strip()
        try:
            rank = int(value)
        except ValueError:
            continue
        if rank != 0:
            return rank
    return 0


def is_main_process(
    *,
    environ: Mapping[str, str] | None = None,
    modules: Mapping[str, ModuleType] | None = None,
) -> bool:
    """True in the main process of a distributed job, and in any process that is not one."""
    return process_rank(environ=environ, modules=modules) == 0


def decide(
    ranks: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    modules: Mapping[str, ModuleType] | None = None,
) -> bool:
    """Should an activity started in this process be mirrored? (``ranks`` > env > ``"main"``)

    Raises ``ConfigurationError`` for a bad ``LIVEBAR_RANKS``.
    """
    env = os.environ if environ is None else environ
    mode = check_ranks(ranks)
    if mode is None:
        configured = env.get(ENV_RANKS, "").strip().lower()
        if configured and configured not in RANK_MODES:
            raise ConfigurationError(ENV_RANKS, f"must be one of {RANK_MODES}")
        mode = configured or "main"
    if mode == "all":
        return True
    return is_main_process(environ=env, modules=modules)
