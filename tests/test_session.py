"""Session: GC figures stay cumulative when the probe has to be installed again; the PID
check comes before anything is installed."""

import asyncio
import time
from dataclasses import replace

import pytest

from memtui.attach import resolve_target
from memtui.errors import MemtuiError
from memtui.session import PROBE_CALL, Session
from tests.test_detach import probe_installed


async def test_gc_counts_continue_after_the_probe_is_reinstalled(spawn):
    target = spawn("leaky.js", "--inspect=127.0.0.1:0")
    session = await Session.open(f"127.0.0.1:{target.inspector_port()}")
    try:
        before = await session.read()
        deadline = time.monotonic() + 10
        while before.gc.minor == 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            before = await session.read()
        assert before.gc.minor > 0
        # What the probe does when every client has been silent too long: it removes itself.
        await session.inspector.evaluate(
            f"(() => {{ const p = {PROBE_CALL}; for (const c of p.clients.values()) c.lastSeen = 0;"
            " globalThis[Symbol.for('memtui.keeper')].check(); })()")
        after = await session.read()
        assert after.gc.minor >= before.gc.minor
        assert after.gc_pause_ms >= before.gc_pause_ms
        assert await session.inspector.evaluate(f"typeof {PROBE_CALL}") == "object"
    finally:
        await session.close()


async def test_the_pid_check_refuses_another_process_before_installing_anything(spawn):
    holder = spawn("idle.js", "--inspect=127.0.0.1:0")
    other = spawn("idle.js")
    mistaken = replace(resolve_target(str(holder.pid)), pid=other.pid)

    with pytest.raises(MemtuiError) as caught:
        await Session.open(mistaken)

    assert caught.value.message.endswith(f"belongs to pid {holder.pid}, not PID {other.pid}")
    assert not await asyncio.to_thread(probe_installed, holder.pid)
