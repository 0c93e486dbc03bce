"""Session: GC figures stay cumulative when the probe has to be installed again."""

import asyncio
import time

from memtui.session import PROBE_CALL, Session


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
