"""Issue 3: memtui's own cost while its live monitor watches a Node process at 1 Hz.

Starts a leaking Node program, runs the real TUI (`python -m memtui PID`) in a private tmux
server at 200x50, and samples the memtui process (and any children) with psutil: CPU share of
one core after a warm-up and over the whole run, and peak RSS. Targets: under 3% of a core,
under 120 MB.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil
from benchlib import MB, REPO, WORK, fail, machine_line, print_table, verdict, vm_hwm

sys.path.insert(0, str(REPO))
from tests.nodeproc import NodeProcess

TARGET_CPU_SHARE = 0.03
TARGET_PEAK_RSS = 120 * MB
DEFAULT_TARGET = REPO / "tests" / "node" / "leaky.js"
POLL_S = 0.25


@dataclass(frozen=True)
class Cost:
    startup_s: float
    measured_s: float
    cpu_share_steady: float
    cpu_share_whole: float
    peak_rss: int


def cpu_seconds(process: psutil.Process) -> float:
    """CPU time of a process, its waited-for children and its live descendants."""
    total = 0.0
    for member in [process, *process.children(recursive=True)]:
        try:
            times = member.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


def tree_rss(process: psutil.Process) -> int:
    """Resident memory of a process and its live descendants, in bytes."""
    total = 0
    for member in [process, *process.children(recursive=True)]:
        try:
            total += member.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total


class TmuxPane:
    """One command in a detached tmux session on a private server socket."""

    def __init__(self, command: list[str], width: int, height: int):
        self.tmux = shutil.which("tmux") or fail("tmux is not installed")
        self.socket = f"memtui-bench-{os.getpid()}"
        config = WORK / "tmux.conf"
        config.write_text("set -g remain-on-exit on\nset -g status off\n")
        shell_line = " ".join(_quote(part) for part in command)
        out = self._run("-f", str(config), "new-session", "-d", "-x", str(width),
                        "-y", str(height), "-P", "-F", "#{pane_pid}", shell_line)
        self.pane_pid = int(out.strip())

    def _run(self, *args: str) -> str:
        return subprocess.run([self.tmux, "-L", self.socket, *args], check=True,
                              capture_output=True, text=True).stdout

    def capture(self) -> str:
        return self._run("capture-pane", "-p")

    def send_keys(self, *keys: str) -> None:
        self._run("send-keys", *keys)

    def close(self) -> None:
        subprocess.run([self.tmux, "-L", self.socket, "kill-server"], capture_output=True)


def _quote(part: str) -> str:
    return "'" + part.replace("'", "'\\''") + "'"


def find_memtui(pane_pid: int, timeout: float = 10) -> psutil.Process:
    """The memtui Python process in the pane (the pane's shell may or may not exec it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pane = psutil.Process(pane_pid)
        for candidate in [pane, *pane.children(recursive=True)]:
            try:
                if "memtui" in " ".join(candidate.cmdline()):
                    return candidate
            except psutil.NoSuchProcess:
                continue
        time.sleep(0.1)
    fail("memtui did not start in the tmux pane")


def wait_for_screen(pane: TmuxPane, pid: int, timeout: float) -> float:
    """Seconds until the pane shows the target's pid (the monitor is up and attached)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if str(pid) in pane.capture():
            return time.monotonic() - started
        time.sleep(0.1)
    fail(f"the monitor did not show pid {pid} within {timeout:g} s; screen:\n{pane.capture()}")


def measure(memtui: psutil.Process, started_at: float, warmup: float, duration: float,
            last_output: Callable[[], str]) -> Cost:
    """Poll memtui's CPU and RSS; CPU share is measured from `warmup` s after start."""
    peak = 0
    steady_from = started_at + warmup
    steady_cpu = None
    end = steady_from + duration
    while (now := time.monotonic()) < end:
        if not memtui.is_running() or memtui.status() == psutil.STATUS_ZOMBIE:
            fail(f"memtui exited during the run; its last output:\n{last_output()}")
        peak = max(peak, tree_rss(memtui))
        if steady_cpu is None and now >= steady_from:
            steady_cpu = (now, cpu_seconds(memtui))
        time.sleep(POLL_S)
    whole_cpu = cpu_seconds(memtui)
    finished = time.monotonic()
    peak = max(peak, tree_rss(memtui), vm_hwm(memtui.pid))
    steady_at, steady_base = steady_cpu
    return Cost(
        startup_s=steady_from - started_at,
        measured_s=finished - steady_at,
        cpu_share_steady=(whole_cpu - steady_base) / (finished - steady_at),
        cpu_share_whole=whole_cpu / (finished - started_at),
        peak_rss=peak,
    )


def report(cost: Cost, engine: Cost | None) -> bool:
    cpu_ok = cost.cpu_share_steady < TARGET_CPU_SHARE
    rss_ok = cost.peak_rss < TARGET_PEAK_RSS
    rows = [
        [f"CPU, % of one core (steady, {cost.measured_s:.0f} s)",
         f"{cost.cpu_share_steady * 100:.2f}", f"< {TARGET_CPU_SHARE * 100:g}", verdict(cpu_ok)],
        ["CPU, % of one core (whole run incl. start-up)",
         f"{cost.cpu_share_whole * 100:.2f}", "(info)", ""],
        ["peak RSS, MB", f"{cost.peak_rss / MB:.1f}", f"< {TARGET_PEAK_RSS / MB:g}",
         verdict(rss_ok)],
    ]
    if engine is not None:
        rows += [
            ["memtui record alone: CPU, % of one core (steady)",
             f"{engine.cpu_share_steady * 100:.2f}", "(info)", ""],
            ["memtui record alone: peak RSS, MB", f"{engine.peak_rss / MB:.1f}", "(info)", ""],
        ]
    print_table(["measure", "value", "target", "verdict"], rows)
    return cpu_ok and rss_ok


def measure_tui(args: argparse.Namespace, width: int, height: int) -> tuple[Cost, list[str]]:
    """The live monitor in tmux against a fresh target: its cost and its final screen."""
    target = NodeProcess([args.node, "--inspect-port=0", str(args.target)])
    pane = None
    try:
        target.wait_for_line("ready")
        started_at = time.monotonic()
        pane = TmuxPane([sys.executable, "-m", "memtui", str(target.pid)], width, height)
        memtui = find_memtui(pane.pane_pid)
        attach_s = wait_for_screen(pane, target.pid, timeout=30)
        print(f"monitor on screen {attach_s:.1f} s after launch", file=sys.stderr)
        cost = measure(memtui, started_at, attach_s + args.warmup, args.duration, pane.capture)
        screen = pane.capture().splitlines()
        pane.send_keys("q")
    finally:
        if pane is not None:
            pane.close()
        target.kill()
    return cost, screen


def measure_record(args: argparse.Namespace) -> Cost:
    """`memtui record` (the sampling engine without the UI) against a fresh target."""
    target = NodeProcess([args.node, "--inspect-port=0", str(args.target)])
    record_file = WORK / "monitor-cost-record.jsonl"
    record_file.unlink(missing_ok=True)
    recorder = None
    try:
        target.wait_for_line("ready")
        started_at = time.monotonic()
        recorder = subprocess.Popen(
            [sys.executable, "-m", "memtui", "record", str(target.pid), "-o", str(record_file)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = started_at + 30
        while not (record_file.exists() and record_file.stat().st_size):
            if recorder.poll() is not None or time.monotonic() > deadline:
                fail(f"memtui record took no sample: {recorder.communicate()[1].strip()}")
            time.sleep(0.1)
        first_sample_s = time.monotonic() - started_at
        return measure(psutil.Process(recorder.pid), started_at,
                       first_sample_s + args.warmup, args.duration, record_file.read_text)
    finally:
        if recorder is not None and recorder.poll() is None:
            recorder.terminate()
            recorder.wait(10)
        target.kill()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--node", default=shutil.which("node") or "node")
    parser.add_argument("--target", type=Path, default=DEFAULT_TARGET,
                        help="Node script to monitor (default tests/node/leaky.js)")
    parser.add_argument("--duration", type=float, default=60, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=5,
                        help="seconds after the monitor is on screen, left out of the CPU share")
    parser.add_argument("--size", default="200x50", help="terminal COLSxROWS")
    parser.add_argument("--engine-baseline", action="store_true",
                        help="also measure `memtui record` alone (the engine without the UI)")
    args = parser.parse_args(argv)
    width, _, height = args.size.partition("x")
    if not (width.isdigit() and height.isdigit()):
        fail(f"--size must look like 200x50, not {args.size!r}")
    WORK.mkdir(exist_ok=True)

    print(f"machine: {machine_line(args.node)}")
    print(f"target: {args.node} {args.target}; memtui TUI in tmux {args.size}, "
          f"{args.warmup:g} s warm-up + {args.duration:g} s measured\n")
    cost, screen = measure_tui(args, int(width), int(height))
    engine = measure_record(args) if args.engine_baseline else None
    print("screen at the end (first lines):")
    print("\n".join("  " + line.rstrip() for line in screen[:6]))
    print()
    return 0 if report(cost, engine) else 1


if __name__ == "__main__":
    raise SystemExit(main())
