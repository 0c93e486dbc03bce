"""Following a service across a restart (issue 11, point 4): when the target exits,
`--follow` (or `f` in the live view) attaches to the process that replaced it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator

import psutil
import pytest

from memtui.successor import Lineage, group_of
from tests.cli_helpers import jsonl, run_memtui, start_memtui, wait_until_inspector_closed
from tests.live_terminal import LiveTerminal
from tests.nodeproc import NodeProcess


class StderrLines:
    """The lines a running memtui writes to stderr, read as they come."""

    def __init__(self, process: subprocess.Popen):
        self.process = process
        self.lines: list[str] = []

    def wait_for(self, text: str) -> None:
        while not any(text in line for line in self.lines):
            line = self.process.stderr.readline()
            assert line, f"{text!r} never said; stderr: {self.lines}"
            self.lines.append(line.rstrip("\n"))


def wait_for_samples(path, count: int, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not (path.exists() and len(jsonl(path.read_text())) >= count):
        assert time.monotonic() < deadline, f"fewer than {count} samples in {path}"
        time.sleep(0.05)


@contextlib.contextmanager
def recording_until_the_exit(old: NodeProcess, out,
                             duration: str) -> Iterator[tuple[subprocess.Popen, StderrLines]]:
    """`memtui record OLD --follow` until it has samples, then OLD killed; yields once memtui
    waits for a successor, and kills memtui if it still runs after the block."""
    memtui = start_memtui("record", str(old.pid), "--follow", "--interval", "0.2",
                          "--duration", duration, "-o", str(out))
    stderr = StderrLines(memtui)
    try:
        stderr.wait_for("attached to pid")
        wait_for_samples(out, 1)
        old.kill()
        stderr.wait_for("waiting for its successor")
        yield memtui, stderr
        memtui.wait(30)
    finally:
        memtui.kill()
        memtui.wait()


def test_record_follows_the_process_that_replaced_the_target(spawn, tmp_path):
    service = ("--service", tmp_path.name)
    old = spawn("idle.js", args=service)
    out = tmp_path / "samples.jsonl"
    with recording_until_the_exit(old, out, "6") as (memtui, stderr):
        new = spawn("idle.js", args=service)
        stderr.wait_for(f"restarted: pid {old.pid} -> {new.pid}")
    assert memtui.returncode == 0, stderr.lines + memtui.stderr.read().splitlines()
    pids = [row["pid"] for row in jsonl(out.read_text())]
    assert pids[0] == old.pid and pids[-1] == new.pid
    assert pids == sorted(pids, key=[old.pid, new.pid].index), "one run, then the other"
    assert new.alive()


def test_a_process_of_another_command_is_not_followed(spawn, tmp_path):
    if group_of(os.getpid()) is not None:
        pytest.skip(f"the tests run in {group_of(os.getpid())}, where every process is kin "
                    "to every other")
    old = spawn("idle.js", args=("--service", f"a-{tmp_path.name}"))
    with recording_until_the_exit(old, tmp_path / "samples.jsonl", "3") as (memtui, _):
        stranger = spawn("idle.js", args=("--service", f"b-{tmp_path.name}"))
    assert memtui.returncode == 1
    assert (f"the recording ended waiting for the successor of pid {old.pid}"
            in memtui.stderr.read())
    assert not any("Debugger" in line for line in stranger.all_lines())


def test_follow_needs_a_pid():
    result = run_memtui("record", "127.0.0.1:9", "--follow")
    assert result.returncode == 2
    assert "--follow needs a PID" in result.stderr
    assert "Traceback" not in result.stderr


def test_kinship_needs_the_same_user_and_the_same_service_or_command():
    old = Lineage(uid=1000, group="unit api.service", command=("node", "a.js"),
                  exe="/usr/bin/node", cwd="/srv/api")
    assert old.kinship(old) == 2
    assert old.kinship(Lineage(1000, "unit api.service", ("node", "b.js"), "/usr/bin/node",
                               "/srv/api")) == 1
    assert old.kinship(Lineage(1000, None, ("node", "a.js"), "/usr/bin/node", "/srv/api")) == 1
    assert old.kinship(Lineage(1000, None, ("node", "a.js"), "/usr/bin/node", "/srv")) == 0
    assert old.kinship(Lineage(0, "unit api.service", ("node", "a.js"), "/usr/bin/node",
                               "/srv/api")) == 0


def test_the_live_view_offers_to_follow_the_successor(spawn, tmp_path):
    service = ("--service", tmp_path.name)
    old = spawn("idle.js", args=service)
    terminal = LiveTerminal(str(old.pid), "--interval", "0.2")
    try:
        terminal.wait_for("attached; sampling")
        old.kill()
        terminal.wait_for("f follows its successor")
        terminal.press(b"f")
        terminal.wait_for("waiting for the successor")
        new = spawn("idle.js", args=service)
        terminal.wait_for(f"restarted: pid {old.pid} -> {new.pid}")
        terminal.wait_for(f"pid {new.pid}")
        terminal.press(b"q")
        assert terminal.wait_exit() == 0
    finally:
        terminal.close()
    assert new.alive()


def test_the_live_view_follows_a_target_its_supervisor_restarts(spawn, tmp_path):
    """A supervisor script (a shell loop) restarts the program as soon as it exits, before
    memtui has noticed the exit."""
    supervisor = spawn("idle.js", args=("--service", tmp_path.name),
                       wrapper=("sh", "-c", 'while :; do "$@"; done', "supervisor"))
    old = psutil.Process(supervisor.pid).children()[0].pid
    terminal = LiveTerminal(str(old), "--follow", "--interval", "0.2")
    try:
        terminal.wait_for("attached; sampling")
        os.kill(old, signal.SIGKILL)
        terminal.wait_for(f"restarted: pid {old} -> ")
        new = next(child.pid for child in psutil.Process(supervisor.pid).children()
                   if child.pid != old)
        terminal.wait_for(f"pid {new}")
        terminal.press(b"q")
        assert terminal.wait_exit() == 0
    finally:
        terminal.close()
    assert wait_until_inspector_closed(new)
