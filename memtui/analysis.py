"""Limits around a target: its container's memory limit, and whether a snapshot is risky."""

from __future__ import annotations

from pathlib import Path

import psutil

from memtui.container import cgroups_of
from memtui.events import SnapshotRisk
from memtui.sampler import Sample

UNLIMITED = 1 << 60
# V8 builds the snapshot in the target; measured peaks run from about 2x the used heap for
# large-object heaps to about 15x for heaps of many small objects (224 MB -> 3.4 GB, Node 20).
SNAPSHOT_OVERHEAD_FACTOR = 4.0
RISKY_SHARE = 0.8


def container_memory_limit(pid: int, proc: Path = Path("/proc"),
                           cgroup_root: Path = Path("/sys/fs/cgroup")) -> int | None:
    """The tightest memory limit of the process's cgroup and its ancestors (v1 or v2), or None."""
    limit = _cgroup_value(pid, proc, cgroup_root, "memory.max", "memory.limit_in_bytes")
    return limit if limit is not None and limit < UNLIMITED else None


def container_memory_usage(pid: int, proc: Path = Path("/proc"),
                           cgroup_root: Path = Path("/sys/fs/cgroup")) -> int | None:
    """Current memory charged to the process's own cgroup, or None if unknown."""
    return _cgroup_value(pid, proc, cgroup_root, "memory.current", "memory.usage_in_bytes",
                         tightest=False)


def memory_cgroup_dirs(pid: int, proc: Path = Path("/proc"),
                       cgroup_root: Path = Path("/sys/fs/cgroup")) -> tuple[Path, ...]:
    """The directories of the process's memory cgroups (v2, and v1's memory controller),
    each followed by its ancestors up to its hierarchy's root."""
    return tuple(directory for directory, _ in _memory_cgroups(pid, proc, cgroup_root))


def _memory_cgroups(pid: int, proc: Path, cgroup_root: Path) -> list[tuple[Path, bool]]:
    """(directory, is v2) for each memory cgroup of the process and its ancestors."""
    try:
        cgroups = cgroups_of(pid, proc)
    except OSError:
        return []
    found = []
    for cgroup in cgroups:
        if cgroup.hierarchy == "0" and not cgroup.controllers:
            base, v2 = cgroup_root / "unified", True
            if not base.is_dir() or not (base / "cgroup.controllers").exists():
                base = cgroup_root
        elif "memory" in cgroup.controllers:
            base, v2 = cgroup_root / "memory", False
        else:
            continue
        directory = base / cgroup.path.lstrip("/")
        if not directory.is_dir():
            directory = base
        while True:
            found.append((directory, v2))
            if directory == base or directory.parent == directory:
                break
            directory = directory.parent
    return found


def _cgroup_value(pid: int, proc: Path, cgroup_root: Path, v2_file: str, v1_file: str,
                  tightest: bool = True) -> int | None:
    found: list[int] = []
    innermost: set[bool] = set()
    for directory, v2 in _memory_cgroups(pid, proc, cgroup_root):
        if not tightest and v2 in innermost:
            continue
        value = _read_bytes(directory / (v2_file if v2 else v1_file))
        if value is not None:
            found.append(value)
            innermost.add(v2)
    return min(found) if found else None


def _read_bytes(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    if text == "max":
        return UNLIMITED
    return int(text) if text.isdigit() else None


def snapshot_risk(sample: Sample, container_limit: int | None,
                  container_usage: int | None = None) -> SnapshotRisk:
    """Estimate the extra memory a heap snapshot makes the target use, against what is free."""
    estimate = int(sample.heap_used * SNAPSHOT_OVERHEAD_FACTOR)
    available = psutil.virtual_memory().available
    reason = f"{_mib(available)} free on the host"
    if container_limit is not None:
        headroom = container_limit - (container_usage if container_usage is not None
                                      else sample.rss)
        if headroom < available:
            available, reason = max(headroom, 0), (
                f"{_mib(max(headroom, 0))} left under the container limit "
                f"of {_mib(container_limit)}")
    risky = estimate > available * RISKY_SHARE
    verdict = "may run out of memory" if risky else "fits"
    return SnapshotRisk(
        estimated_extra=estimate, available=available, risky=risky,
        reason=f"the snapshot needs about {_mib(estimate)} more in the target, {reason}: "
               f"{verdict}",
    )


def _mib(n: int) -> str:
    return f"{n / 2**20:,.0f} MiB"
