"""memtui never leaves a target less safe than it found it, on the failure paths (issue 9):
a busy or blocked target, several memtuis at once, an interrupted command, a failed attach,
an inspector that moves. Every test here also passes the `spawn` fixture's check that no
inspector memtui opened is left listening."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psutil
import pytest

from memtui import attach
from memtui.attach import find_inspector_address
from memtui.errors import MemtuiError
from memtui.session import Session
from tests.cli_helpers import (
    default_sigint,
    jsonl,
    run_memtui,
    start_memtui,
    wait_until_inspector_closed,
)
from tests.live_terminal import LiveTerminal
from tests.test_attach import cluster_port, wait_for_new_worker


def first_sample(memtui: subprocess.Popen) -> None:
    assert memtui.stdout is not None
    assert memtui.stdout.readline().startswith("{")


class TestBlockedTarget:
    """A target blocked in native code cannot answer memtui's detach: the recording is still
    good, and the target closes the inspector memtui opened once it runs JavaScript again."""

    def test_a_recording_that_ends_while_the_target_is_blocked_exits_0(self, spawn):
        target = spawn("blocking.js", "--inspect-port=0", args=("6",))
        memtui = start_memtui("record", str(target.pid), "--interval", "0.2",
                              "--duration", "2")
        first_sample(memtui)
        target.send("go\n")
        target.wait_for_line("^blocking$")
        _, err = memtui.communicate(timeout=30)
        assert memtui.returncode == 0, err
        assert "did not answer in time; it removes memtui's probe and closes the inspector " \
               "memtui opened when it runs JavaScript again" in err
        assert find_inspector_address(target.pid) is not None, "closed while blocked?"
        target.wait_for_line("^unblocked$", timeout=20)
        assert wait_until_inspector_closed(target.pid)
        assert target.alive(), (target.proc.returncode, target.lines[-12:])

    @pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGHUP], ids=["sigterm", "sighup"])
    def test_a_signal_while_the_target_is_blocked_detaches(self, spawn, stop):
        target = spawn("blocking.js", "--inspect-port=0", args=("5",))
        memtui = start_memtui("record", str(target.pid), "--interval", "0.2")
        first_sample(memtui)
        target.send("go\n")
        target.wait_for_line("^blocking$")
        memtui.send_signal(stop)
        _, err = memtui.communicate(timeout=30)
        assert memtui.returncode == 0, err
        assert "Traceback" not in err
        target.wait_for_line("^unblocked$", timeout=20)
        assert wait_until_inspector_closed(target.pid)


class TestInterruptedCapture:
    def test_ctrl_c_during_a_snapshot_exits_non_zero_with_no_file(self, spawn, tmp_path):
        target = spawn("big_heap.js", "--inspect-port=0")
        memtui = start_memtui("snapshot", str(target.pid), "-o", str(tmp_path))
        assert memtui.stderr is not None
        assert memtui.stderr.readline().startswith("memtui: attached to pid")
        deadline = time.monotonic() + 30
        while not any(tmp_path.iterdir()) and time.monotonic() < deadline:
            time.sleep(0.02)
        # Stopped, the target streams no more of the snapshot: the Ctrl-C comes mid-capture
        # however slowly this test runs, and memtui must not wait for the stopped target.
        os.kill(target.pid, signal.SIGSTOP)
        try:
            memtui.send_signal(signal.SIGINT)
            _, err = memtui.communicate(timeout=60)
        finally:
            os.kill(target.pid, signal.SIGCONT)
        assert memtui.returncode == 128 + signal.SIGINT, err
        assert "the snapshot (none was written) interrupted by SIGINT" in err
        assert list(tmp_path.iterdir()) == []
        assert target.alive(), (target.proc.returncode, target.lines[-12:])
        assert wait_until_inspector_closed(target.pid, deadline=60), "after the snapshot"

    def test_ctrl_c_in_the_first_second_of_a_snapshot_in_the_live_view(self, spawn, tmp_path):
        """Dropping the connection while the target sends the snapshot crashed it (SIGSEGV,
        1 of 50 tries): memtui waits for the snapshot to end, saves it, then detaches."""
        target = spawn("big_heap.js", "--inspect-port=0")
        terminal = LiveTerminal(str(target.pid), "--snapshot-dir", str(tmp_path))
        try:
            terminal.wait_for("attached; sampling")
            terminal.press(b"s")
            terminal.wait_for("capturing")
            terminal.press(b"\x03")
            assert terminal.wait_exit(120) == 0
        finally:
            terminal.close()
        assert target.alive(), (target.proc.returncode, target.lines[-12:])
        assert wait_until_inspector_closed(target.pid, deadline=30)
        assert len(list(tmp_path.glob("*.heapsnapshot"))) == 1


class TestConcurrentMemtuis:
    def test_ten_records_at_once_on_a_closed_inspector_all_succeed(self, spawn):
        target = spawn("idle.js", "--inspect-port=0")
        with ThreadPoolExecutor(10) as pool:
            results = list(pool.map(
                lambda _: run_memtui("record", str(target.pid), "--duration", "1"), range(10)))
        for result in results:
            assert result.returncode == 0, result.stderr
            assert len(jsonl(result.stdout)) >= 1
        assert sum("Debugger listening" in line for line in target.lines) >= 1
        assert wait_until_inspector_closed(target.pid)

    def test_a_blocked_loop_survives_memtuis_coming_and_going(self, spawn):
        """The loop that crashed Node (issue 9, point 0), shortened: commands one after the
        other and two at a time, against a target blocked 600 ms of every 700."""
        target = spawn("blocked_loop.js", "--inspect-port=0", args=("600", "700"))
        for round_number in range(6):
            gc = run_memtui("gc", str(target.pid))
            assert gc.returncode == 0, gc.stderr
            pair = [start_memtui("record", str(target.pid), "--duration",
                                 str(1 + round_number % 2)) for _ in range(2)]
            for memtui in pair:
                _, err = memtui.communicate(timeout=30)
                assert memtui.returncode == 0, err
            assert target.alive(), target.lines[-5:]
        assert wait_until_inspector_closed(target.pid)


class TestFailures:
    async def test_a_failed_attach_after_sigusr1_closes_the_inspector_again(self, spawn,
                                                                            monkeypatch):
        target = spawn("idle.js", "--inspect-port=0")

        async def refuse(self: Session) -> None:
            raise MemtuiError("the probe could not be installed")

        monkeypatch.setattr(Session, "install_probe", refuse)
        with pytest.raises(MemtuiError, match="the probe could not be installed"):
            await Session.open(str(target.pid))
        assert "Debugger attached." in target.lines
        assert await asyncio.to_thread(wait_until_inspector_closed, target.pid)

    def test_the_live_view_detaches_when_it_fails(self, spawn):
        target = spawn("idle.js", "--inspect-port=0")
        program = (
            "import sys\n"
            "from memtui.ui.screens.monitor import MonitorScreen\n"
            "def broken(self): raise RuntimeError('a bug in the live view')\n"
            "MonitorScreen.action_pause = broken\n"
            "from memtui.cli import main\n"
            "sys.exit(main(sys.argv[1:]))\n")
        terminal = LiveTerminal(str(target.pid), program=program)
        try:
            terminal.wait_for("attached; sampling")
            terminal.press(b" ")
            assert terminal.wait_exit() == 1
        finally:
            terminal.close()
        shown = terminal.output.decode(errors="replace")
        assert "memtui: error: internal error: RuntimeError: a bug in the live view" in shown
        assert "Traceback" not in shown
        assert target.alive(), (target.proc.returncode, target.lines[-12:])
        assert wait_until_inspector_closed(target.pid)


class TestReconnecting:
    def test_an_inspector_the_program_moves_is_found_again(self, spawn):
        target = spawn("move_inspector.js")
        memtui = start_memtui("record", str(target.pid), "--interval", "0.2",
                              "--duration", "4")
        first_sample(memtui)
        target.send("move\n")
        target.wait_for_line("^moved ")
        out, err = memtui.communicate(timeout=30)
        assert memtui.returncode == 0, err
        assert "reconnected" in err
        assert len(jsonl(out)) >= 10

    def test_a_recording_that_ends_disconnected_is_a_failure(self, spawn):
        target = spawn("move_inspector.js")
        memtui = start_memtui("record", str(target.pid), "--interval", "0.2",
                              "--duration", "7")
        first_sample(memtui)
        target.send("close\n")
        _, err = memtui.communicate(timeout=30)
        assert memtui.returncode == 1, err
        assert "still reconnecting to pid" in err
        assert "memtui: error: the recording ended disconnected from pid" in err


SLOW_AFTER_SIGNALLING = (
    "import sys, time\n"
    "from memtui import attach, cli\n"
    "wait = attach._wait_for_inspector\n"
    "def slow(*args):\n"
    "    print('signalled', file=sys.stderr, flush=True)\n"
    "    time.sleep(0.5)\n"
    "    return wait(*args)\n"
    "attach._wait_for_inspector = slow\n"
    "sys.exit(cli.main(sys.argv[1:]))\n")
"""memtui, with the time between its SIGUSR1 and the inspector opening made longer, and
`signalled` on stderr when the signal has gone."""


class TestInterruptedAttach:
    """Ctrl-C between memtui's SIGUSR1 and the inspector opening: the inspector that opens
    after it is closed again."""

    @pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
    def test_record_closes_the_inspector_its_signal_opened(self, spawn, signum):
        target = spawn("idle.js")
        memtui = subprocess.Popen(
            [sys.executable, "-c", SLOW_AFTER_SIGNALLING, "record", str(target.pid)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            preexec_fn=default_sigint)
        try:
            assert memtui.stderr is not None
            assert memtui.stderr.readline() == "signalled\n"
            memtui.send_signal(signum)
            _, err = memtui.communicate(timeout=30)
        finally:
            if memtui.poll() is None:
                memtui.kill()
        assert "Traceback" not in err
        assert memtui.returncode == 0, err  # a record ends so when interrupted
        assert wait_until_inspector_closed(target.pid)
        assert target.alive()

    async def test_a_cancelled_session_open_closes_the_inspector(self, spawn, monkeypatch):
        target = spawn("idle.js")
        signalled = threading.Event()
        wait = attach._wait_for_inspector

        def slow(*args):
            signalled.set()
            time.sleep(0.3)
            return wait(*args)

        monkeypatch.setattr(attach, "_wait_for_inspector", slow)
        opening = asyncio.ensure_future(Session.open(str(target.pid)))
        assert await asyncio.to_thread(signalled.wait, 10)
        opening.cancel()
        with pytest.raises(asyncio.CancelledError):
            await opening
        assert wait_until_inspector_closed(target.pid)
        assert target.alive()


def test_a_recorded_address_is_said_in_every_headless_command(spawn, tmp_path):
    target = spawn("idle.js", "--inspect=127.0.0.1:0")
    port = target.inspector_port()
    for args in (("gc",), ("record", "--duration", "1"), ("snapshot", "-o", str(tmp_path))):
        result = run_memtui(args[0], str(target.pid), *args[1:])
        assert result.returncode == 0, result.stderr
        assert f"through its inspector at 127.0.0.1:{port} (already open, left open)" \
            in result.stderr, args



class TestClusterPrimary:
    def test_a_cluster_primary_is_refused_and_no_worker_inspector_opens(self, spawn):
        """SIGUSR1 to a cluster primary makes Node open each worker's inspector as well, where
        memtui would never close them: the primary is refused before any signal."""
        primary = spawn("cluster.js", f"--inspect-port={cluster_port(2)}", args=("2",))
        primary.wait_for_line("^ready$")
        result = run_memtui("record", str(primary.pid), "--duration", "1")
        assert result.returncode == 2, result.stderr
        assert result.stderr == (
            f"memtui: error: PID {primary.pid} is a cluster primary: SIGUSR1 would also open "
            "the inspectors of 2 of its workers (Node's cluster does so), which memtui could not "
            f"close (watch them together with `memtui --children {primary.pid}`, which opens "
            "the workers' inspectors first; or attach to the workers, or start the primary "
            "with --inspect)\n")
        workers = psutil.Process(primary.pid).children()
        assert len(workers) == 2
        for process in (primary.pid, *(worker.pid for worker in workers)):
            assert find_inspector_address(process) is None, process
        assert not [line for line in primary.lines if "Debugger listening" in line]

    @pytest.mark.parametrize("forked_until", ["started", "spawned"])
    async def test_a_worker_forked_as_the_primary_is_signalled_is_closed_again(
            self, spawn, monkeypatch, forked_until):
        """A worker forked between memtui's check of the primary's workers and its SIGUSR1
        has its inspector opened by Node's cluster too (at once when it runs its code by
        then, else when it comes online): memtui closes it again."""
        port = cluster_port(2)
        primary = spawn("cluster.js", f"--inspect-port={port}", args=("1", "open-workers"))
        primary.wait_for_line("^ready$")
        known = {worker.pid for worker in psutil.Process(primary.pid).children()}
        forked: list[int] = []
        check = attach._refuse_if_unbindable

        def fork_between_check_and_signal(*args) -> None:
            if not forked:
                primary.send("fork-closed\n")
                if forked_until == "started":
                    forked.append(int(primary.wait_for_line(r"^forked (\d+)$").group(1)))
                else:
                    forked.append(wait_for_new_worker(primary.pid, known))
            check(*args)

        monkeypatch.setattr(attach, "_refuse_if_unbindable", fork_between_check_and_signal)
        session = await Session.open(str(primary.pid))
        await session.close()

        primary.wait_for_line(rf"Debugger listening on ws://127\.0\.0\.1:{port + 2}/")
        assert wait_until_inspector_closed(forked[0])
        assert wait_until_inspector_closed(primary.pid)

    async def test_workers_forked_while_attached_get_the_ports_the_cluster_gives(self, spawn):
        """A primary started with --inspect-port=P gives its nth worker P+n, from its
        process.debugPort: memtui leaves the primary's inspector on P (moving it would make
        that an ephemeral port), so a worker forked meanwhile still gets P+n."""
        port = cluster_port(2)
        primary = spawn("cluster.js", f"--inspect-port={port}", args=("1", "open-workers"))
        primary.wait_for_line("^ready$")
        session = await Session.open(str(primary.pid))
        try:
            assert session.target.port == port
            primary.send("fork\n")
            forked = int(primary.wait_for_line(r"^forked (\d+)$").group(1))
            ports = [arg for arg in psutil.Process(forked).cmdline()
                     if arg.startswith("--inspect-port=")]
            assert ports[-1] == f"--inspect-port={port + 2}"
        finally:
            await session.close()
        assert wait_until_inspector_closed(primary.pid)

    def test_a_primary_whose_workers_inspectors_are_open_is_attached(self, spawn):
        """With every worker's inspector open, the primary's SIGUSR1 changes none of them:
        memtui attaches, and closes the primary's inspector only."""
        primary = spawn("cluster.js", f"--inspect-port={cluster_port(2)}",
                        args=("2", "open-workers"))
        primary.wait_for_line("^ready$")
        workers = [worker.pid for worker in psutil.Process(primary.pid).children()]
        opened = {pid: find_inspector_address(pid) for pid in workers}
        assert all(opened.values()), opened
        result = run_memtui("record", str(primary.pid), "--duration", "1")
        assert result.returncode == 0, result.stderr
        assert len(jsonl(result.stdout)) >= 1
        assert wait_until_inspector_closed(primary.pid)
        assert {pid: find_inspector_address(pid) for pid in workers} == opened
