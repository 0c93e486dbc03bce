"""Which container a process runs in, named from its cgroup path as the host sees it.

The runtimes name a container's cgroup after its id: `docker-ID.scope` or `docker/ID`
(Docker), `cri-containerd-ID.scope` (containerd under Kubernetes), `crio-ID.scope` or
`crio-ID` (CRI-O), `libpod-ID.scope` or `libpod-ID` (Podman); Kubernetes puts a pod's
containers under `kubepods[-QOS]-podUID.slice` or `podUID` (systemd or cgroupfs driver),
the bare id then standing for the container when the runtime does not prefix it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Runtime = Literal["docker", "containerd", "cri-o", "podman"]

_PREFIXED_ID = re.compile(
    r"(docker|cri-containerd|crio|libpod)-([0-9a-f]{64})(?:\.scope)?")
_BARE_ID = re.compile(r"[0-9a-f]{64}")
_POD = re.compile(r"(?:kubepods-(?:[a-z]+-)?)?pod([0-9a-f]{8}(?:[-_][0-9a-f]{4}){3}[-_][0-9a-f]{12}"
                  r"|[0-9a-f]{32})(?:\.slice)?")
_RUNTIME_BY_PREFIX: dict[str, Runtime] = {
    "docker": "docker", "cri-containerd": "containerd", "crio": "cri-o", "libpod": "podman",
}
SHORT_ID = 12
SHORT_POD_UID = 8


@dataclass(frozen=True)
class Cgroup:
    """One line of /proc/PID/cgroup: v2 has hierarchy "0" and no controllers."""

    hierarchy: str
    controllers: tuple[str, ...]
    path: str


@dataclass(frozen=True)
class Container:
    """A container found from a cgroup path; runtime None when the path does not say."""

    id: str
    runtime: Runtime | None = None
    pod_uid: str | None = None

    @property
    def label(self) -> str:
        """The short form `ps` and the header show: `docker 3f2a1b9c0d1e`, and for a
        Kubernetes pod's container `cri-o 3f2a1b9c0d1e pod 5f1c2e3a`."""
        parts: list[str] = [self.runtime] if self.runtime else []
        parts.append(self.id[:SHORT_ID])
        if self.pod_uid:
            parts += ["pod", self.pod_uid[:SHORT_POD_UID]]
        return " ".join(parts)


def cgroups_of(pid: int, proc: Path = Path("/proc")) -> list[Cgroup]:
    """The cgroups of PID, paths as memtui's cgroup namespace sees them; OSError if unreadable."""
    cgroups = []
    for line in (proc / str(pid) / "cgroup").read_text().splitlines():
        hierarchy, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        cgroups.append(Cgroup(hierarchy, tuple(filter(None, controllers.split(","))), path))
    return cgroups


def container_of(pid: int, proc: Path = Path("/proc")) -> Container | None:
    """The container PID runs in, or None (on the host, or not readable)."""
    try:
        cgroups = cgroups_of(pid, proc)
    except OSError:
        return None
    cgroups.sort(key=lambda cgroup: cgroup.hierarchy != "0")
    return next(filter(None, (container_in(cgroup.path) for cgroup in cgroups)), None)


def container_in(path: str) -> Container | None:
    """The innermost container a cgroup path names, or None."""
    pod_uid = None
    found = None
    parent = ""
    for part in path.split("/"):
        pod = _POD.fullmatch(part)
        if pod:
            pod_uid = pod.group(1).replace("_", "-")
        prefixed = _PREFIXED_ID.fullmatch(part)
        if prefixed:
            found = Container(prefixed.group(2), _RUNTIME_BY_PREFIX[prefixed.group(1)], pod_uid)
        elif _BARE_ID.fullmatch(part):
            found = Container(part, "docker" if parent == "docker" else None, pod_uid)
        parent = part
    return found
