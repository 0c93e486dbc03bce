"""Issue 2: the cost of being watched, as throughput lost by a Node program memtui records.

Starts bench/alloc_workload.js once and, within that one process, alternates phases without
memtui and with `memtui record PID --interval 1` attached (each with-phase attaches afresh and
detaches at its end; pairs alternate their order A B, B A, ... to cancel drift). Windows that
overlap an attach or a detach are skipped. Each pair gives one slowdown (its with-phase
throughput against its without-phase throughput); the verdict uses the mean of the pairs
and its Student-t 95% confidence interval. Target: under 1% slower.

Two measures: wall throughput (ops/s, what the target's users feel) and ops per CPU second
of the target process (the work memtui adds to it, robust when other load shares the
cores). Each gets PASS (upper confidence bound under 1%), FAIL (lower bound at or above 1%)
or INCONCLUSIVE. On a shared machine their intervals are wider than 1%, so a third measure
attributes the target's CPU directly: `perf record` samples the workload's threads, once with
memtui attached and once without (the control), and counts the samples whose stack is memtui's
work (Node's gc observer machinery, the inspector's dispatch, the probe's JavaScript) against all
samples of the target's main thread. Supporting evidence measured inside a separate Node process
with no inspector: the cost of one probe sample() call and of the probe's GC counting.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from benchlib import BENCH, REPO, WORK, fail, load_average, machine_line, median, print_table

sys.path.insert(0, str(REPO))
from tests.cli_helpers import default_sigint
from tests.nodeproc import NodeProcess

TARGET_SLOWDOWN = 0.01
# Stack frames of memtui's work inside the target, by kind (the workload uses none of these
# itself): the timer of the probe's event-loop delay histograms (before the GC observer, whose
# namespace their callback shares on some majors), the cleanup of its FinalizationRegistry
# sentinel, Node's gc PerformanceObserver machinery, JavaScript compiled from
# Runtime.evaluate, which has no script name (only the probe runs as such here), and the
# inspector (its thread and the dispatch of memtui's calls).
MEMTUI_FRAMES = (
    ("event-loop delay", re.compile(r"node::IntervalHistogram|node::Histogram::|ELDHistogram|"
                                    r"\bhdr_")),
    # The sentinel's cleanup task, not V8's check for one after every GC of any program
    # (Heap::PostFinalizationRegistryCleanupTaskIfNeeded, HasDirtyJSFinalizationRegistries).
    ("weak-ref cleanup", re.compile(r"\bFinalizationRegistryCleanupTask::|"
                                    r"\bJSFinalizationRegistry::")),
    ("GC observer", re.compile(r"node::performance::|node:internal/perf/")),
    ("probe JavaScript", re.compile(r"JS:[*^~+]?\S* :\d")),
    ("inspector", re.compile(r"node::inspector::")),
)
# The kinds that must stop when memtui detaches: all of them.
AFTER_DETACH_FRAMES = tuple(kind for kind, _ in MEMTUI_FRAMES)
FrameKinds = tuple[tuple[str, re.Pattern[str]], ...]
ATTRIBUTION_BLOCKS = 10
PERF_HZ = 999
WITHOUT, WITH = "without memtui", "with memtui record"
PROBE = REPO / "memtui" / "probe.js"


@dataclass(frozen=True)
class Window:
    """One window the workload reported: its span, the ops it did and its CPU seconds."""

    start: float
    end: float
    ops: int
    cpu_s: float

    @property
    def elapsed(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class Measure:
    """A throughput: ops divided by the windows' `per` attribute (elapsed or cpu_s)."""

    label: str
    unit: str
    per: str

    def rate(self, windows: Sequence[Window]) -> float:
        """Ops per unit over all `windows` together (a ratio of sums, so long pauses count)."""
        return sum(w.ops for w in windows) / sum(getattr(w, self.per) for w in windows)


MEASURES = (Measure("wall throughput", "ops/s", "elapsed"),
            Measure("work per CPU second of the target", "ops/CPU s", "cpu_s"))


@dataclass(frozen=True)
class Phase:
    """A span of the workload's life, with or without memtui attached."""

    variant: str
    start: float
    end: float
    samples_recorded: int | None = None


@dataclass(frozen=True)
class Pair:
    """Two adjacent phases, one of each variant, and the windows measured in each."""

    without: list[Window]
    with_memtui: list[Window]


