"""A target the kernel OOM-kills during a capture is said to be, in plain words (issue 9,
point 8). Runs as root with a memory cgroup of the test's own (cgroup v1 or v2)."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli_helpers import run_memtui

CGROUP_ROOT = Path("/sys/fs/cgroup")


def memory_cgroup_parent() -> tuple[Path, str] | None:
    """Where a memory cgroup can be made, and the name of its limit file."""
    v1 = CGROUP_ROOT / "memory"
    if (v1 / "memory.limit_in_bytes").exists():
        return v1, "memory.limit_in_bytes"
    controllers = CGROUP_ROOT / "cgroup.subtree_control"
    if controllers.exists() and "memory" in controllers.read_text().split():
        return CGROUP_ROOT, "memory.max"
    return None


@contextlib.contextmanager
def memory_cgroup(limit: int) -> Iterator[Path]:
    where = memory_cgroup_parent()
    if os.geteuid() != 0 or where is None:
        pytest.skip("needs root and a memory cgroup controller to make a cgroup with a limit")
    parent, limit_file = where
    cgroup = parent / f"memtui-test-{uuid.uuid4().hex[:8]}"
    try:
        cgroup.mkdir()
    except OSError as error:
        pytest.skip(f"cannot make a memory cgroup here: {error.strerror}")
    try:
        (cgroup / limit_file).write_text(str(limit))
        yield cgroup
    finally:
        for process in (cgroup / "cgroup.procs").read_text().split():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(process), 9)
        with contextlib.suppress(OSError):
            cgroup.rmdir()


def test_a_target_oom_killed_by_its_capture_is_said_to_be(spawn, tmp_path):
    target = spawn("big_heap.js", "--inspect=127.0.0.1:0", args=("1000000",))
    rss = int(next(line.split()[1] for line in Path(f"/proc/{target.pid}/status").read_text()
                   .splitlines() if line.startswith("VmRSS:"))) * 1024
    limit = rss + (150 << 20)
    with memory_cgroup(limit) as cgroup:
        (cgroup / "cgroup.procs").write_text(str(target.pid))
        result = run_memtui("snapshot", str(target.pid), "--force", "-o", str(tmp_path))
    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines()[-1] == (
        f"memtui: error: pid {target.pid} was OOM-killed by the kernel at its cgroup's memory "
        f"limit of {limit / 2**20:.1f} MiB during the snapshot; no snapshot was written")
    assert list(tmp_path.iterdir()) == []
