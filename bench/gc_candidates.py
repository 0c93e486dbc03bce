"""Issue 15: the ways of counting a target's GCs, side by side, as share of its main thread.

For each candidate (bench/gc_candidates.js, plus NodeTracing driven from here over CDP), a
fresh bench/alloc_workload.js process runs with --perf-prof and its inspector open; after
a warm-up, `perf record` samples it for --control seconds with nothing installed, then for
--seconds with the candidate installed and read once per --interval through Runtime.evaluate,
as memtui reads its probe. The share is the main thread's samples whose stack is the
candidate's work (watch_overhead.py's attribution, with the frames of each mechanism), with a
t interval over 10 time blocks. Then, in the same process, a gc PerformanceObserver and the
candidate run side by side for --accuracy seconds: the collections it counted against the
observer's, and the workload's collection rate, from which the cost per collection comes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import sys
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from benchlib import BENCH, REPO, WORK, fail, load_average, machine_line, print_table
from watch_overhead import (
    ATTRIBUTION_BLOCKS,
    MEMTUI_FRAMES,
    PERF_HZ,
    FrameKinds,
    Interval,
    attributed_share,
    perf_stacks,
    perf_usable,
    remove_perf_files,
)

sys.path.insert(0, str(REPO))
from memtui.inspector import Inspector, ProtocolError
from tests.nodeproc import LISTENING, NodeProcess

CANDIDATES = ("none", "observer", "duty", "sentinels", "weakref", "gcprofiler", "nodetracing",
              "eld", "probe")
CANDIDATE_FRAMES: FrameKinds = (
    ("event-loop delay", re.compile(r"node::IntervalHistogram|node::Histogram::|hdr_")),
    ("weak-ref cleanup", re.compile(r"FinalizationRegistryCleanupTask|JSFinalizationRegistry")),
    ("GC profiler", re.compile(r"node::v8_utils::")),
    ("tracing", re.compile(r"node::tracing::|v8::platform::tracing::")),
    *MEMTUI_FRAMES,
)
SOURCE = (BENCH / "gc_candidates.js").read_text(encoding="utf-8")
PROBE = (REPO / "memtui" / "probe.js").read_text(encoding="utf-8")
PROBE_CLIENT = "gc-candidates"
# memtui's probe as a candidate: its calls, and its reading put as the other candidates' counts
# since the previous read (its counts are cumulative).
PROBE_CALLS = {
    "install": f"({PROBE})(require, 'install', '{PROBE_CLIENT}', 1)",
    "uninstall": f"({PROBE})(require, 'uninstall', '{PROBE_CLIENT}')",
    "read": f"""(() => {{
  const answer = globalThis[Symbol.for('memtui.probe')].sample('{PROBE_CLIENT}');
  if (!answer.ok) return answer;
  const r = answer.reading;
  const key = Symbol.for('memtui.gc-candidate.last');
  const last = globalThis[key] || {{ gc: {{ minor: 0, major: 0, incremental: 0, weakcb: 0 }},
                                      pause: 0 }};
  globalThis[key] = {{ gc: r.gc, pause: r.gc_pause_ms }};
  const counts = {{ pause_ms: r.gc_pause_ms - last.pause, baselines: r.heap_after_gc.length,
                   estimated: Object.values(r.gc_estimated).some(Boolean) ? 1 : 0 }};
  for (const k of Object.keys(r.gc)) counts[k] = r.gc[k] - last.gc[k];
  if (r.eld_max_ms !== null) counts.eld_max_ms = r.eld_max_ms;
  return {{ ok: true, counts }};
}})()""",
}
KINDS = ("minor", "major", "incremental", "weakcb")
TRACE_CATEGORIES = ["v8"]
TRACE_START_TRIES = 50
TRACE_START_RETRY_S = 0.02
TRACE_KINDS = {"V8.GCScavenger": "minor", "V8.GCFinalizeMC": "major",
               "V8.GCFinalizeMCReduceMemory": "major", "V8.GCCompactor": "major",
               "V8.GCIncrementalMarkingStart": "incremental"}


def call(candidate: str, action: str) -> str:
    """The expression that runs `action` of `candidate` in the target (NodeTracing has no
    in-target part: its reads are those of an empty sample)."""
    if candidate == "probe":
        return PROBE_CALLS[action]
    script = "none" if candidate == "nodetracing" else candidate
    return f"({SOURCE})(require, {json.dumps(action)}, {json.dumps(script)})"


@dataclass
class Tracing:
    """NodeTracing restarted each interval: the GC events it delivered, by kind."""

    counts: Counter = field(default_factory=Counter)
    pause_us: float = 0.0
    complete: asyncio.Event = field(default_factory=asyncio.Event)

    def on_data(self, params: dict) -> None:
        for event in params.get("value", ()):
            kind = TRACE_KINDS.get(event.get("name", ""))
            if kind and event.get("ph") == "X":
                self.counts[kind] += 1
                self.pause_us += event.get("dur", 0)

    async def restart(self, inspector: Inspector, start: bool = True) -> None:
        """Stop, wait for its data, then start again (Node 20 refuses a start before the stop's
        answer: "Call NodeTracing::end to stop tracing before updating the config"), missing
        the collections of that round trip."""
        self.complete.clear()
        await inspector.send("NodeTracing.stop")
        await asyncio.wait_for(self.complete.wait(), 10)
        if start:
            await self.start(inspector)

    async def start(self, inspector: Inspector) -> None:
        """Start, trying again while Node still ends the previous tracing (Node 20 refuses a
        start for some milliseconds after the stop's data arrived)."""
        for _ in range(TRACE_START_TRIES - 1):
            try:
                await self._start(inspector)
                return
            except ProtocolError as error:
                if "NodeTracing::end" not in str(error):
                    raise
                await asyncio.sleep(TRACE_START_RETRY_S)
        await self._start(inspector)

    @staticmethod
    async def _start(inspector: Inspector) -> None:
        await inspector.send("NodeTracing.start",
                             {"traceConfig": {"includedCategories": TRACE_CATEGORIES}})


@dataclass(frozen=True)
class Result:
    candidate: str
    share: Interval
    control: Interval
    main_samples: int
    memtui_samples: int
    frames: list[tuple[str, int]]
    counted: dict[str, float]
    reference: dict[str, float]
    gc_per_s: float
    threads_before: int
    threads_after: int
    load: str
    seconds: float

    @property
    def us_per_collection(self) -> float:
        """The main thread's CPU time spent on the candidate per collection: its samples (one
        per 1/PERF_HZ s of CPU) over the collections of the measured seconds, at the accuracy
        phase's rate. Unlike the share per wall-clock collection rate, it does not grow with
        the machine's load."""
        collections = self.gc_per_s * self.seconds
        return self.memtui_samples * 1e6 / PERF_HZ / collections if collections else float("nan")


class Target:
    """A fresh alloc_workload.js with its inspector open on a port Node chose."""

    def __init__(self, node: str, seconds: float):
        self.process = NodeProcess([node, "--inspect=127.0.0.1:0", "--perf-prof",
                                    str(BENCH / "alloc_workload.js"), str(seconds), "1000"],
                                   cwd=str(WORK))
        port = int(self.process.wait_for_line(LISTENING.pattern).group(2))
        self.process.wait_for_line("^ready$")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as reply:
            self.ws_url = json.loads(reply.read())[0]["webSocketDebuggerUrl"]

    def threads(self) -> int:
        return len(list(Path(f"/proc/{self.process.pid}/task").iterdir()))

    def close(self) -> None:
        self.process.kill()
        remove_perf_files(self.process.pid)


async def reading_loop(inspector: Inspector, candidate: str, interval: float,
                       stop: asyncio.Event, tracing: Tracing | None) -> dict[str, float]:
    """Read the candidate once per interval until `stop`; its counts summed, its loop delays
    the highest read."""
    total: Counter = Counter()
    while not stop.is_set():
        with_timeout = asyncio.ensure_future(stop.wait())
        await asyncio.wait({with_timeout}, timeout=interval)
        with_timeout.cancel()
        answer = await inspector.evaluate(call(candidate, "read"), command_line_api=True)
        if not answer or not answer.get("ok"):
            fail(f"{candidate}: read failed: {answer}")
        for key, value in answer["counts"].items():
            if key.startswith("eld_"):
                total[key] = max(total[key], value or 0)
            elif isinstance(value, int | float):
                total[key] += value
        if tracing is not None:
            await tracing.restart(inspector, start=not stop.is_set())
    return dict(total)


async def measure(node: str, candidate: str, args: argparse.Namespace) -> Result:
    target = Target(node, args.warmup + args.control + args.seconds + args.accuracy + 60)
    try:
        await asyncio.sleep(args.warmup)
        control = await asyncio.to_thread(perf_stacks, target.process.pid, args.control,
                                          CANDIDATE_FRAMES)
        threads_before = target.threads()
        inspector = await Inspector.connect(target.ws_url)
        tracing = Tracing() if candidate == "nodetracing" else None
        if tracing:
            inspector.on("NodeTracing.dataCollected", tracing.on_data)
            inspector.on("NodeTracing.tracingComplete", lambda _: tracing.complete.set())
            await tracing.start(inspector)
        answer = await inspector.evaluate(call(candidate, "install"), command_line_api=True)
        if not answer or not answer.get("ok"):
            fail(f"{candidate}: install failed: {answer}")
        stop = asyncio.Event()
        loop = asyncio.ensure_future(reading_loop(inspector, candidate, args.interval, stop,
                                                  tracing))
        watched = await asyncio.to_thread(perf_stacks, target.process.pid, args.seconds,
                                          CANDIDATE_FRAMES)
        load = load_average()
        stop.set()
        await loop
        counted, reference = await accuracy(inspector, candidate, args, tracing)
        await inspector.evaluate(call(candidate, "uninstall"), command_line_api=True)
        await inspector.close()
        time.sleep(0.5)
        threads_after = target.threads()
    finally:
        target.close()
    main_tid = target.process.pid
    share, count = attributed_share(watched, main_tid)
    control_share, _ = attributed_share(control, main_tid)
    main = [s for s in watched if s.tid == main_tid]
    frames = Counter(s.frame for s in main if s.is_memtui).most_common(3)
    return Result(candidate, share, control_share, count, sum(s.is_memtui for s in main),
                  frames, counted, reference, reference["gc_per_s"], threads_before,
                  threads_after, load, args.seconds)


REFERENCE = """(() => {
  const key = Symbol.for('memtui.gc-reference');
  if (globalThis[key]) { const r = globalThis[key]; r.observer.disconnect(); delete globalThis[key];
    return Object.assign({}, r.counts, {seconds: (Date.now() - r.started) / 1000}); }
  const kinds = {1: 'minor', 2: 'minor', 4: 'major', 8: 'incremental', 16: 'weakcb'};
  const r = {counts: {minor: 0, major: 0, incremental: 0, weakcb: 0, pause_ms: 0},
             started: Date.now()};
  r.observer = new (require('perf_hooks').PerformanceObserver)((list) => {
    for (const e of list.getEntries()) { r.counts[kinds[e.detail.kind]] += 1;
      r.counts.pause_ms += e.duration; } });
  r.observer.observe({entryTypes: ['gc']});
  globalThis[key] = r;
  return true; })()"""


async def accuracy(inspector: Inspector, candidate: str, args: argparse.Namespace,
                   tracing: Tracing | None) -> tuple[dict[str, float], dict[str, float]]:
    """The candidate's counts against a gc PerformanceObserver's, over the same seconds."""
    await inspector.evaluate(call(candidate, "read"), command_line_api=True)
    if tracing:
        tracing.counts.clear()
        tracing.pause_us = 0
        await tracing.start(inspector)
    await inspector.evaluate(REFERENCE, command_line_api=True)
    stop = asyncio.Event()
    loop = asyncio.ensure_future(reading_loop(inspector, candidate, args.interval, stop, None))
    await asyncio.sleep(args.accuracy)
    stop.set()
    counted = await loop
    reference = await inspector.evaluate(REFERENCE, command_line_api=True)
    if tracing:
        await tracing.restart(inspector, start=False)
        counted = {**dict(tracing.counts), "pause_ms": tracing.pause_us / 1000}
    reference["gc_per_s"] = sum(reference[k] for k in KINDS) / reference["seconds"]
    return counted, reference


def report(results: list[Result], node: str) -> None:
    print(f"\n== {node}: share of the main thread while each candidate counts "
          f"(t, {ATTRIBUTION_BLOCKS} blocks; perf at {PERF_HZ} Hz) ==")
    rows = []
    for r in results:
        counted = " ".join(f"{k} {r.counted.get(k, 0):.0f}/{r.reference.get(k, 0):.0f}"
                           for k in KINDS)
        pause = f"{r.counted.get('pause_ms', 0):.0f}/{r.reference.get('pause_ms', 0):.0f} ms"
        eld = (f"; eld max {r.counted['eld_max_ms']:.0f} ms" if "eld_max_ms" in r.counted else "")
        if "baselines" in r.counted:
            eld += (f"; {r.counted['baselines']:.0f} baselines, "
                    f"{r.counted['estimated']:.0f} reads estimated")
        rows.append([r.candidate, f"{r.share.estimate:.3%} ({r.memtui_samples}/{r.main_samples})",
                     f"{r.share.low:.3%} .. {r.share.high:.3%}", f"{r.control.estimate:.3%}",
                     f"{r.gc_per_s:.0f}", f"{r.us_per_collection:.1f}",
                     counted + "; pause " + pause + eld,
                     f"{r.threads_before}->{r.threads_after}", r.load])
    print_table(["candidate", "share (samples)", "95% CI", "control", "collections/s",
                 "CPU µs/collection",
                 "counted/observer (accuracy phase)", "threads", "load average"], rows)
    for r in results:
        if r.frames:
            print(f"{r.candidate}: " + "; ".join(f"{f} ({n})" for f, n in r.frames))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--node", action="append", help="node binary (repeat for several)")
    parser.add_argument("--candidate", action="append", choices=CANDIDATES)
    parser.add_argument("--warmup", type=float, default=5)
    parser.add_argument("--control", type=float, default=10)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--accuracy", type=float, default=10)
    parser.add_argument("--interval", type=float, default=1.0)
    args = parser.parse_args(argv)
    if not perf_usable():
        fail("`perf record -e cpu-clock` does not work here (install linux-perf)")
    WORK.mkdir(exist_ok=True)
    nodes = args.node or [shutil.which("node") or "node"]
    for node in nodes:
        print(f"machine: {machine_line(node)}")
        results = [asyncio.run(measure(node, c, args)) for c in args.candidate or CANDIDATES]
        report(results, node)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
