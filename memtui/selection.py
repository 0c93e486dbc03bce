"""Which processes an overview watches: the targets given, a process with its Node
descendants, or every Node process memtui may attach to; looked for again at each call, so
that processes that start meanwhile join."""

from __future__ import annotations

import os
from dataclasses import dataclass

import psutil

from memtui import attach
from memtui.errors import UsageError


@dataclass(frozen=True)
class Selection:
    """Exactly one of: `targets` (PIDs, HOST:PORT or ws:// URLs), `children_of` (a PID), or
    `every` Node process."""

    targets: tuple[str, ...] = ()
    children_of: int | None = None
    every: bool = False

    @property
    def grows(self) -> bool:
        """Whether processes that start later can join (not for targets given one by one)."""
        return self.children_of is not None or self.every

    def describe(self) -> str:
        """What the selection covers, for the overview's title."""
        if self.children_of is not None:
            return f"pid {self.children_of} and its Node descendants"
        if self.every:
            return "every Node process memtui may attach to"
        return "the processes given"

    def find(self) -> list[str]:
        """The targets now, PIDs in ascending order for a selection that grows. Raises
        UsageError when the process whose descendants are watched does not exist."""
        if self.children_of is not None:
            return [str(pid) for pid in node_family(self.children_of)]
        if self.every:
            return [str(pid) for pid in attachable_node_pids()]
        return list(self.targets)


def node_family(pid: int) -> list[int]:
    """PID itself if it is a Node process, and its descendants that are (a cluster primary
    and its workers, a pm2 daemon and its apps)."""
    try:
        root = psutil.Process(pid)
        family = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        raise UsageError(f"no process with PID {pid}",
                         "check the PID; `memtui ps` lists Node processes") from None
    return sorted(p.pid for p in family if attach.is_node(p.pid))


def attachable_node_pids() -> list[int]:
    """Node processes on this host and in its containers that this user may attach to:
    every one for root, else those running as this user."""
    euid = os.geteuid()
    found = []
    for pid in psutil.pids():
        if not attach.is_node(pid):
            continue
        try:
            if euid == 0 or psutil.Process(pid).uids().effective == euid:
                found.append(pid)
        except psutil.Error:
            continue
    return found
