"""Issue 2: the cost of being watched, as throughput lost by a Node program memtui records.

Runs bench/alloc_workload.js several times, alternating without memtui and with
`memtui record PID --interval 1` attached (order A B B A ... to cancel drift), and compares
the median throughput of the measured windows (warm-up windows ignored). Target: under 1%.

Two measures: wall throughput (ops/s, what the target's users feel) and ops per CPU second
of the target process (the work memtui adds to it, robust when other load shares the
cores). Each gets PASS / FAIL, or INCONCLUSIVE when the rounds disagree by more than the
margin that separates the result from 1%.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from benchlib import BENCH, REPO, WORK, fail, machine_line, median, print_table

sys.path.insert(0, str(REPO))
from tests.nodeproc import NodeProcess

TARGET_SLOWDOWN = 0.01
WITHOUT, WITH = "without memtui", "with memtui record"


@dataclass(frozen=True)
class Window:
    t: float
    ops_per_s: float
    ops_per_cpu_s: float


@dataclass(frozen=True)
class Measure:
    label: str
    unit: str
    attribute: str


MEASURES = (Measure("wall throughput", "ops/s", "ops_per_s"),
            Measure("work per CPU second of the target", "ops/CPU s", "ops_per_cpu_s"))


@dataclass(frozen=True)
class RunResult:
    variant: str
    windows: list[Window]
    samples_recorded: int | None


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
        if "ops_per_s" in record:
            cpu = float(record.get("cpu_s", 0))
            per_cpu = record["ops"] / cpu if cpu > 0 else float("nan")
            windows.append(Window(float(record["t"]), float(record["ops_per_s"]), per_cpu))
    return windows


def measured_windows(windows: list[Window], start: float, end: float) -> list[Window]:
    """Windows that ended inside [start, end] (epoch seconds)."""
    return [w for w in windows if start <= w.t <= end]


def slowdown(without: float, with_memtui: float) -> float:
    """Fraction of throughput lost: 0.01 means 1% slower with memtui attached."""
    return 1.0 - with_memtui / without


def count_samples(path: Path, start: float, end: float) -> int:
    """Samples in a `record --format jsonl` file whose time lies inside [start, end]."""
    count = 0
    for line in path.read_text().splitlines():
        try:
            t = json.loads(line)["t"]
        except (json.JSONDecodeError, KeyError, TypeError):
            continue
        count += start <= t <= end
    return count


def run_once(variant: str, node: str, warmup: float, duration: float, window_ms: int,
             interval: float) -> RunResult:
    total = warmup + duration + 2
    workload = NodeProcess([node, "--inspect-port=0", str(BENCH / "alloc_workload.js"),
                            str(total), str(window_ms)])
    recorder = None
    record_file = WORK / "watch-record.jsonl"
    try:
        workload.wait_for_line("^ready$")
        ready_at = time.time()
        if variant == WITH:
            record_file.unlink(missing_ok=True)
            recorder = subprocess.Popen(
                [sys.executable, "-m", "memtui", "record", str(workload.pid),
                 "--interval", str(interval), "--duration", str(total + 5),
                 "--format", "jsonl", "-o", str(record_file)],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            )
        workload.wait_for_line('"done"', timeout=total + 30)
    finally:
        workload.kill()
        recorder_error = _stop(recorder)
    start, end = ready_at + warmup, ready_at + warmup + duration
    windows = measured_windows(parse_windows(workload.lines), start, end)
    samples = None
    if recorder is not None:
        samples = count_samples(record_file, start, end) if record_file.exists() else 0
        if samples < duration / interval * 0.8:
            fail(f"memtui record took only {samples} samples in the {duration:g} s measured "
                 f"(expected ~{duration / interval:.0f}); its stderr: {recorder_error[-500:]}")
    return RunResult(variant, windows, samples)


def _stop(recorder: subprocess.Popen | None) -> str:
    if recorder is None:
        return ""
    if recorder.poll() is None:
        recorder.send_signal(signal.SIGINT)
    try:
        _, err = recorder.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        recorder.kill()
        _, err = recorder.communicate()
    return err or ""


def run_median(run: RunResult, measure: Measure) -> float:
    return median(getattr(w, measure.attribute) for w in run.windows)


def pooled_median(runs: list[RunResult], variant: str, measure: Measure) -> float:
    """Median over every measured window of every run of this variant."""
    return median(getattr(w, measure.attribute) for r in runs if r.variant == variant
                  for w in r.windows)


def round_slowdowns(runs: list[RunResult], measure: Measure) -> list[float]:
    """Slowdown of each round: its with-run's median against its without-run's median."""
    slowdowns = []
    for pair in zip(runs[0::2], runs[1::2], strict=False):
        medians = {run.variant: run_median(run, measure) for run in pair}
        slowdowns.append(slowdown(medians[WITHOUT], medians[WITH]))
    return slowdowns


def noise(values: list[float]) -> float:
    """Twice the standard error of the mean of per-round results (inf for one round)."""
    if len(values) < 2:
        return float("inf")
    return 2 * statistics.stdev(values) / len(values) ** 0.5


def judge(lost: float, margin: float) -> str:
    """PASS if even lost + margin is under the target, FAIL if lost - margin is not."""
    if lost + margin < TARGET_SLOWDOWN:
        return "PASS"
    if lost - margin >= TARGET_SLOWDOWN:
        return "FAIL"
    return "INCONCLUSIVE"


def report(runs: list[RunResult]) -> bool:
    rows = []
    for index, run in enumerate(runs, 1):
        rows.append([index // 2 + index % 2, run.variant, len(run.windows),
                     *(f"{run_median(run, m):,.0f}" for m in MEASURES),
                     "-" if run.samples_recorded is None else run.samples_recorded])
    print_table(["round", "variant", "windows", *(f"median {m.unit}" for m in MEASURES),
                 "memtui samples"], rows)
    verdicts = []
    for measure in MEASURES:
        without = pooled_median(runs, WITHOUT, measure)
        with_memtui = pooled_median(runs, WITH, measure)
        lost = slowdown(without, with_memtui)
        per_round = round_slowdowns(runs, measure)
        margin = noise(per_round)
        verdicts.append(judge(lost, margin))
        print(f"\n{measure.label} ({measure.unit}), medians of all measured windows")
        print_table(["", "value"], [
            [WITHOUT, f"{without:,.0f}"],
            [WITH, f"{with_memtui:,.0f}"],
            ["ratio with/without", f"{with_memtui / without:.4f}"],
            ["slowdown", f"{lost * 100:+.2f}%"],
            ["slowdown per round", "  ".join(f"{x * 100:+.2f}%" for x in per_round)],
            ["noise (2 x standard error of rounds)", f"±{margin * 100:.2f}%"],
            [f"target: under {TARGET_SLOWDOWN:.0%} slower", verdicts[-1]],
        ])
    if "INCONCLUSIVE" in verdicts:
        print("\nINCONCLUSIVE: the rounds disagree by more than the distance to 1%; "
              "run on a quiet machine or with more --rounds")
    return "FAIL" not in verdicts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--node", default=shutil.which("node") or "node")
    parser.add_argument("--duration", type=float, default=10, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=5,
                        help="seconds ignored at the start of each run (includes the attach)")
    parser.add_argument("--rounds", type=int, default=6,
                        help="pairs of runs (without, with), alternated A B B A ...")
    parser.add_argument("--window-ms", type=int, default=1000)
    parser.add_argument("--interval", type=float, default=1.0, help="memtui record --interval")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.duration <= 0:
        fail("--rounds must be >= 1 and --duration > 0")
    WORK.mkdir(exist_ok=True)

    print(f"machine: {machine_line(args.node)}")
    print(f"workload: {args.node} alloc_workload.js, {args.window_ms} ms windows, "
          f"{args.warmup:g} s warm-up + {args.duration:g} s measured per run\n")
    runs = []
    for round_index in range(args.rounds):
        order = (WITHOUT, WITH) if round_index % 2 == 0 else (WITH, WITHOUT)
        for variant in order:
            print(f"round {round_index + 1}: {variant} ...", file=sys.stderr)
            runs.append(run_once(variant, args.node, args.warmup, args.duration,
                                 args.window_ms, args.interval))
    return 0 if report(runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
