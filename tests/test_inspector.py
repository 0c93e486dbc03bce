"""The CDP client against a real Node inspector."""

import asyncio
import json
import time

import psutil
import pytest
import websockets

from memtui.errors import MemtuiError
from memtui.inspector import DispatchError, Inspector, InspectorClosed, ProtocolError
from tests.nodeproc import NodeProcess


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


async def test_a_cancel_meeting_the_reply_is_not_swallowed(inspector):
    """The caller is cancelled in the loop iteration its reply arrives in (Ctrl-C as
    HeapProfiler.enable returned): the call raises CancelledError, not the reply (Python
    3.11's asyncio.wait_for returned the reply, and `memtui snapshot` went on to capture)."""
    call = asyncio.ensure_future(inspector.evaluate("1 + 1"))
    while not inspector._pending:
        await asyncio.sleep(0)
    (_, reply), = inspector._pending.values()
    reply.set_result({"result": {"value": 2}})  # as the reader does when the reply comes
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert await inspector.evaluate("2 + 2") == 4


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


async def test_a_failing_event_handler_is_raised_by_the_next_call_and_the_reader_goes_on(
        inspector):
    def broken(params: dict) -> None:
        raise KeyError("chunk")

    inspector.on("Runtime.executionContextCreated", broken)
    await inspector.send("Runtime.enable")
    with pytest.raises(DispatchError, match=r"Runtime\.executionContextCreated failed: KeyError"):
        await inspector.evaluate("1")
    assert await inspector.evaluate("2") == 2
    await inspector.send("Runtime.disable")


async def test_a_frame_that_is_not_json_is_reported_not_fatal(unused_tcp_port):
    """memtui's own logic: no Node sends such a frame, so a fake server does."""

    async def serve(connection: websockets.ServerConnection) -> None:
        async for message in connection:
            request = json.loads(message)
            await connection.send("{not json")
            await connection.send(json.dumps({"id": request["id"], "result": {}}))

    async with websockets.serve(serve, "127.0.0.1", unused_tcp_port):
        client = await Inspector.connect(f"ws://127.0.0.1:{unused_tcp_port}/x")
        try:
            assert await client.send("A.first") == {}
            with pytest.raises(DispatchError, match="not JSON"):
                await client.send("A.second")
            assert await client.send("A.third") == {}
        finally:
            await client.close()


async def test_close_sends_no_close_frame(unused_tcp_port):
    """A close frame crossing Node's own can crash Node (DESIGN.md): memtui drops the TCP
    connection instead, on its own close and on the server's."""
    seen: list[int | None] = []

    async def serve(connection: websockets.ServerConnection) -> None:
        try:
            async for _ in connection:
                pass
        finally:
            close = connection.protocol.close_rcvd
            seen.append(None if close is None else close.code)

    async with websockets.serve(serve, "127.0.0.1", unused_tcp_port):
        client = await Inspector.connect(f"ws://127.0.0.1:{unused_tcp_port}/x")
        await client.close()
        deadline = asyncio.get_running_loop().time() + 5
        while not seen and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.02)
    assert seen == [None]


async def test_close_waits_for_a_snapshot_given_up_to_end(spawn):
    """Node's inspector thread crashes (SIGSEGV) when a client drops its connection while
    the target writes to it, as it does while it sends a snapshot: 1 of 50 Ctrl-Cs in the
    first second of a snapshot killed the target. A snapshot given up is read to its end
    before the connection is dropped: every chunk arrives, and the target lives."""
    target = spawn("big_heap.js", "--inspect=127.0.0.1:0", args=("300000",))
    client = await Inspector.connect(target.wait_for_line(r"(ws://\S+)").group(1))
    chunks: list[str] = []
    first = asyncio.Event()

    def on_chunk(params: dict) -> None:
        chunks.append(params["chunk"])
        first.set()

    client.on("HeapProfiler.addHeapSnapshotChunk", on_chunk)
    await client.send("HeapProfiler.enable")
    capture = asyncio.ensure_future(client.send("HeapProfiler.takeHeapSnapshot", timeout=None))
    await asyncio.wait_for(first.wait(), 60)
    capture.cancel()
    await client.close()
    snapshot = json.loads("".join(chunks))
    assert snapshot["snapshot"]["node_count"] > 300_000
    assert target.alive()


async def building_a_snapshot(target: NodeProcess
                              ) -> tuple[Inspector, asyncio.Future, list[str]]:
    """A connection to `target` that reads its CPU time, the snapshot asked for on it once V8
    has begun to build it, and the chunks of it received so far."""
    client = await Inspector.connect(target.wait_for_line(r"(ws://\S+)").group(1))
    process = psutil.Process(target.pid)
    client.target_cpu_s = lambda: sum(process.cpu_times()[:2])
    chunks: list[str] = []
    building = asyncio.Event()
    client.on("HeapProfiler.addHeapSnapshotChunk", lambda params: chunks.append(params["chunk"]))
    client.on("HeapProfiler.reportHeapSnapshotProgress", lambda _: building.set())
    await client.send("HeapProfiler.enable")
    capture = asyncio.ensure_future(client.send("HeapProfiler.takeHeapSnapshot",
                                                {"reportProgress": True}, timeout=None))
    await asyncio.wait_for(building.wait(), 60)
    return client, capture, chunks


async def test_a_snapshot_stream_silent_while_the_target_works_is_waited_for(spawn):
    """V8 sends nothing for seconds while it collects garbage and builds a big heap's
    snapshot (5.8 s for 1.5 M objects on an idle machine): on a busy machine, a Ctrl+C in
    the live view dropped the connection after 5 s of silence, while the target still built
    it. A target that works (uses CPU) is waited for, however long it is silent (here the
    300,000-object heap's silences of 0.4-1.2 s are ten times the allowed one)."""
    target = spawn("big_heap.js", "--inspect=127.0.0.1:0", args=("300000",))
    client, capture, chunks = await building_a_snapshot(target)
    capture.cancel()
    assert await client.streams_ended(silence_s=0.1)
    await client.close()
    snapshot = json.loads("".join(chunks))
    assert snapshot["snapshot"]["node_count"] > 300_000
    assert target.alive()


async def test_a_stream_of_a_stopped_target_is_given_up_once(spawn):
    """A stopped target neither sends nor works: the first wait gives up after the silence,
    and the later ones of the same detach (the app's, the monitor's, the connection's) at
    once, until the target is heard again."""
    target = spawn("big_heap.js", "--inspect=127.0.0.1:0", args=("300000",))
    client, capture, _ = await building_a_snapshot(target)
    process = psutil.Process(target.pid)
    process.suspend()
    try:
        started = time.monotonic()
        assert not await client.streams_ended(silence_s=0.3)
        first = time.monotonic() - started
        assert not await client.streams_ended(silence_s=0.3)
        second = time.monotonic() - started - first
    finally:
        process.resume()
    assert first >= 0.3 and second < 0.1, (first, second)
    await asyncio.wait_for(capture, 60)
    assert await client.streams_ended(silence_s=0.3)
    await client.close()
    assert target.alive()
