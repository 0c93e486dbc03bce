"""Container memory limits (cgroup v1 and v2) and the snapshot risk estimate."""

from pathlib import Path

from memtui.analysis import container_memory_limit, container_memory_usage, snapshot_risk
from memtui.sampler import GcCounters, Sample


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


def sample(heap_used: int, rss: int) -> Sample:
    return Sample(t=0, pid=1, rss=rss, heap_total=heap_used, heap_used=heap_used, external=0,
                  array_buffers=0, heap_limit=4 << 30, gc=GcCounters(), gc_pause_ms=0,
                  elu=0, cpu_percent=0)


def test_snapshot_is_risky_near_the_container_limit():
    risk = snapshot_risk(sample(200 << 20, 300 << 20), container_limit=512 << 20,
                         container_usage=300 << 20)
    assert risk.risky
    assert risk.available == 212 << 20
    assert "container limit of 512 MiB" in risk.reason


def test_small_heap_far_from_any_limit_is_not_risky():
    risk = snapshot_risk(sample(10 << 20, 50 << 20), container_limit=None)
    assert not risk.risky and "fits" in risk.reason
