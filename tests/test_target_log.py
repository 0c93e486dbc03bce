"""What memtui's attaching writes to the target's stderr: Node's inspector lines, once per
command however many samples it takes (issue 10.8; README, "What attaching writes to the
target's log")."""

import re
import time

import pytest

from tests.cli_helpers import jsonl, run_memtui, wait_until_inspector_closed
from tests.live_terminal import LiveTerminal
from tests.test_attach import free_port

OPENED = ["Debugger listening on ws://", "For help, see: https://nodejs.org/",
          "Debugger attached."]
LEFT = ["Debugger ending on ws://", "For help, see: https://nodejs.org/"]


def assert_one_session(target) -> None:
    """The inspector opened once and one client attached; `Debugger ending` (the last client
    leaving) is written unless memtui's close of the inspector came first."""
    lines = [line for line in target.all_lines() if re.match(r"(Debugger|For help)", line)]
    assert len(lines) in (len(OPENED), len(OPENED) + len(LEFT)), lines
    for line, start in zip(lines, OPENED + LEFT, strict=False):
        assert line.startswith(start), lines


@pytest.mark.parametrize("command", ["gc", "snapshot", "record"])
def test_each_command_attaches_once(node, spawn, tmp_path, command):
    target = spawn("idle.js", "--inspect-port=0", node=node)
    extra = {"gc": (), "snapshot": ("-o", str(tmp_path / "s.heapsnapshot")),
             "record": ("--interval", "0.1", "--duration", "1.5")}[command]
    result = run_memtui(command, str(target.pid), *extra)
    assert result.returncode == 0, result.stderr
    if command == "record":
        assert len(jsonl(result.stdout)) >= 5
    assert wait_until_inspector_closed(target.pid)
    assert_one_session(target)


def test_the_live_view_attaches_once(spawn):
    target = spawn("idle.js", "--inspect-port=0")
    terminal = LiveTerminal(str(target.pid), "--interval", "0.2")
    try:
        terminal.wait_for("attached; sampling")
        terminal.press(b"d")
        terminal.wait_for("No snapshots yet")
        terminal.press(b"q")
        assert terminal.wait_exit() == 0
    finally:
        terminal.close()
    assert wait_until_inspector_closed(target.pid)
    assert_one_session(target)


def test_an_open_inspector_logs_three_lines_per_attach(spawn):
    """Node writes `Debugger ending on` when its last client leaves, not when it closes."""
    target = spawn("idle.js", "--inspect=127.0.0.1:0")
    target.inspector_port()
    for attaches in (1, 2):
        assert run_memtui("gc", str(target.pid)).returncode == 0
        wait_for_lines(target, "For help, see: ", 1 + attaches)
    lines = [line for line in target.lines if re.match(r"(Debugger|For help)", line)]
    assert [line.split(" on ws://")[0].split(": https")[0] for line in lines] == [
        "Debugger listening", "For help, see",
        "Debugger attached.", "Debugger ending", "For help, see",
        "Debugger attached.", "Debugger ending", "For help, see"]


def test_an_inspector_moved_off_its_port_logs_two_sessions(spawn):
    """On a configured port (9229 unless set), memtui moves the inspector to an ephemeral
    port: two openings, one client each (README: ten lines)."""
    port = free_port()
    target = spawn("idle.js", f"--inspect-port={port}")
    assert run_memtui("gc", str(target.pid)).returncode == 0
    assert wait_until_inspector_closed(target.pid)
    wait_for_lines(target, "Debugger attached.", 2)
    listening = [line for line in target.lines if line.startswith("Debugger listening on")]
    assert len(listening) == 2, target.lines
    assert f"127.0.0.1:{port}/" in listening[0]
    assert f":{port}/" not in listening[1]
    assert sum(line.startswith("Debugger attached.") for line in target.lines) == 2


def wait_for_lines(target, start: str, count: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while sum(line.startswith(start) for line in target.lines) < count:
        assert time.monotonic() < deadline, target.lines
        time.sleep(0.05)