@dataclass(frozen=True)
class Interval:
    """A point estimate with its confidence interval."""

    estimate: float
    low: float
    high: float


def parse_windows(lines: list[str]) -> list[Window]:
    """Throughput windows from the workload's JSON lines (other lines ignored)."""
    windows = []
    for line in lines:
        if not line.startswith("{"):
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if "ops" in record and "start" in record:
            windows.append(Window(float(record["start"]), float(record["t"]), int(record["ops"]),
                                  float(record["cpu_s"])))
    return windows


def windows_inside(windows: list[Window], start: float, end: float) -> list[Window]:
    """Windows that lie wholly inside [start, end] (epoch seconds)."""
    return [w for w in windows if start <= w.start and w.end <= end]


def pair_phases(phases: Sequence[Phase], windows: list[Window]) -> list[Pair]:
    """Consecutive phases two by two, each pair holding one phase of each variant."""
    pairs = []
    for first, second in zip(phases[0::2], phases[1::2], strict=False):
        by_variant = {p.variant: windows_inside(windows, p.start, p.end) for p in (first, second)}
        if set(by_variant) != {WITHOUT, WITH}:
            raise ValueError(f"phases {first.variant!r} and {second.variant!r} do not pair")
        if not all(by_variant.values()):
            raise ValueError(f"a phase starting at {first.start:.1f} has no whole window "
                             "(did the workload end early?)")
        pairs.append(Pair(by_variant[WITHOUT], by_variant[WITH]))
    return pairs


def slowdown(without: float, with_memtui: float) -> float:
    """Fraction of throughput lost: 0.01 means 1% slower with memtui attached."""
    return 1.0 - with_memtui / without


def pair_slowdowns(pairs: list[Pair], measure: Measure) -> list[float]:
    """Slowdown of each pair: its with-phase throughput against its without-phase one."""
    return [slowdown(measure.rate(p.without), measure.rate(p.with_memtui)) for p in pairs]


