"""Options and defaults shared by several verbs (not a verb itself: the name starts with '_')."""

from __future__ import annotations

import argparse
import os

# without a scheduler's allocation, use at most this many of the cores this process may run on
# (a shared login or compute node is not ours alone)
MAX_DEFAULT_THREADS = 8
# environment variables in which batch schedulers give a job's CPU allocation, in order of trust
_ALLOCATION_VARS = ("SLURM_CPUS_PER_TASK", "PBS_NUM_PPN", "NCPUS", "NSLOTS", "LSB_DJOB_NUMPROC")


def default_threads() -> int:
    """CPU threads a verb uses when --threads is not given.

    The batch scheduler's allocation when there is one (``SLURM_CPUS_PER_TASK``; PBS, SGE and
    LSF equivalents), else ``OMP_NUM_THREADS`` when set, else the cores this process may run on
    (``os.sched_getaffinity``, which honours cgroup cpusets and ``taskset``) up to
    ``MAX_DEFAULT_THREADS``. Never every core of a shared node by surprise.
    """
    for var in (*_ALLOCATION_VARS, "OMP_NUM_THREADS"):
        value = os.environ.get(var, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    try:
        available = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # macOS, Windows
        available = os.cpu_count() or 1
    return max(1, min(available, MAX_DEFAULT_THREADS))


def _threads(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"threads must be >= 0, got {value}")
    return value


def add_threads(group, what: str = "torch") -> None:
    """``--threads N``: default the scheduler's allocation (see :func:`default_threads`)."""
    group.add_argument("--threads", type=_threads, default=None, metavar="N",
                       help=f"CPU threads for {what} (default: the batch scheduler's allocation, "
                            "SLURM_CPUS_PER_TASK and the like, else OMP_NUM_THREADS, else the cores "
                            f"this process may use, at most {MAX_DEFAULT_THREADS}; 0 = every core)")


def threads(args) -> int:
    """The --threads value with its default resolved (0 still means every core)."""
    return default_threads() if args.threads is None else args.threads


class DeprecatedAlias(argparse.Action):
    """A hidden old spelling of an option: stores into the new option's dest with a warning."""

    def __init__(self, option_strings, dest, new: str = "", **kwargs):
        self.new = new
        kwargs.setdefault("help", argparse.SUPPRESS)
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        import sys

        print(f"seqfm: warning: {option_string} is deprecated; use {self.new}", file=sys.stderr)
        setattr(namespace, self.dest, values)


def add_deprecated(parser, old: str, new: str, dest: str, **kwargs) -> None:
    """Accept ``old`` as a hidden, deprecated spelling of ``new`` (same dest)."""
    parser.add_argument(old, dest=dest, action=DeprecatedAlias, new=new, default=argparse.SUPPRESS,
                        **kwargs)


def dataset_option(args, dest: str, positional: str, option: str):
    """The value of a required named input (``--dataset DIR``) that older commands took as a
    positional argument: the positional still works, with a deprecation warning."""
    import sys

    from ..errors import InputError

    value, old = getattr(args, dest), getattr(args, positional)
    if old is not None:
        if value is not None and value != old:
            raise InputError(f"{option} {value} and the positional {old} disagree; give {option} only")
        print(f"seqfm: warning: the positional input is deprecated; use {option} {old}", file=sys.stderr)
        value = old
    if value is None:
        raise InputError(f"{option} is required")
    return value


def quantiles(text: str) -> tuple:
    """Comma-separated quantiles in [0, 1] (an empty string: none)."""
    import argparse

    try:
        vals = tuple(float(v) for v in str(text).split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not comma-separated numbers: {text!r}") from None
    if any(not 0 < v < 1 for v in vals):
        raise argparse.ArgumentTypeError(f"quantiles must lie strictly between 0 and 1: {text!r}")
    return vals


def progress(args) -> bool:
    """The --progress value with its default resolved: a bar when stderr is a terminal."""
    import sys

    return sys.stderr.isatty() if args.progress is None else args.progress
