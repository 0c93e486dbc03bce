"""Detach leaves nothing behind: probe removed, an inspector memtui opened is closed again."""

import asyncio
import signal
import time

import pytest

from memtui.attach import find_inspector_address, resolve_target
from memtui.inspector import Inspector
from tests.cli_helpers import jsonl, run_memtui, start_memtui, wait_until_inspector_closed


def probe_installed(pid: int) -> bool:
    async def check() -> bool:
        target = resolve_target(str(pid))
        inspector = await Inspector.connect(target.ws_url, namespace=target.netns)
        try:
            return await inspector.evaluate("typeof globalThis[Symbol.for('memtui.probe')]") \
                != "undefined"
        finally:
            await inspector.close()

    return asyncio.run(check())


def test_inspector_opened_by_memtui_is_closed_again(node, spawn):
    target = spawn("idle.js", "--inspect-port=0", node=node)
    assert find_inspector_address(target.pid) is None
    result = run_memtui("record", str(target.pid), "--duration", "5")
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 5
    assert target.alive()
    assert wait_until_inspector_closed(target.pid)
    target.wait_for_line("Debugger ending")


def test_inspector_that_was_already_open_stays_open_without_the_probe(node, spawn):
    target = spawn("idle.js", "--inspect=127.0.0.1:0", node=node)
    port = target.inspector_port()
    result = run_memtui("record", str(target.pid), "--duration", "1")
    assert result.returncode == 0, result.stderr
    assert find_inspector_address(target.pid)[1] == port
    assert not probe_installed(target.pid)


def test_keep_inspector_leaves_the_opened_inspector_open(spawn):
    target = spawn("idle.js", "--inspect-port=0", inspector_may_stay_open=True)
    result = run_memtui("gc", str(target.pid), "--keep-inspector")
    assert result.returncode == 0, result.stderr
    assert find_inspector_address(target.pid) is not None
    assert not probe_installed(target.pid)


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP],
                         ids=["ctrl-c", "sigterm", "sighup"])
def test_interrupted_record_detaches_cleanly(spawn, stop):
    target = spawn("idle.js", "--inspect-port=0")
    memtui = start_memtui("record", str(target.pid), "--interval", "0.2")
    assert memtui.stdout.readline().startswith("{")
    memtui.send_signal(stop)
    _, err = memtui.communicate(timeout=20)
    assert memtui.returncode == 0, err
    assert "Traceback" not in err
    assert target.alive()
    assert wait_until_inspector_closed(target.pid)


def test_the_last_memtui_to_leave_closes_the_inspector_another_one_opened(spawn):
    target = spawn("idle.js", "--inspect-port=0")
    opener = start_memtui("record", str(target.pid), "--interval", "0.2")
    assert opener.stdout.readline().startswith("{")
    joiner = start_memtui("record", str(target.pid), "--interval", "0.2", "--duration", "3")
    assert joiner.stdout.readline().startswith("{")
    opener.send_signal(signal.SIGINT)
    assert opener.wait(timeout=20) == 0
    opener_left = time.time()
    assert find_inspector_address(target.pid) is not None
    out, err = joiner.communicate(timeout=20)
    assert joiner.returncode == 0, err
    assert "lost" not in err
    assert sum(sample["t"] > opener_left for sample in jsonl(out)) >= 5
    assert wait_until_inspector_closed(target.pid)
