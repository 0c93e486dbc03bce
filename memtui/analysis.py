"""Limits around a target: its container's memory limit, and whether a snapshot is risky."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import psutil

from memtui.container import cgroups_of
from memtui.events import SnapshotRisk
from memtui.sampler import HeapSpace, Sample

UNLIMITED = 1 << 60
# The most a heap snapshot adds to the target's RSS while V8 builds its graph in the target and
# sends it (bench/snapshot_memory.py; figures and reasoning in bench/README.md). V8 keeps a graph
# node per object and an edge per reference, plus the JSON not yet read by the client, so the
# cost follows the number of objects per byte: up to SNAPSHOT_PER_HEAP_BYTE times the used
# heap for the smallest objects. And V8 names each index of an array or hash table holding
# references as its own string, in a buffer of 1 KiB, so an array of N references costs about
# 1.2 KiB x N: up to SNAPSHOT_PER_LARGE_OBJECT_BYTE times the large-object space, where every
# such array over about 16,000 elements lives. Shorter ones and Node's own heap are the floor.
SNAPSHOT_FLOOR = 64 << 20
SNAPSHOT_PER_HEAP_BYTE = 15.0
SNAPSHOT_PER_LARGE_OBJECT_BYTE = 170.0
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


def snapshot_extra_estimate(spaces: Sequence[HeapSpace], heap_used: int) -> int:
    """The most a heap snapshot should add to the target's RSS, from its heap spaces' used sizes.

    Without space figures, all of `heap_used` is taken as large arrays of references, the worst.
    """
    if not spaces:
        return int(SNAPSHOT_FLOOR + heap_used * SNAPSHOT_PER_LARGE_OBJECT_BYTE)
    large = sum(space.used for space in spaces if _holds_large_arrays(space.name))
    rest = sum(space.used for space in spaces) - large
    return int(SNAPSHOT_FLOOR + rest * SNAPSHOT_PER_HEAP_BYTE
               + large * SNAPSHOT_PER_LARGE_OBJECT_BYTE)


def _holds_large_arrays(space: str) -> bool:
    """Whether a V8 heap space can hold arrays over 128 KiB (large_object_space and its kin).

    The code spaces hold compiled code, not arrays."""
    return "large_object" in space and not space.startswith("code")


def snapshot_risk(sample: Sample, container_limit: int | None,
                  container_usage: int | None = None) -> SnapshotRisk:
    """Estimate the extra memory a heap snapshot makes the target use, against what is free."""
    estimate = snapshot_extra_estimate(sample.heap_spaces, sample.heap_used)
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
        reason=f"the snapshot may need up to {_mib(estimate)} more in the target, {reason}: "
               f"{verdict}",
    )


def _mib(n: int) -> str:
    return f"{n / 2**20:,.0f} MiB"
