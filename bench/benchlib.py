"""Shared helpers for the bench scripts: paths, peer installs, measured subprocesses, tables."""

from __future__ import annotations

import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
WORK = BENCH / ".work"
NODE_MODULES = WORK / "node_modules"
PEERS = {
    "memlab": ("@memlab/core", ["memlab"]),
    "vscode": ("@vscode/v8-heap-parser", ["@vscode/v8-heap-parser"]),
}
MB = 1024 * 1024


def fail(message: str) -> NoReturn:
    """Stop a bench script with a one-line reason (no traceback)."""
    print(f"bench: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def ensure_peers() -> None:
    """Install memlab and @vscode/v8-heap-parser into bench/.work/ unless already there."""
    npm = shutil.which("npm")
    WORK.mkdir(exist_ok=True)
    manifest = WORK / "package.json"
    if not manifest.exists():
        manifest.write_text('{"name": "memtui-bench-peers", "private": true}\n')
    for module, packages in PEERS.values():
        if (NODE_MODULES / module / "package.json").exists():
            continue
        if npm is None:
            fail(f"{module} is not installed in {WORK} and npm is not on PATH")
        print(f"installing {' '.join(packages)} into {WORK} ...", file=sys.stderr)
        subprocess.run(
            [npm, "install", "--ignore-scripts", "--no-audit", "--no-fund", *packages],
            cwd=WORK, check=True, stdout=sys.stderr,
            env={**os.environ, "PUPPETEER_SKIP_DOWNLOAD": "1"},
        )


def node_env() -> dict[str, str]:
    """Environment for Node children that resolves the peers from bench/.work/node_modules."""
    return {**os.environ, "NODE_PATH": str(NODE_MODULES)}


@dataclass(frozen=True)
class Measured:
    """One child process run to completion: wall time, peak RSS, exit status and stdout."""

    wall_s: float
    peak_rss: int
    returncode: int
    stdout: str
    stderr: str
    stopped: str | None = None  # why run_measured killed the child, if it did
    load: float = 0.0  # the 1-minute load average when the child started
    cpu_s: float = 0.0  # the child's user + system CPU time (all its threads)

    def result(self) -> dict:
        """The last JSON object line the child printed on stdout ({} if none)."""
        for line in reversed(self.stdout.splitlines()):
            start = line.find("{")
            if start >= 0:
                try:
                    return json.loads(line[start:])
                except json.JSONDecodeError:
                    continue
        return {}


def run_measured(args: Sequence[str], env: dict[str, str] | None = None, *,
                 timeout_s: float | None = None, rss_limit: int | None = None) -> Measured:
    """Run `args` to completion and measure its wall time and peak RSS. A child that runs
    past `timeout_s` or whose RSS passes `rss_limit` bytes is killed (`stopped` says which),
    so a peer that cannot cope with a file does not take the shared machine down with it.

    A child's ru_maxrss (from wait4) starts at this process's own peak RSS, because Linux
    carries the spawning memory's high-water mark across exec. When it exceeds our own peak
    it is the child's exact peak; otherwise the child stayed below it and the peak comes from
    polling the child's VmHWM.
    """
    own_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    WORK.mkdir(exist_ok=True)
    out_path = WORK / f"child-{os.getpid()}.out"
    err_path = WORK / f"child-{os.getpid()}.err"
    polled_peak = 0
    stopped = None
    load = os.getloadavg()[0]
    with open(out_path, "w") as out, open(err_path, "w") as err:
        started = time.perf_counter()
        child = subprocess.Popen(args, stdout=out, stderr=err, env=env)
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            polled_peak = max(polled_peak, vm_hwm(child.pid))
            elapsed = time.perf_counter() - started
            if stopped is None and timeout_s is not None and elapsed > timeout_s:
                stopped = f"killed after {timeout_s:.0f} s"
            elif stopped is None and rss_limit is not None and polled_peak > rss_limit:
                stopped = f"killed at {polled_peak / MB:,.0f} MB RSS after {elapsed:.1f} s"
            if stopped is not None:
                child.kill()
            time.sleep(0.02)
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
    reported = usage.ru_maxrss * 1024
    peak = reported if reported > own_peak else polled_peak
    measured = Measured(wall, peak, child.returncode, out_path.read_text(), err_path.read_text(),
                        stopped, load, usage.ru_utime + usage.ru_stime)
    out_path.unlink()
    err_path.unlink()
    return measured


def vm_hwm(pid: int) -> int:
    """The kernel's peak RSS (VmHWM) of a live process, in bytes; 0 if unreadable."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def print_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """Print rows as an aligned plain-text table, numbers right-aligned."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if _numeric(c) else c.ljust(w) for c, w in zip(row, widths, strict=True)
        ).rstrip()

    print(line(cells[0]))
    print("  ".join("-" * w for w in widths))
    for row in cells[1:]:
        print(line(row))


def _numeric(cell: str) -> bool:
    return cell[:1].isdigit() or (cell[:1] in "+-" and cell[1:2].isdigit())


def load_average() -> str:
    """The machine's 1, 5 and 15 minute load averages, as `uptime` prints them."""
    return ", ".join(f"{load:.2f}" for load in os.getloadavg())


def machine_line(node_binary: str) -> str:
    """One line naming the machine and runtimes the figures were measured on."""
    node = subprocess.run([node_binary, "--version"], capture_output=True,
                          text=True).stdout.strip()
    return (f"{time.strftime('%Y-%m-%d %H:%M %Z')}, {os.cpu_count()} cores, "
            f"{platform.machine()}, Python {platform.python_version()}, Node {node}, "
            f"load average {load_average()}")