def student_t_975(df: int) -> float:
    """The 97.5% quantile of Student's t with `df` degrees of freedom (Cornish-Fisher series,
    within 0.005 of the exact value for df >= 3)."""
    z = 1.959964
    terms = ((z**3 + z) / 4,
             (5 * z**5 + 16 * z**3 + 3 * z) / 96,
             (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384,
             (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160)
    return z + sum(term / df ** power for power, term in enumerate(terms, 1))


def mean_interval(values: Sequence[float]) -> Interval:
    """The mean of `values` with its 95% Student-t confidence interval (unbounded below 4)."""
    mean = statistics.fmean(values)
    if len(values) < 4:
        return Interval(mean, float("-inf"), float("inf"))
    half_width = student_t_975(len(values) - 1) * statistics.stdev(values) / len(values) ** 0.5
    return Interval(mean, mean - half_width, mean + half_width)


def judge(interval: Interval) -> str:
    """PASS if the whole interval is under the target, FAIL if it is wholly at or above it."""
    if interval.high < TARGET_SLOWDOWN:
        return "PASS"
    if interval.low >= TARGET_SLOWDOWN:
        return "FAIL"
    return "INCONCLUSIVE"


@dataclass(frozen=True)
class StackSample:
    """One perf sample of the target: when, on which thread, and which kind of memtui's work
    it was (None: not memtui's)."""

    time: float
    tid: int
    memtui: str | None
    frame: str = ""

    @property
    def is_memtui(self) -> bool:
        return self.memtui is not None


def memtui_kind(frames: list[str], kinds: FrameKinds = MEMTUI_FRAMES) -> tuple[str | None, str]:
    """The first of `kinds` that any of a sample's frames shows, with that frame; (None, "")
    when the sample is not memtui's."""
    for kind, pattern in kinds:
        for frame in frames:
            if pattern.search(frame):
                return kind, frame.split(None, 1)[-1]
    return None, ""


def parse_perf_script(text: str, kinds: FrameKinds = MEMTUI_FRAMES) -> list[StackSample]:
    """Samples from `perf script -F tid,time,ip,sym`: a header line per sample, then one
    tab-indented line per frame, then a blank line; each attributed to one of `kinds`."""
    samples = []
    header: tuple[float, int] | None = None
    frames: list[str] = []
    for line in [*text.splitlines(), ""]:
        if line.startswith("\t"):
            frames.append(line)
        elif line.strip():
            tid, stamp = line.split()[:2]
            header, frames = (float(stamp.rstrip(":")), int(tid)), []
        elif header is not None:
            samples.append(StackSample(header[0], header[1], *memtui_kind(frames, kinds)))
            header = None
    return samples


def attributed_share(samples: list[StackSample], main_tid: int) -> tuple[Interval, int]:
    """memtui's share of the main thread's samples: the mean over equal time blocks with its
    t interval (blocks, not single samples, so bursts of memtui's work count as such); and
    the number of main-thread samples."""
    main = [s for s in samples if s.tid == main_tid]
    if len(main) < ATTRIBUTION_BLOCKS * 10:
        fail(f"perf recorded only {len(main)} samples of the target's main thread")
    start, end = main[0].time, main[-1].time
    width = (end - start) / ATTRIBUTION_BLOCKS or 1.0
    blocks: list[list[bool]] = [[] for _ in range(ATTRIBUTION_BLOCKS)]
    for sample in main:
        block = min(int((sample.time - start) / width), ATTRIBUTION_BLOCKS - 1)
        blocks[block].append(sample.is_memtui)
    shares = [sum(block) / len(block) for block in blocks if block]
    return mean_interval(shares), len(main)


@dataclass(frozen=True)
class GcActivity:
    """The target's collections per second and share of time in GC pauses, as recorded."""

    per_second: float
    pause_share: float


def gc_activity(path: Path) -> GcActivity:
    """GC rate and pause share between the first and last sample of a jsonl recording."""
    records = recorded_samples(path)
    if len(records) < 2:
        fail(f"{path} holds {len(records)} samples; two are needed for the GC rate")
    first, last = records[0], records[-1]
    span = last["t"] - first["t"]
    collections = sum(last["gc"].values()) - sum(first["gc"].values())
    pause_s = (last["gc_pause_ms"] - first["gc_pause_ms"]) / 1000
    return GcActivity(collections / span, pause_s / span)


def perf_usable() -> bool:
    """Whether `perf record` can sample processes here (the cpu-clock software event)."""
    perf = shutil.which("perf")
    if perf is None:
        return False
    done = subprocess.run([perf, "stat", "-e", "cpu-clock", "true"], capture_output=True)
    return done.returncode == 0


def perf_stacks(pid: int, seconds: float,
                kinds: FrameKinds = MEMTUI_FRAMES) -> list[StackSample]:
    """Sample `pid`'s threads with call stacks for `seconds`; the samples, attributed to
    `kinds`. A process run with --perf-prof has its JavaScript named from its jitdump, which
    dates each piece of code (`perf inject --jit`): V8 reuses the addresses of code it freed,
    and a map without dates (--perf-basic-prof) lends a freed function's name to whatever
    code comes later at its address."""
    data = WORK / "watch-perf.data"
    injected = WORK / "watch-perf.jit.data"
    recorded = subprocess.run(["perf", "record", "-k", "mono", "-e", "cpu-clock",
                               "-F", str(PERF_HZ), "-g", "-p", str(pid), "-o", str(data),
                               "--", "sleep", str(seconds)], capture_output=True, text=True)
    if recorded.returncode != 0:
        fail(f"perf record failed: {recorded.stderr.strip()[-300:]}")
    inject = subprocess.run(["perf", "inject", "--jit", "-i", str(data), "-o", str(injected)],
                            capture_output=True, text=True)
    if inject.returncode != 0:
        fail(f"perf inject --jit failed: {inject.stderr.strip()[-300:]}")
    script = subprocess.run(["perf", "script", "-i", str(injected), "-F", "tid,time,ip,sym"],
                            capture_output=True, text=True)
    data.unlink(missing_ok=True)
    injected.unlink(missing_ok=True)
    if script.returncode != 0:
        fail(f"perf script failed: {script.stderr.strip()[-300:]}")
    return parse_perf_script(script.stdout, kinds)


def remove_perf_files(pid: int) -> None:
    """What --perf-prof and `perf inject --jit` leave in WORK for process `pid`."""
    for path in [*WORK.glob(f"jit-{pid}.dump"), *WORK.glob(f"jitted-{pid}-*.so"),
                 *WORK.glob(f"isolate-*-{pid}-v8.log")]:
        path.unlink(missing_ok=True)


def recorded_samples(path: Path) -> list[dict]:
    """The samples of a `record --format jsonl` file (a line cut short by the recorder's exit,
    or anything else without a time, is skipped)."""
    samples = []
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and "t" in record:
            samples.append(record)
    return samples


def count_samples(path: Path, start: float, end: float) -> int:
    """Samples in a `record --format jsonl` file whose time lies inside [start, end]."""
    return sum(start <= record["t"] <= end for record in recorded_samples(path))


def pin_process(pid: int, cpu: int) -> None:
    """Pin every thread of `pid` (threads it starts later inherit) to one core."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            os.sched_setaffinity(int(task.name), {cpu})
        except ProcessLookupError:
            continue


class WatchedWorkload:
    """One alloc_workload.js process, and memtui record attached to it on demand."""

    def __init__(self, node: str, seconds: float, window_ms: int, interval: float,
                 pin: bool, perf_prof: bool = False):
        self.interval = interval
        self.pin = pin
        self.record_file = WORK / "watch-record.jsonl"
        self.recorder_error = ""
        self.unclean_detaches: list[str] = []
        self.process = NodeProcess([node, "--inspect-port=0",
                                    *(["--perf-prof"] if perf_prof else []),
                                    str(BENCH / "alloc_workload.js"), str(seconds),
                                    str(window_ms)],
                                   cwd=str(WORK))  # where --perf-prof's jitdump goes
        try:
            self.process.wait_for_line("^ready$")
        except AssertionError as error:
            self.process.kill()
            fail(f"alloc_workload.js did not start: {error}")
        if pin:
            pin_process(self.process.pid, 0)

    def idle_phase(self, seconds: float) -> Phase:
        start = time.time()
        time.sleep(seconds)
        return Phase(WITHOUT, start, time.time())

    @contextlib.contextmanager
    def recorder_attached(self):
        """memtui record attached, from its first sample until the block ends (then SIGINT)."""
        self.record_file.unlink(missing_ok=True)
        recorder = subprocess.Popen(
            [sys.executable, "-m", "memtui", "record", str(self.process.pid),
             "--interval", str(self.interval), "--format", "jsonl", "-o", str(self.record_file)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            preexec_fn=self._recorder_setup,
        )
        try:
            self._wait_for_first_sample(recorder)
            yield
        finally:
            self.recorder_error = _unexpected_stderr(_stop(recorder))
            if recorder.returncode != 0 or self.recorder_error.strip():
                self.unclean_detaches.append(f"exit {recorder.returncode}: "
                                             f"{self.recorder_error.strip()[-300:]}")

    def _recorder_setup(self) -> None:
        """In the recorder before exec: Ctrl-C's default action (the SIGINT that detaches it
        would be ignored if this script runs as a background job), and core 1 when pinning."""
        default_sigint()
        if self.pin:
            os.sched_setaffinity(0, {1})

    def watched_phase(self, seconds: float) -> Phase:
        """Attach memtui record, wait for its first sample, measure, then detach (SIGINT)."""
        with self.recorder_attached():
            start = time.time()
            time.sleep(seconds)
            end = time.time()
        samples = count_samples(self.record_file, start, end)
        if samples < seconds / self.interval * 0.8 - 1:
            fail(f"memtui record took only {samples} samples in a {seconds:g} s phase "
                 f"(expected ~{seconds / self.interval:.0f}); its stderr: "
                 f"{self.recorder_error[-500:]}")
        return Phase(WITH, start, end, samples)

    def attribution(self, seconds: float) -> Attribution:
        """perf stacks before memtui attaches, while `memtui record` is attached, and after it
        detached; and the GC activity it recorded meanwhile."""
        before = perf_stacks(self.process.pid, seconds)
        with self.recorder_attached():
            watched = perf_stacks(self.process.pid, seconds)
            load = load_average()
        time.sleep(2)
        after = perf_stacks(self.process.pid, seconds)
        return Attribution(before, watched, after, gc_activity(self.record_file),
                           self.process.pid, list(self.unclean_detaches), load)

    def _wait_for_first_sample(self, recorder: subprocess.Popen, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if recorder.poll() is not None:
                fail(f"memtui record exited with {recorder.returncode} before its first sample: "
                     f"{recorder.stderr.read()[-500:]}")
            if self.record_file.exists() and self.record_file.read_text().count("\n"):
                return
            time.sleep(0.05)
        fail(f"memtui record wrote no sample within {timeout:g} s")

    def windows(self) -> list[Window]:
        return parse_windows(self.process.lines)

    def close(self) -> None:
        self.process.kill()
        remove_perf_files(self.process.pid)


def _unexpected_stderr(err: str) -> str:
    """memtui record's stderr without the lines it prints on every attach and at the end
    (the verdict)."""
    return "".join(line for line in err.splitlines(keepends=True)
                   if not line.startswith(("memtui: attached to pid ", "memtui: verdict: ")))


def _stop(recorder: subprocess.Popen) -> str:
    if recorder.poll() is None:
        recorder.send_signal(signal.SIGINT)
    try:
        _, err = recorder.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        recorder.kill()
        _, err = recorder.communicate()
    return err or ""


@dataclass(frozen=True)
class Attribution:
    """perf stacks of one fresh workload process before, with and after memtui; the GC
    activity recorded meanwhile; its main thread; recorders that did not detach cleanly; the
    load average as the watched phase ended."""

    before: list[StackSample]
    watched: list[StackSample]
    after: list[StackSample]
    gc: GcActivity
    main_tid: int
    unclean_detaches: list[str]
    load: str


def measure_pairs(args: argparse.Namespace, pin: bool) -> tuple[list[Phase], list[Window]]:
    """Run the alternating phases on one workload process; its phases and windows."""
    per_pair = 2 * args.phase + 2 * args.settle + 6
    workload = WatchedWorkload(args.node, args.warmup + args.pairs * per_pair + 60,
                               args.window_ms, args.interval, pin)
    phases = []
    try:
        time.sleep(args.warmup)
        for index in range(args.pairs):
            order = (WITHOUT, WITH) if index % 2 == 0 else (WITH, WITHOUT)
            for variant in order:
                print(f"{'pinned ' if pin else ''}pair {index + 1}/{args.pairs}: {variant} ...",
                      file=sys.stderr)
                if variant == WITH:
                    phases.append(workload.watched_phase(args.phase))
                    time.sleep(args.settle)
                else:
                    phases.append(workload.idle_phase(args.phase))
        if workload.unclean_detaches:
            fail("memtui record did not detach cleanly: " + " | ".join(workload.unclean_detaches))
        return phases, workload.windows()
    finally:
        workload.close()


def measure_attribution(args: argparse.Namespace) -> Attribution:
    """The perf attribution, on a fresh workload process that runs with --perf-prof, so that
    its JavaScript frames have names."""
    print(f"perf attribution: {args.perf_seconds:g} s before, with and after memtui ...",
          file=sys.stderr)
    workload = WatchedWorkload(args.node, args.warmup + 3 * args.perf_seconds + 60,
                               args.window_ms, args.interval, pin=False, perf_prof=True)
    try:
        time.sleep(args.warmup)
        return workload.attribution(args.perf_seconds)
    finally:
        workload.close()


def report_attribution(measured: Attribution, interval: float) -> str:
    """Print memtui's share of the target's main-thread CPU samples; its verdict, which is FAIL
    when memtui's work went on after it detached."""
    print("\n== perf attribution: samples of the target's main thread that are memtui's work "
          f"(load average {measured.load} as it ended) ==")
    rows, verdict = [], ""
    for label, samples in (("before memtui attached", measured.before),
                           (f"with memtui record --interval {interval:g}", measured.watched),
                           ("after it detached", measured.after)):
        share, count = attributed_share(samples, measured.main_tid)
        main = [s for s in samples if s.tid == measured.main_tid]
        other = [s for s in samples if s.tid != measured.main_tid]
        kinds = ", ".join(f"{kind} {sum(s.memtui == kind for s in main)}"
                          for kind, _ in MEMTUI_FRAMES)
        rows.append([label, f"{count:,}", f"{sum(s.is_memtui for s in main):,} ({kinds})",
                     f"{share.estimate:.3%}", f"{share.low:.3%} .. {share.high:.3%}",
                     f"{sum(s.is_memtui for s in other):,} of {len(other):,}", judge(share)])
        if samples is measured.watched:
            verdict = judge(share)
    print_table(["phase", "main-thread samples", "memtui's", "share", f"95% CI (t, "
                 f"{ATTRIBUTION_BLOCKS} blocks)", "other threads: memtui's", "under 1%?"], rows)
    watched_main = [s for s in measured.watched if s.tid == measured.main_tid]
    span = watched_main[-1].time - watched_main[0].time
    memtui_ms = sum(s.is_memtui for s in watched_main) / PERF_HZ * 1000 / span
    print(f"target meanwhile: {measured.gc.per_second:.0f} collections/s, "
          f"{measured.gc.pause_share:.0%} of the time in GC pauses; memtui's main-thread CPU "
          f"{memtui_ms:.2f} ms/s, i.e. {memtui_ms * 1000 / measured.gc.per_second:.0f} µs per "
          "collection, sampling included")
    for label, samples in (("with memtui", measured.watched), ("after", measured.after)):
        frames = Counter(s.frame for s in samples if s.is_memtui).most_common(4)
        if frames:
            print(f"{label}, memtui's most sampled frames: "
                  + "; ".join(f"{frame} ({count})" for frame, count in frames))
    for detach in measured.unclean_detaches:
        print(f"a recorder did not detach cleanly: {detach}")
    if measured.unclean_detaches or any(s.memtui in AFTER_DETACH_FRAMES for s in measured.after):
        print("FAIL: memtui's work went on in the target after it detached")
        return "FAIL"
    return verdict


def report_pairs(title: str, phases: list[Phase], windows: list[Window]) -> list[str]:
    """Print the per-pair table and the verdict of each measure; the verdicts."""
    try:
        pairs = pair_phases(phases, windows)
    except ValueError as error:
        fail(str(error))
    print(f"\n== {title} ==")
    samples = [p.samples_recorded for p in phases if p.variant == WITH]
    print(f"{len(pairs)} pairs, {sum(len(p.without) for p in pairs)} + "
          f"{sum(len(p.with_memtui) for p in pairs)} windows measured (without + with); "
          f"memtui record samples per with-phase: {min(samples)}-{max(samples)}")
    slowdowns = {m.per: pair_slowdowns(pairs, m) for m in MEASURES}
    print_table(["pair", "windows", *(f"slowdown, {m.unit}" for m in MEASURES)], [
        [index + 1, f"{len(p.without)}+{len(p.with_memtui)}",
         *(f"{slowdowns[m.per][index] * 100:+.2f}%" for m in MEASURES)]
        for index, p in enumerate(pairs)
    ])
    verdicts = []
    rows = []
    for measure in MEASURES:
        values = slowdowns[measure.per]
        interval = mean_interval(values)
        verdicts.append(judge(interval))
        without = measure.rate([w for p in pairs for w in p.without])
        with_memtui = measure.rate([w for p in pairs for w in p.with_memtui])
        rows.append([measure.label, f"{without:,.0f}", f"{with_memtui:,.0f}",
                     f"{median(values):+.2%}", f"{interval.estimate:+.2%}",
                     f"{interval.low * 100:+.2f}% .. {interval.high * 100:+.2f}%", verdicts[-1]])
    print()
    print_table(["measure", WITHOUT, WITH, "median pair", "mean paired slowdown",
                 "95% CI (t)", f"under {TARGET_SLOWDOWN:.0%}?"], rows)
    return verdicts


def report_probe_cost(node: str, pairs: int, phase_ms: int, interval: float) -> None:
    """Measure and print the probe's own cost inside a Node process with no inspector."""
    done = subprocess.run([node, str(BENCH / "alloc_workload.js"), "probe-cost", str(PROBE),
                           str(pairs), str(phase_ms)], capture_output=True, text=True,
                          timeout=pairs * phase_ms / 500 + 120)
    if done.returncode != 0:
        fail(f"alloc_workload.js probe-cost failed: {done.stderr.strip()[-500:]}")
    result = json.loads(done.stdout.splitlines()[-1])
    counting = mean_interval([slowdown(p["without"], p["with"])
                              for p in result["counting_pairs"]])
    gc_per_s = median(p["gc_per_s"] for p in result["counting_pairs"])
    per_gc = mean_interval(result["counting_us_per_gc"])
    print("\n== supporting: the probe's cost inside the target (no inspector, one process) ==")
    print_table(["measure", "value"], [
        ["one sample() call + JSON of its answer", f"{result['sample_us']:.1f} µs"],
        [f"  as a share of one core at --interval {interval:g}",
         f"{result['sample_us'] / 1e6 / interval:.4%}"],
        ["GC counting: extra CPU per GC, reading included (paired blocks of 500 forced "
         "minor GCs)",
         f"{per_gc.estimate:.1f} µs ({per_gc.low:.1f} .. {per_gc.high:.1f})"],
        ["  GC events per second of the workload (median of phases)", f"{gc_per_s:.0f}"],
        ["  as a share of one core (extra per GC x GCs per second)",
         f"{per_gc.estimate * gc_per_s / 1e6:.3%} ({per_gc.high * gc_per_s / 1e6:.3%} at "
         "the upper bound)"],
        [f"GC counting: mean paired loss of ops/CPU s ({pairs} pairs of {phase_ms} ms)",
         f"{counting.estimate:+.2%} ({counting.low:+.2%} .. {counting.high:+.2%})"],
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--node", default=shutil.which("node") or "node")
    parser.add_argument("--pairs", type=int, default=14,
                        help="pairs of phases (without, with), alternated A B, B A, ...")
    parser.add_argument("--phase", type=float, default=6, help="measured seconds per phase")
    parser.add_argument("--warmup", type=float, default=5,
                        help="seconds ignored at the start of the workload (JIT warm-up)")
    parser.add_argument("--settle", type=float, default=1,
                        help="seconds skipped after each detach")
    parser.add_argument("--window-ms", type=int, default=500)
    parser.add_argument("--interval", type=float, default=1.0, help="memtui record --interval")
    parser.add_argument("--pin", choices=("no", "yes", "both"), default="no",
                        help="pin the workload to core 0, memtui to core 1 (both: run both ways)")
    parser.add_argument("--probe-pairs", type=int, default=20,
                        help="pairs of phases for the probe's in-target cost (0: skip)")
    parser.add_argument("--perf-seconds", type=float, default=20,
                        help="seconds of perf sampling before, with and after memtui (0: skip)")
    args = parser.parse_args(argv)
    if args.pairs < 2 or args.phase <= 0:
        fail("--pairs must be >= 2 and --phase > 0")
    if args.pin != "no" and len(os.sched_getaffinity(0)) < 2:
        fail("--pin needs two cores available to this process")
    WORK.mkdir(exist_ok=True)

    print(f"machine: {machine_line(args.node)}")
    print(f"workload: one {args.node} alloc_workload.js process, {args.window_ms} ms windows, "
          f"{args.warmup:g} s warm-up, {args.pairs} pairs of {args.phase:g} s phases")
    if args.perf_seconds and not perf_usable():
        print("perf attribution skipped: `perf record -e cpu-clock` does not work here "
              "(install linux-perf, or pass --perf-seconds 0)", file=sys.stderr)
        args.perf_seconds = 0
    throughput, attributed = [], []
    for pin in {"no": [False], "yes": [True], "both": [False, True]}[args.pin]:
        phases, windows = measure_pairs(args, pin)
        title = ("workload pinned to core 0, memtui to core 1" if pin
                 else "no pinning (the scheduler places both)")
        title += f"; load average {load_average()} as the pairs ended"
        throughput += report_pairs(title, phases, windows)
    if args.perf_seconds:
        attributed.append(report_attribution(measure_attribution(args), args.interval))
    if args.probe_pairs:
        report_probe_cost(args.node, args.probe_pairs, 500, args.interval)
    verdict = overall_verdict(throughput, attributed)
    print(f"\noverall: {verdict}: {VERDICT_REASONS[verdict]}")
    return 0 if verdict == "PASS" else 1


VERDICT_REASONS = {
    "PASS": "memtui's work is under 1% of the target's main thread, and no throughput measure "
            "shows a slowdown of 1% or more",
    "FAIL": "a measure shows a slowdown of 1% or more",
    "INCONCLUSIVE": "no measure shows 1% or more, none bounds it under 1%; run with more "
                    "--pairs, a longer --perf-seconds, or on a quieter machine",
}


def overall_verdict(throughput: list[str], attributed: list[str]) -> str:
    """FAIL if any measure fails. PASS if the attribution passes, or (without perf) every
    throughput measure does. Otherwise INCONCLUSIVE."""
    verdicts = throughput + attributed
    if "FAIL" in verdicts:
        return "FAIL"
    if attributed and set(attributed) == {"PASS"}:
        return "PASS"
    if not attributed and set(throughput) == {"PASS"}:
        return "PASS"
    return "INCONCLUSIVE"


if __name__ == "__main__":
    raise SystemExit(main())
