"""The live view, on a terminal of its own, always detaches on its way out: `q`, Ctrl+C,
Ctrl+Q, SIGTERM, SIGHUP, and the terminal hanging up as when an SSH connection drops."""

from __future__ import annotations

import signal

import psutil
import pytest

from memtui.attach import find_inspector_address
from tests.cli_helpers import wait_until_inspector_closed
from tests.live_terminal import LiveTerminal

WAYS_OUT = {
    "q": lambda terminal: terminal.press(b"q"),
    "ctrl-c": lambda terminal: terminal.press(b"\x03"),
    "ctrl-q": lambda terminal: terminal.press(b"\x11"),
    "sigterm": lambda terminal: terminal.process.send_signal(signal.SIGTERM),
    "sighup": lambda terminal: terminal.process.send_signal(signal.SIGHUP),
    "hang-up": lambda terminal: terminal.hang_up(),
}


@pytest.mark.parametrize("way_out", WAYS_OUT)
def test_every_way_out_closes_the_inspector_memtui_opened(spawn, way_out):
    target = spawn("idle.js", "--inspect-port=0")
    terminal = LiveTerminal(str(target.pid))
    try:
        terminal.wait_for("attached; sampling")
        assert find_inspector_address(target.pid) is not None
        WAYS_OUT[way_out](terminal)
        assert terminal.wait_exit() == 0
    finally:
        terminal.close()
    if way_out != "hang-up":
        assert b"memtui: detached from pid" in terminal.output
    assert target.alive()
    assert wait_until_inspector_closed(target.pid)


@pytest.mark.parametrize("way_out", ["hang-up", "sigkill"])
def test_the_demo_app_ends_with_memtui(way_out):
    terminal = LiveTerminal("demo")
    demo: list[psutil.Process] = []
    try:
        terminal.wait_for("attached; sampling")
        demo = psutil.Process(terminal.process.pid).children()
        assert [p.name() for p in demo] == ["node"]
        if way_out == "hang-up":
            terminal.hang_up()
            assert terminal.wait_exit() == 0
        else:
            terminal.process.kill()
        assert psutil.wait_procs(demo, timeout=10)[1] == []
    finally:
        terminal.close()
        for process in demo:
            if process.is_running():
                process.kill()


def test_the_overview_closes_every_inspector_memtui_opened_on_a_hang_up(spawn):
    """The way out an SSH session's end takes; the overview's other ways out are the same
    App code as the single view's, tested above."""
    targets = [spawn("idle.js", "--inspect-port=0") for _ in range(2)]
    terminal = LiveTerminal(*(str(target.pid) for target in targets), columns=80, rows=24)
    try:
        terminal.wait_for("2 processes (the processes given)")
        for target in targets:
            target.wait_for_line("Debugger attached")
        terminal.hang_up()
        assert terminal.wait_exit() == 0
    finally:
        terminal.close()
    for target in targets:
        assert target.alive()
        assert wait_until_inspector_closed(target.pid)
