"""Node processes in containers, seen from the host: their own network namespace, their own
PID namespace, both, a rootless one, a container cgroup, and a memtui without the privilege.

The namespaces are made with util-linux's `unshare`, as a container runtime makes them. Each
wrapper runs node in the end, in the wrapper's process group, which the `spawn` fixture kills
whole (`--kill-child` too ends a PID namespace's node with its `unshare`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from memtui.attach import (
    find_inspector_address,
    innermost_pid,
    is_node,
    list_node_processes,
    resolve_target,
)
from memtui.container import cgroups_of
from memtui.errors import EXIT_USAGE, MemtuiError
from memtui.events import ConnectionLost, Reconnected
from memtui.monitor import Monitor
from memtui.netns import namespace_of
from tests.cli_helpers import jsonl, run_memtui, wait_until_inspector_closed
from tests.live_terminal import LiveTerminal
from tests.nodeproc import NodeProcess
from tests.test_monitor import kinds_until_sampling_again

LOOPBACK_UP = ("sh", "-c", 'ip link set lo up && exec "$@"', "sh")
OWN_NETWORK = ("unshare", "--net", *LOOPBACK_UP)
OWN_PIDS = ("unshare", "--pid", "--fork", "--mount-proc", "--kill-child")
CONTAINER = ("unshare", "--net", "--pid", "--fork", "--mount-proc", "--kill-child",
             *LOOPBACK_UP)
AS_NOBODY = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")
ROOTLESS = (*AS_NOBODY, "unshare", "--user", "--map-root-user", "--net", *LOOPBACK_UP)
WRAPPERS = {"own network": OWN_NETWORK, "own pids": OWN_PIDS, "both": CONTAINER}
SIGUSR1_BIT = 1 << (signal.SIGUSR1 - 1)
DOCKER_ID = "3f2a1b9c0d1e" + "5a" * 26
CONTAINER_LIMIT = 256 << 20


@functools.cache
def namespaces_unavailable() -> str | None:
    """Why these tests cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root, to create namespaces and enter them"
    for tool in ("unshare", "setpriv", "ip"):
        if shutil.which(tool) is None:
            return f"needs {tool} (util-linux, iproute2)"
    probe = subprocess.run([*CONTAINER, "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"cannot create namespaces here: {probe.stderr.strip()}"
    return None


@functools.cache
def user_namespaces_unavailable() -> str | None:
    probe = subprocess.run([*ROOTLESS, "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"an unprivileged user cannot create a user namespace: {probe.stderr.strip()}"
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


def pending_sigusr1(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    masks = [line.split()[1] for line in status if line.startswith(("SigPnd:", "ShdPnd:"))]
    return any(int(mask, 16) & SIGUSR1_BIT for mask in masks)


@functools.cache
def nobody_cannot_run_memtui() -> str | None:
    probe = subprocess.run([*AS_NOBODY, sys.executable, "-c", "import memtui.cli"], cwd="/",
                           capture_output=True, text=True)
    if probe.returncode != 0:
        return f"user nobody cannot run memtui with {sys.executable}: {probe.stderr.strip()}"
    return None


def run_memtui_as_nobody(*args: str) -> subprocess.CompletedProcess:
    reason = nobody_cannot_run_memtui()
    if reason:
        pytest.skip(reason)
    return subprocess.run([*AS_NOBODY, sys.executable, "-m", "memtui", *args], cwd="/",
                          capture_output=True, text=True, timeout=60)


class TestAttaching:
    """`memtui HOSTPID` works on a process in its own network namespace, PID namespace or
    both: SIGUSR1 and every socket go into the target's namespace, and it is left as found."""

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
        # Two attaches, each opening the inspector on 9229 and moving it off (issue 11.2).
        listening = [line for line in target.lines if "Debugger listening" in line]
        assert len(listening) == 4
        assert [":9229/" in line for line in listening] == [True, False, True, False]

    def test_on_every_supported_node(self, node, spawn):
        target = spawn("idle.js", node=node, wrapper=CONTAINER)
        pid = node_in(target)
        result = run_memtui("gc", str(pid))
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("heap used ")
        assert wait_until_inspector_closed(pid)

    def test_the_live_view_names_the_namespace_and_detaches(self, spawn):
        target = spawn("idle.js", wrapper=CONTAINER)
        pid = node_in(target)
        namespace = namespace_of(pid)
        assert namespace is not None
        terminal = LiveTerminal(str(pid))
        try:
            terminal.wait_for("attached; sampling")
            terminal.wait_for(f"netns {namespace.inode}")
            terminal.press(b"q")
            assert terminal.wait_exit() == 0
        finally:
            terminal.close()
        assert target.alive()
        assert wait_until_inspector_closed(pid)

    def test_an_inspector_already_open_there_is_found_and_left_open(self, spawn):
        target = spawn("idle.js", "--inspect=127.0.0.1:0", wrapper=OWN_NETWORK)
        port = target.inspector_port()

        resolved = resolve_target(str(target.pid))
        result = run_memtui("record", str(target.pid), "--duration", "1")

        assert not resolved.opened_by_memtui
        assert resolved.netns == namespace_of(target.pid)
        assert result.returncode == 0, result.stderr
        assert find_inspector_address(target.pid) == ("127.0.0.1", port)

    async def test_reconnects_go_into_the_namespace(self, spawn):
        target = spawn("reopen_inspector.js", wrapper=OWN_NETWORK)
        kinds = await kinds_around_a_reconnection(target, "cycle\n")
        assert ConnectionLost in kinds and Reconnected in kinds, (kinds, target.proc.poll(),
                                                                  target.lines)
        assert "reopened" in target.lines

    async def test_an_inspector_closed_under_memtui_is_reopened_there(self, spawn):
        target = spawn("close_inspector.js", wrapper=OWN_NETWORK)
        kinds = await kinds_around_a_reconnection(target, "close\n")
        assert Reconnected in kinds, (kinds, target.proc.poll(), target.lines)
        # Opened on 9229, moved off it, opened again after the program closed it.
        assert sum("Debugger listening" in line for line in target.lines) == 3
        assert await asyncio.to_thread(wait_until_inspector_closed, target.pid)


async def kinds_around_a_reconnection(target: NodeProcess, command: str) -> list[type]:
    """Monitor `target`, send it `command` (which drops the connection), and return the
    kinds of the events up to the first sample after reconnecting; then detach."""
    monitor = Monitor(str(target.pid), interval=0.2)
    await monitor.start()
    try:
        return await kinds_until_sampling_again(monitor, lambda: target.send(command))
    finally:
        await monitor.close()


class TestSafetyChecks:
    """Before SIGUSR1 reaches a namespaced target, the same checks as on the host, read from
    the target's own /proc tables."""

    def test_a_port_held_on_the_host_does_not_block_the_containers_own(self, spawn):
        with socket_listening() as port:
            target = spawn("idle.js", f"--inspect-port={port}", wrapper=OWN_NETWORK)
            result = run_memtui("record", str(target.pid), "--duration", "1")
        assert result.returncode == 0, result.stderr
        assert f"Debugger listening on ws://127.0.0.1:{port}/" in "\n".join(target.lines)
        assert wait_until_inspector_closed(target.pid)

    def test_a_port_held_inside_the_namespace_is_refused_before_signalling(self, spawn):
        target = spawn("listen.js", "--inspect-port=9229", args=("9229",), wrapper=OWN_NETWORK)

        with pytest.raises(MemtuiError, match="itself listens on its inspector port"):
            resolve_target(str(target.pid))

        assert not pending_sigusr1(target.pid)
        assert not any("Starting inspector" in line for line in target.lines)
        assert target.alive()

    def test_a_process_that_does_not_catch_sigusr1_is_not_signalled(self, tmp_path):
        fake_node = tmp_path / "node"
        shutil.copy(shutil.which("sleep") or "/bin/sleep", fake_node)
        sleeper = subprocess.Popen([*OWN_NETWORK, str(fake_node), "60"], start_new_session=True)
        try:
            pid = wait_for_exec(sleeper.pid, str(fake_node))
            with pytest.raises(MemtuiError, match="does not catch SIGUSR1"):
                resolve_target(str(pid))
            assert sleeper.poll() is None
        finally:
            os.killpg(sleeper.pid, signal.SIGKILL)
            sleeper.wait(10)

    def test_disable_sigusr1_is_refused(self, node, spawn):
        version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout
        if tuple(int(part) for part in version.strip().lstrip("v").split(".")) < (22, 14):
            pytest.skip("--disable-sigusr1 exists from Node 22.14")
        target = spawn("idle.js", "--disable-sigusr1", node=node, wrapper=OWN_NETWORK)
        with pytest.raises(MemtuiError, match="runs with --disable-sigusr1"):
            resolve_target(str(target.pid))
        assert not pending_sigusr1(target.pid)


class TestPidNamespace:
    """The PID check compares `process.pid` with the target's PID in its own namespace."""

    def test_the_innermost_pid_is_read_from_nspid(self, spawn):
        target = spawn("idle.js", wrapper=OWN_PIDS)
        pid = node_in(target)
        assert pid != target.pid
        assert innermost_pid(pid) == 1
        assert innermost_pid(target.pid) == target.pid


EVERY_PROCESS_HOST = r"""
node=$1 script=$2 dir=$3; shift 3
"$node" "$script" > "$dir/host.out" 2>&1 &
unshare --net --pid --fork --mount-proc --kill-child sh -c 'ip link set lo up && exec "$@"' \
    sh "$node" "$script" > "$dir/container.out" 2>&1 &
until grep -q ready "$dir/host.out" && grep -q ready "$dir/container.out"; do sleep 0.05; done
"$@"
echo "memtui exited $?"
exec sleep infinity
"""
"""A host of its own (run in a PID namespace): a Node process on it, one in a container
(network and PID namespaces of its own), then the command given, and `memtui exited CODE`;
the processes stay until the namespace is killed."""


class TestEveryProcess:
    """`memtui --all` on a host of its own, where every Node process is the test's."""

    def test_the_hosts_and_a_containers_processes_are_watched_and_left_closed(
            self, system_node, tmp_path):
        script = str(Path(__file__).parent / "node" / "idle.js")
        terminal = LiveTerminal("--all", wrapper=(
            *OWN_PIDS, "sh", "-c", EVERY_PROCESS_HOST, "sh", system_node, script,
            str(tmp_path)))
        try:
            terminal.wait_for("2 processes (every Node process memtui may attach to)")
            nodes = wait_for_nodes(terminal.process.pid, 2)
            assert [namespace_of(pid) is None for pid in nodes].count(False) == 1
            deadline = time.monotonic() + 30
            while not all(find_inspector_address(pid) for pid in nodes):
                assert time.monotonic() < deadline, "memtui did not open both inspectors"
                time.sleep(0.05)
            terminal.wait_for("(opened by memtui)")
            terminal.press(b"q")
            terminal.wait_for("memtui: detached from 2 processes")
            terminal.wait_for("memtui exited 0")
            for pid in nodes:
                assert wait_until_inspector_closed(pid), pid
                assert psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        finally:
            terminal.close()


def wait_for_nodes(root: int, count: int) -> list[int]:
    """The host PIDs of the COUNT Node processes under ROOT, once they all run node."""
    deadline = time.monotonic() + 15
    while True:
        nodes = [child.pid for child in psutil.Process(root).children(recursive=True)
                 if is_node(child.pid)]
        if len(nodes) == count:
            return nodes
        assert time.monotonic() < deadline, f"{len(nodes)} Node processes, not {count}"
        time.sleep(0.05)


class TestWithoutPrivilege:
    """A memtui that may not enter the target's network namespace says what it needs, in one
    line with exit code 2, and has sent nothing to the target."""

    @pytest.mark.parametrize("inspector", ["closed", "open"])
    def test_a_non_root_memtui_gets_one_line(self, spawn, inspector):
        options = ("--inspect=127.0.0.1:0",) if inspector == "open" else ()
        target = spawn("idle.js", *options, wrapper=(*OWN_NETWORK, *AS_NOBODY))
        found_before = find_inspector_address(target.pid)

        result = run_memtui_as_nobody("record", str(target.pid), "--duration", "1")

        assert result.returncode == EXIT_USAGE
        assert result.stderr == (
            f"memtui: error: PID {target.pid} runs in another network namespace (a container?) "
            "that memtui may not enter: Operation not permitted (entering it needs "
            "CAP_SYS_ADMIN in memtui's user namespace and in the one owning it: run memtui as "
            "root on the host)\n")
        assert not pending_sigusr1(target.pid)
        assert find_inspector_address(target.pid) == found_before
        assert not any("Debugger attached" in line for line in target.lines)
        assert target.alive()

    def test_ps_says_the_inspector_state_is_unknown(self, spawn):
        target = spawn("idle.js", "--inspect=127.0.0.1:0", wrapper=(*OWN_NETWORK, *AS_NOBODY))
        inode = namespace_of(target.pid).inode
        result = run_memtui_as_nobody("ps")
        assert result.returncode == 0, result.stderr
        row = next(line for line in result.stdout.splitlines()
                   if line.startswith(f"{target.pid} "))
        assert re.search(rf" \? \(needs root\) +netns {inode} ", row), row

    def test_root_on_the_host_enters_a_rootless_container_its_owner_cannot(self, spawn):
        reason = user_namespaces_unavailable()
        if reason:
            pytest.skip(reason)
        target = spawn("idle.js", wrapper=ROOTLESS)

        refused = run_memtui_as_nobody("gc", str(target.pid))
        allowed = run_memtui("gc", str(target.pid))

        assert refused.returncode == EXIT_USAGE
        assert "that memtui may not enter: Operation not permitted" in refused.stderr
        assert allowed.returncode == 0, allowed.stderr
        assert target.alive()
        assert wait_until_inspector_closed(target.pid)


class TestContainerCgroup:
    """A process in a container's cgroup: `ps` and the header name the container, and the
    memory limit is that container's."""

    async def test_container_id_and_memory_limit(self, spawn, docker_cgroup):
        target = spawn("idle.js", wrapper=CONTAINER)
        pid = node_in(target)
        docker_cgroup(pid)
        namespace = namespace_of(pid)

        rows = {row.pid: row for row in list_node_processes()}
        listed = run_memtui("ps")
        monitor = Monitor(str(pid))
        try:
            info = await monitor.start()
        finally:
            await monitor.close()

        assert rows[pid].container is not None
        assert rows[pid].container.label == "docker 3f2a1b9c0d1e"
        line = next(line for line in listed.stdout.splitlines() if line.startswith(f"{pid} "))
        assert re.search(r" closed +docker 3f2a1b9c0d1e +- +/", line), line
        assert (info.pid, info.container, info.container_limit) == \
            (pid, rows[pid].container, CONTAINER_LIMIT)
        assert info.netns_inode == namespace.inode
        assert wait_until_inspector_closed(pid)


@pytest.fixture
def docker_cgroup() -> Iterator:
    """Put processes in a cgroup-v1 memory cgroup named as Docker names a container's
    (`docker/ID` under this test's own cgroup) with a 256 MiB limit; removed at the end."""
    memory = next((cgroup for cgroup in cgroups_of(os.getpid())
                   if "memory" in cgroup.controllers), None)
    if memory is None:
        pytest.skip("needs a cgroup v1 memory controller (cgroup v2 forbids a child memory "
                    "limit under a cgroup holding this test process)")
    own = Path("/sys/fs/cgroup/memory") / memory.path.lstrip("/")
    created = [own / "docker", own / "docker" / DOCKER_ID]
    try:
        for directory in created:
            directory.mkdir(exist_ok=True)
        (created[-1] / "memory.limit_in_bytes").write_text(str(CONTAINER_LIMIT))
    except OSError as error:
        pytest.skip(f"cannot create a memory cgroup under {own}: {error.strerror}")

    def add(pid: int) -> None:
        (created[-1] / "cgroup.procs").write_text(str(pid))

    yield add
    for pid in (created[-1] / "cgroup.procs").read_text().split():
        with contextlib.suppress(ProcessLookupError):
            (own / "cgroup.procs").write_text(pid)
    for directory in reversed(created):
        directory.rmdir()


def wait_for_exec(pid: int, executable: str) -> int:
    """PID, once the wrapper it started as has exec'd `executable`."""
    deadline = time.monotonic() + 10
    while os.readlink(f"/proc/{pid}/exe") != executable:
        assert time.monotonic() < deadline, "the wrapper did not run its command"
        time.sleep(0.02)
    return pid


@contextlib.contextmanager
def socket_listening() -> Iterator[int]:
    """A listener on a free port of the host's loopback, held by this test process."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]
