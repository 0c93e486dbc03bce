"""The snapshot estimate against what a real capture costs a real target."""

from pathlib import Path

from memtui.monitor import Monitor

MIB = 1 << 20


def status_bytes(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {key} in /proc/{pid}/status")


async def test_the_estimate_covers_what_capturing_small_objects_costs(node, spawn, tmp_path):
    # 150,000 small objects in one array, about 11 MiB of heap: a heap whose capture costs
    # about 25 times its size (each index of the long array is a name of its own to V8).
    target = spawn("big_heap.js", "--inspect=127.0.0.1:0", node=node, args=("150000",))
    monitor = Monitor(str(target.pid), snapshot_dir=tmp_path)
    await monitor.start()
    try:
        risk = await monitor.snapshot_risk()
        before = status_bytes(target.pid, "VmRSS")
        Path(f"/proc/{target.pid}/clear_refs").write_text("5")  # VmHWM := current RSS
        await monitor.take_snapshot()
        extra = status_bytes(target.pid, "VmHWM") - before
    finally:
        await monitor.close()
    assert target.alive()
    assert extra > 100 * MIB, f"the capture cost only {extra / MIB:.0f} MiB"
    assert risk.estimated_extra >= extra, (
        f"estimated {risk.estimated_extra / MIB:.0f} MiB, the capture took {extra / MIB:.0f} MiB")
