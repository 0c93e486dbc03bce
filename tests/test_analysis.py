"""Container memory limits (cgroup v1 and v2) and the snapshot risk estimate."""

import json
from pathlib import Path

import pytest

from memtui.analysis import (
    container_memory_limit,
    container_memory_usage,
    snapshot_extra_estimate,
    snapshot_risk,
)
from memtui.sampler import GcCounters, HeapSpace, Sample

MIB = 1 << 20
# Every capture measured by bench/snapshot_memory.py (written by its `--export`): per Node
# major, client, heap shape and size, the used size of each heap space before the capture and
# the extra RSS (peak - before) the capture cost the target.
CAPTURES = json.loads((Path(__file__).parent / "snapshot_costs.json").read_text())


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_cgroup_v2_limit_is_the_tightest_of_the_ancestors(tmp_path):
    proc, sys_root = tmp_path / "proc", tmp_path / "cgroup"
    write(proc / "42" / "cgroup", "0::/kubepods/pod1/app\n")
    write(sys_root / "cgroup.controllers", "memory\n")
    write(sys_root / "kubepods" / "memory.max", "max\n")
    write(sys_root / "kubepods" / "pod1" / "memory.max", "536870912\n")
    write(sys_root / "kubepods" / "pod1" / "app" / "memory.max", "max\n")
    write(sys_root / "kubepods" / "pod1" / "app" / "memory.current", "104857600\n")
    assert container_memory_limit(42, proc, sys_root) == 536870912
    assert container_memory_usage(42, proc, sys_root) == 104857600


def test_cgroup_v1_limit_and_no_limit(tmp_path):
    proc, sys_root = tmp_path / "proc", tmp_path / "cgroup"
    write(proc / "7" / "cgroup", "4:memory:/docker/abc\n1:cpu:/docker/abc\n")
    write(sys_root / "memory" / "docker" / "abc" / "memory.limit_in_bytes", "268435456\n")
    assert container_memory_limit(7, proc, sys_root) == 268435456
    write(sys_root / "memory" / "docker" / "abc" / "memory.limit_in_bytes",
          "9223372036854771712\n")
    assert container_memory_limit(7, proc, sys_root) is None


def test_unknown_pid_has_no_limit(tmp_path):
    assert container_memory_limit(1, tmp_path, tmp_path) is None


def sample(heap_used: int, rss: int, spaces: dict[str, int] | None = None) -> Sample:
    spaces = {"old_space": heap_used} if spaces is None else spaces
    return Sample(t=0, pid=1, rss=rss, heap_total=heap_used, heap_used=heap_used, external=0,
                  array_buffers=0, heap_limit=4 << 30, gc=GcCounters(), gc_pause_ms=0,
                  elu=0, cpu_percent=0,
                  heap_spaces=tuple(HeapSpace(name, used, used, 0)
                                    for name, used in spaces.items()))


def recorded(shape: str, node: str = "v20", size_mib: int = 100) -> dict:
    return next(c for c in CAPTURES if c["shape"] == shape and c["node"].startswith(node + ".")
                and c["size_mib"] == size_mib and c["client"] == "memtui")


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda c: "{node}-{client}-{shape}-{size_mib}"
                         .format(**c))
def test_the_estimate_covers_every_recorded_capture(capture):
    spaces = tuple(HeapSpace(name, used, used, 0) for name, used in capture["spaces"].items())
    assert snapshot_extra_estimate(spaces, capture["heap_used"]) >= capture["extra"]


def test_small_objects_in_one_array_under_a_1000_mib_limit_are_risky():
    # Issue 9: a target with a 107 MiB heap of small objects was judged safe under a 1000 MiB
    # cgroup limit, and the capture OOM-killed it. This one (101 MiB) took 2.5 GiB more.
    capture = recorded("biglist")
    risk = snapshot_risk(sample(capture["heap_used"], 200 * MIB, capture["spaces"]),
                         container_limit=1000 * MIB, container_usage=200 * MIB)
    assert capture["extra"] > 800 * MIB
    assert risk.risky and "may run out of memory" in risk.reason


def estimate_one(space: str, used: int) -> int:
    return snapshot_extra_estimate((HeapSpace(space, used, used, 0),), used)


def test_large_arrays_cost_more_than_the_same_bytes_of_small_objects_or_of_code():
    small = estimate_one("old_space", 100 * MIB)
    assert estimate_one("large_object_space", 100 * MIB) > 10 * small
    assert estimate_one("new_large_object_space", 100 * MIB) > 10 * small
    assert estimate_one("code_large_object_space", 100 * MIB) == small


def test_without_space_figures_the_whole_heap_is_taken_as_large_arrays():
    assert snapshot_extra_estimate((), 10 * MIB) == estimate_one("large_object_space", 10 * MIB)


def test_snapshot_is_risky_near_the_container_limit():
    risk = snapshot_risk(sample(200 << 20, 300 << 20), container_limit=512 << 20,
                         container_usage=300 << 20)
    assert risk.risky
    assert risk.available == 212 << 20
    assert "container limit of 512 MiB" in risk.reason


def test_small_heap_far_from_any_limit_is_not_risky():
    risk = snapshot_risk(sample(10 << 20, 50 << 20), container_limit=None)
    assert not risk.risky and "fits" in risk.reason


def test_a_bare_node_heap_fits_under_a_1000_mib_limit():
    capture = recorded("bare", size_mib=0)
    risk = snapshot_risk(sample(capture["heap_used"], 45 * MIB, capture["spaces"]),
                         container_limit=1000 * MIB, container_usage=45 * MIB)
    assert not risk.risky, risk.reason
