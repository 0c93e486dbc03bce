"""How a target process ended: its exit code or signal, and whether the kernel OOM-killed it.

memtui is not the target's parent, so it cannot wait for it; what it can read:
- the exit status in /proc/PID/stat while the process is a zombie (until its parent reaps
  it; the demo app is memtui's own child, whose status is known outright);
- the kernel's log (/dev/kmsg, root only), where the OOM killer names every process it kills;
- the oom_kill counters of the target's memory cgroup and its ancestors (cgroup v2
  `memory.events`, v1 `memory.oom_control`), read at attach and again at the exit.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
from dataclasses import dataclass
from pathlib import Path

from memtui.units import format_bytes

KMSG = Path("/dev/kmsg")
KMSG_RECORD_BYTES = 8192


@dataclass(frozen=True)
class ExitReason:
    """What is known of a target's end; every field None/False when nothing is."""

    code: int | None = None
    signal: int | None = None
    oom_killed: bool = False
    memory_limit: int | None = None

    def describe(self) -> str:
        """`exited with code 3`, `was killed by SIGTERM`, `was OOM-killed by the kernel ...`."""
        if self.oom_killed:
            limit = (f" at its cgroup's memory limit of {format_bytes(self.memory_limit)}"
                     if self.memory_limit else "")
            return f"was OOM-killed by the kernel{limit}"
        if self.signal is not None:
            return f"was killed by {_signal_name(self.signal)}"
        if self.code is not None:
            return f"exited with code {self.code}"
        return "exited"

    def short(self) -> str:
        """For a header: `exit code 3`, `killed by SIGTERM`, `OOM-killed`, `exited`."""
        if self.oom_killed:
            return "OOM-killed"
        if self.signal is not None:
            return f"killed by {_signal_name(self.signal)}"
        if self.code is not None:
            return f"exit code {self.code}"
        return "exited"


@dataclass(frozen=True)
class ExitWatch:
    """What to read when the target ends, taken while it runs."""

    pid: int
    cgroup_dirs: tuple[Path, ...]
    oom_kills: int | None
    memory_limit: int | None

    @classmethod
    def of(cls, pid: int, cgroup_dirs: tuple[Path, ...], memory_limit: int | None) -> ExitWatch:
        """Start watching `pid`, whose memory cgroup (innermost first) is `cgroup_dirs`."""
        return cls(pid, cgroup_dirs, oom_kill_count(cgroup_dirs), memory_limit)

    def reason(self, wait_status: int | None = None) -> ExitReason:
        """How the target ended. `wait_status` is its status when memtui is its parent (a
        Popen return code: negative for a signal)."""
        code, signum = _decode_popen(wait_status) if wait_status is not None else \
            _zombie_status(self.pid)
        kills = oom_kill_count(self.cgroup_dirs)
        cgroup_oom = kills is not None and self.oom_kills is not None and kills > self.oom_kills
        killed_or_unknown = signum == signal.SIGKILL or (code is None and signum is None)
        if killed_or_unknown and (cgroup_oom or _kernel_killed(self.pid)):
            return ExitReason(oom_killed=True, memory_limit=self.memory_limit,
                              signal=signal.SIGKILL)
        return ExitReason(code=code, signal=signum)


def oom_kill_count(cgroup_dirs: tuple[Path, ...]) -> int | None:
    """OOM kills counted in these memory cgroups (v2 memory.events, v1 memory.oom_control)."""
    total = None
    for directory in cgroup_dirs:
        for name in ("memory.events", "memory.oom_control"):
            with contextlib.suppress(OSError, ValueError):
                for line in (directory / name).read_text().splitlines():
                    key, _, value = line.partition(" ")
                    if key == "oom_kill":
                        total = (total or 0) + int(value)
    return total


def _zombie_status(pid: int) -> tuple[int | None, int | None]:
    """The exit status of a zombie not yet reaped by its parent: field 52 of /proc/PID/stat."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None, None
    fields = stat.rpartition(")")[2].split()
    if len(fields) < 50 or fields[0] != "Z":
        return None, None
    status = int(fields[-1])
    if os.WIFSIGNALED(status):
        return None, os.WTERMSIG(status)
    return (os.WEXITSTATUS(status), None) if os.WIFEXITED(status) else (None, None)


def _decode_popen(returncode: int) -> tuple[int | None, int | None]:
    return (None, -returncode) if returncode < 0 else (returncode, None)


def _kernel_killed(pid: int) -> bool:
    """Whether the kernel's log says the OOM killer killed `pid` (readable by root only)."""
    pattern = re.compile(rf"Killed process {pid} \(".encode())
    try:
        fd = os.open(KMSG, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        while True:
            try:
                record = os.read(fd, KMSG_RECORD_BYTES)
            except BlockingIOError:
                return False
            except OSError:  # EPIPE: records overwritten while reading; read on
                continue
            if not record:
                return False
            if pattern.search(record):
                return True
    finally:
        os.close(fd)


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"
