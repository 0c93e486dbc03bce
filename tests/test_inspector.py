"""The CDP client against a real Node inspector."""

import asyncio

import pytest

from memtui.errors import MemtuiError
from memtui.inspector import Inspector, InspectorClosed, ProtocolError


@pytest.fixture
def target(spawn):
    return spawn("idle.js", "--inspect=127.0.0.1:0")


@pytest.fixture
async def inspector(target):
    """A client connected to the target's inspector, closed after the test."""
    client = await Inspector.connect(target.wait_for_line(r"(ws://\S+)").group(1))
    yield client
    await client.close()


async def test_evaluate_returns_json_values(target, inspector):
    assert await inspector.evaluate("({pid: process.pid, list: [1, 'a']})") == {
        "pid": target.pid, "list": [1, "a"]}


async def test_protocol_errors_name_the_method(inspector):
    with pytest.raises(ProtocolError, match=r"No\.Such"):
        await inspector.send("No.Such")
    with pytest.raises(MemtuiError, match="evaluation in the target failed: Error: boom"):
        await inspector.evaluate("throw new Error('boom')")


async def test_events_reach_subscribers_until_unsubscribed(inspector):
    seen = asyncio.Queue()
    unsubscribe = inspector.on("Runtime.consoleAPICalled", seen.put_nowait)
    await inspector.send("Runtime.enable")
    await inspector.evaluate("console.log('hello from the target')")
    texts = []
    while "hello from the target" not in texts:
        texts.append((await asyncio.wait_for(seen.get(), 5))["args"][0]["value"])
    unsubscribe()
    await inspector.evaluate("console.log('again')")
    await inspector.evaluate("1")
    assert seen.empty()


async def test_per_call_timeout_names_the_method(inspector):
    with pytest.raises(MemtuiError, match=r"did not answer Runtime\.evaluate within 0\.3s"):
        await inspector.evaluate("{ const end = Date.now() + 1500; while (Date.now() < end); }",
                                 timeout=0.3)


async def test_pending_calls_fail_when_the_target_dies(target, inspector):
    pending = asyncio.ensure_future(
        inspector.evaluate("{ const end = Date.now() + 30000; while (Date.now() < end); }",
                           timeout=None))
    await asyncio.sleep(0)
    target.kill()
    with pytest.raises(InspectorClosed):
        await asyncio.wait_for(pending, 10)
    with pytest.raises(InspectorClosed):
        await inspector.send("Runtime.evaluate", {"expression": "1"})


async def test_connecting_to_a_closed_port_is_a_clear_error():
    with pytest.raises(MemtuiError, match="cannot connect to the inspector"):
        await Inspector.connect("ws://127.0.0.1:9/none", timeout=2)
