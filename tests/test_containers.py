"""Node processes in containers, seen from the host: their own PID namespace.

The namespaces are made with util-linux's `unshare`, as a container runtime makes them. Each
wrapper runs node in the end, in the wrapper's process group, which the `spawn` fixture kills
whole (`--kill-child` too ends a PID namespace's node with its `unshare`).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from memtui.attach import find_inspector_address, innermost_pid
from tests.cli_helpers import jsonl, run_memtui, wait_until_inspector_closed
from tests.nodeproc import NodeProcess

OWN_PIDS = ("unshare", "--pid", "--fork", "--mount-proc", "--kill-child")
WRAPPERS = {"own pids": OWN_PIDS}


@functools.cache
def namespaces_unavailable() -> str | None:
    """Why these tests cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root, to create namespaces and enter them"
    if shutil.which("unshare") is None:
        return "needs unshare (util-linux)"
    probe = subprocess.run([*OWN_PIDS, "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"cannot create namespaces here: {probe.stderr.strip()}"
    return None


@pytest.fixture(autouse=True)
def namespaces() -> None:
    reason = namespaces_unavailable()
    if reason:
        pytest.skip(reason)


def node_in(process: NodeProcess) -> int:
    """The host PID of the node a wrapper runs: the wrapper's own PID when it ended by
    exec'ing node, else that of its only child (`unshare --fork`)."""
    pid = process.pid
    while Path(f"/proc/{pid}/comm").read_text().strip() == "unshare":
        pid = int(Path(f"/proc/{pid}/task/{pid}/children").read_text().split()[0])
    return pid


class TestAttaching:
    """`memtui HOSTPID` works on a process in its own PID namespace, and leaves it as found."""

    @pytest.mark.parametrize("wrapper", WRAPPERS)
    def test_record_and_snapshot_leave_the_inspector_closed(self, spawn, tmp_path, wrapper):
        target = spawn("idle.js", wrapper=WRAPPERS[wrapper])
        pid = node_in(target)
        assert find_inspector_address(pid) is None

        recorded = run_memtui("record", str(pid), "--interval", "0.2", "--duration", "1")
        assert recorded.returncode == 0, recorded.stderr
        assert wait_until_inspector_closed(pid)
        captured = run_memtui("snapshot", str(pid), "-o", str(tmp_path))
        assert captured.returncode == 0, captured.stderr

        samples = jsonl(recorded.stdout)
        assert len(samples) >= 4
        assert {sample["pid"] for sample in samples} == {pid}
        snapshot = next(tmp_path.glob(f"memtui-{pid}-*.heapsnapshot"))
        assert snapshot.stat().st_size > 100_000
        assert target.alive()
        assert wait_until_inspector_closed(pid)
        assert sum("Debugger listening" in line for line in target.lines) == 2


class TestPidNamespace:
    """The PID check compares `process.pid` with the target's PID in its own namespace."""

    def test_the_innermost_pid_is_read_from_nspid(self, spawn):
        target = spawn("idle.js", wrapper=OWN_PIDS)
        pid = node_in(target)
        assert pid != target.pid
        assert innermost_pid(pid) == 1
        assert innermost_pid(target.pid) == target.pid
