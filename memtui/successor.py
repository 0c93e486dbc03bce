"""Finding the process that replaced one that exited: the same service, restarted.

During a deploy the PID memtui watches is replaced. The successor is a Node process started
after the old one was last seen alive, run as the same user, that belongs to the same
systemd unit or container (a Kubernetes pod counts: its restarted container has a new id),
or else runs the same executable with the same arguments in the same working directory.
Among several, one that matches both ways wins, then the earliest started.
"""

from __future__ import annotations

import re
import time
from collections.abc import Collection
from dataclasses import dataclass

import psutil

from memtui.attach import is_node
from memtui.container import cgroups_of, container_of

_SERVICE = re.compile(r"[^/]+\.service")


@dataclass(frozen=True)
class Lineage:
    """What a restarted service keeps of the process it replaces."""

    uid: int
    group: str | None
    """`unit NAME.service`, `container ID` or `pod UID`; None on the host outside a unit."""
    command: tuple[str, ...]
    exe: str
    cwd: str | None

    @classmethod
    def of(cls, pid: int) -> Lineage:
        """The lineage of a running process; psutil.Error or OSError when it cannot be read."""
        process = psutil.Process(pid)
        with process.oneshot():
            uid = process.uids().real
            command = tuple(process.cmdline())
            exe = process.exe()
            try:
                cwd: str | None = process.cwd()
            except psutil.AccessDenied:
                cwd = None
        return cls(uid, group_of(pid), command, exe, cwd)

    def kinship(self, other: Lineage) -> int:
        """2 for the same group and command, 1 for one of the two, 0 for a stranger."""
        if other.uid != self.uid:
            return 0
        same_group = self.group is not None and other.group == self.group
        same_command = (other.command, other.exe, other.cwd) == (self.command, self.exe,
                                                                  self.cwd)
        return same_group + same_command


def group_of(pid: int) -> str | None:
    """The systemd unit or container PID runs in, as a key; None when in neither."""
    container = container_of(pid)
    if container is not None:
        return f"pod {container.pod_uid}" if container.pod_uid else f"container {container.id}"
    try:
        cgroups = cgroups_of(pid)
    except OSError:
        return None
    units = [unit for cgroup in cgroups for unit in _SERVICE.findall(cgroup.path)]
    return f"unit {units[-1]}" if units else None


def find_successor(lineage: Lineage, last_seen: float,
                   passed_over: Collection[int] = ()) -> int | None:
    """The PID of the process that replaced one of `lineage` last seen alive at `last_seen`
    (epoch seconds), or None; PIDs in `passed_over` are not candidates."""
    started_after = _process_clock(last_seen)
    candidates: list[tuple[int, float, int]] = []
    for process in psutil.process_iter(["create_time"]):
        created = process.info["create_time"]
        if process.pid in passed_over or created is None or created < started_after:
            continue
        try:
            if not is_node(process.pid):
                continue
            kinship = lineage.kinship(Lineage.of(process.pid))
        except (psutil.Error, OSError):
            continue
        if kinship:
            candidates.append((kinship, created, process.pid))
    if not candidates:
        return None
    return min(candidates, key=lambda kin: (-kin[0], kin[1]))[2]


def _process_clock(epoch: float) -> float:
    """An epoch time on the clock of psutil's create_time, which counts from the boot time
    the kernel gives in whole seconds: up to a second off time.time()."""
    since_boot = epoch - (time.time() - time.clock_gettime(time.CLOCK_BOOTTIME))
    return psutil.boot_time() + since_boot
