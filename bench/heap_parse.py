"""Issues 4 and 13: `memtui summary` (with retained sizes) and `memtui diff` against memlab
and VS Code's heap parser, on the same snapshots, measured side by side in one run.

Generates (and caches in bench/.work/) two snapshots of one Node process (ids comparable),
then measures, each as its own process, what a user runs: `python -m memtui summary --json`
on each file, `python -m memtui diff --json` of the pair, memlab's parse of the first file
(plus a per-class count), and @vscode/v8-heap-parser's decode plus class groups with
retained sizes. `--huge` does the same with a pair of about 2 GB, where the peers are
stopped at a time and memory limit and the bench reports how far they got.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from benchlib import (
    BENCH,
    MB,
    WORK,
    Measured,
    ensure_peers,
    fail,
    machine_line,
    node_env,
    print_table,
    run_measured,
    verdict,
)

DEFAULT_CUSTOMERS = 64_000
HUGE_CUSTOMERS = 500_000
PEER_HEAP_MB = 16_000
TARGET_VS_MEMLAB = 5.0
TARGET_VS_VSCODE = 2.0
TARGET_RSS_PER_FILE_BYTE = 1.5
HUGE_PEER_TIMEOUT_S = 900.0
HUGE_PEER_RSS_LIMIT = 8 * 1024 * MB
JOB_NAMES = ("summary", "summary 2", "diff", "memlab", "vscode")


@dataclass(frozen=True)
class Job:
    name: str
    args: list[str]
    env: dict[str, str] | None = None
    peer: bool = False


def snapshot_paths(node: str, customers: int) -> tuple[Path, Path]:
    """Cached snapshot pair for this Node binary and graph size."""
    tag = Path(node).resolve().as_posix().replace("/", "_").strip("_")[-40:]
    stem = WORK / f"big-{customers}-{tag}"
    return Path(f"{stem}-1.heapsnapshot"), Path(f"{stem}-2.heapsnapshot")


def ensure_snapshots(node: str, customers: int, regenerate: bool) -> tuple[Path, Path]:
    first, second = snapshot_paths(node, customers)
    if regenerate or not (first.exists() and second.exists()):
        print(f"writing two snapshots of {customers} customers with {node} ...", file=sys.stderr)
        heap_mb = max(4096, customers // 30)
        made = run_measured([node, f"--max-old-space-size={heap_mb}",
                             str(BENCH / "make_big_snapshot.js"),
                             str(first), str(second), str(customers)])
        if made.returncode != 0:
            fail(f"make_big_snapshot.js failed: {made.stderr.strip()[-500:]}")
    return first, second


def snapshot_counts(path: Path) -> tuple[int, int]:
    """node_count and edge_count from the snapshot's header (the first few KB)."""
    with open(path, "rb") as file:
        head = file.read(8192).decode("utf-8", "replace")
    return _header_int(head, "node_count"), _header_int(head, "edge_count")


def _header_int(head: str, key: str) -> int:
    at = head.find(f'"{key}":')
    if at < 0:
        return -1
    digits = head[at + len(key) + 3:].lstrip()
    end = 0
    while end < len(digits) and digits[end].isdigit():
        end += 1
    return int(digits[:end]) if end else -1


def jobs(node: str, first: Path, second: Path) -> list[Job]:
    memtui = [sys.executable, "-m", "memtui"]
    peer_node = [node, f"--max-old-space-size={PEER_HEAP_MB}"]
    return [
        Job("summary", [*memtui, "summary", "--json", str(first)]),
        Job("summary 2", [*memtui, "summary", "--json", str(second)]),
        Job("diff", [*memtui, "diff", "--json", str(first), str(second)]),
        Job("memlab", [*peer_node, str(BENCH / "memlab_summary.js"), str(first)], node_env(),
            peer=True),
        Job("vscode", [*peer_node, str(BENCH / "vscode_summary.js"), str(first), "--retained"],
            node_env(), peer=True),
    ]


LABELS = {
    "summary": "memtui summary --json FILE (retained sizes)",
    "summary 2": "memtui summary --json SECOND",
    "diff": "memtui diff --json FILE SECOND",
    "memlab": "memlab 2.0.5 parse + class counts",
    "vscode": "@vscode/v8-heap-parser 0.1.0 decode + classes, retained",
}


def report(results: dict[str, Measured], first: Path, second: Path) -> bool:
    """Print the table, the ratios and a PASS/FAIL per target; True if every target passed."""
    first_size, pair_size = first.stat().st_size, first.stat().st_size + second.stat().st_size
    rows = []
    for name, m in results.items():
        out = m.result()
        size = pair_size if name == "diff" else (second.stat().st_size if name == "summary 2"
                                                 else first_size)
        status = m.stopped or ("ok" if m.returncode == 0 else f"exit {m.returncode}")
        rows.append([LABELS[name], f"{m.wall_s:.2f}", f"{m.cpu_s:.2f}",
                     f"{m.peak_rss / MB:,.0f}", f"{m.peak_rss / size:.2f}",
                     out.get("classes", "-"), f"{m.load:.2f}", status])
    print_table(["command", "wall s", "CPU s", "peak RSS MiB", "RSS/file(s)", "classes",
                 "load", "status"], rows)
    for name, m in results.items():
        if m.returncode != 0 and not m.stopped:
            print(f"\n{name} failed (exit {m.returncode}): {m.stderr.strip()[-800:]}")

    def ok(name: str) -> Measured | None:
        m = results.get(name)
        return m if m is not None and m.returncode == 0 and not m.stopped else None

    summary = ok("summary")
    checks: list[tuple[str, str, bool | None]] = []  # None: not judged (the peer failed)
    if summary is not None:
        for peer, factor in (("memlab", TARGET_VS_MEMLAB), ("vscode", TARGET_VS_VSCODE)):
            other = ok(peer)
            if other is not None:
                speedup = other.wall_s / summary.wall_s
                checks.append((f"summary >= {factor:g}x faster than {peer}",
                               f"{speedup:.2f}x (CPU time: {other.cpu_s / summary.cpu_s:.2f}x)",
                               speedup >= factor))
            elif peer in results:
                checks.append((f"summary >= {factor:g}x faster than {peer}",
                               f"{peer} did not finish", None))
        ratio = summary.peak_rss / first_size
        checks.append((f"summary peak RSS <= {TARGET_RSS_PER_FILE_BYTE:g}x file",
                       f"{ratio:.2f}x", ratio <= TARGET_RSS_PER_FILE_BYTE))
    elif "summary" in results:
        checks.append(("memtui summary finishes", "no", False))
    diff, summary_2 = ok("diff"), ok("summary 2")
    if diff is not None:
        if summary is not None and summary_2 is not None:
            both = summary.wall_s + summary_2.wall_s
            checks.append(("diff <= the two summaries' time", f"{diff.wall_s / both:.2f}x",
                           diff.wall_s <= both))
        ratio = diff.peak_rss / pair_size
        checks.append((f"diff peak RSS <= {TARGET_RSS_PER_FILE_BYTE:g}x both files",
                       f"{ratio:.2f}x", ratio <= TARGET_RSS_PER_FILE_BYTE))
    elif "diff" in results:
        checks.append(("memtui diff finishes", "no", False))
    print()
    print_table(["target", "measured", "verdict"],
                [[what, value, "-" if passed is None else verdict(passed)]
                 for what, value, passed in checks])
    return all(passed is not False for _, _, passed in checks)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--node", default=shutil.which("node") or "node",
                        help="Node binary that writes the snapshots and runs the peers")
    parser.add_argument("--customers", type=int, default=None,
                        help=f"graph size (default {DEFAULT_CUSTOMERS}: ~3.6 M nodes, "
                             f"~255 MB; with --huge {HUGE_CUSTOMERS}: ~2 GB)")
    parser.add_argument("--huge", action="store_true",
                        help="the ~2 GB pair; peers are stopped after "
                             f"{HUGE_PEER_TIMEOUT_S:.0f} s or at "
                             f"{HUGE_PEER_RSS_LIMIT / MB / 1024:.0f} GB")
    parser.add_argument("--regenerate", action="store_true", help="rewrite the cached snapshots")
    parser.add_argument("--only", nargs="+", choices=JOB_NAMES, help="measure only these")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs of each job (interleaved); the run with the median wall "
                             "time is reported")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        fail("--repeat must be at least 1")
    customers = args.customers or (HUGE_CUSTOMERS if args.huge else DEFAULT_CUSTOMERS)

    ensure_peers()
    first, second = ensure_snapshots(args.node, customers, args.regenerate)
    nodes, edges = snapshot_counts(first)
    print(f"machine: {machine_line(args.node)}; load average at start "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"snapshot: {first.name}: {first.stat().st_size / MB:,.0f} MiB, {nodes:,} nodes, "
          f"{edges:,} edges; second: {second.stat().st_size / MB:,.0f} MiB\n")

    limits = ({"timeout_s": HUGE_PEER_TIMEOUT_S, "rss_limit": HUGE_PEER_RSS_LIMIT}
              if args.huge else {})
    selected = [job for job in jobs(args.node, first, second)
                if not args.only or job.name in args.only]
    runs: dict[str, list[Measured]] = {job.name: [] for job in selected}
    for attempt in range(1, args.repeat + 1):
        for job in selected:
            print(f"run {attempt}/{args.repeat}: {job.name} ...", file=sys.stderr)
            runs[job.name].append(run_measured(job.args, job.env,
                                               **(limits if job.peer else {})))
    return 0 if report({name: median_run(m) for name, m in runs.items()}, first, second) else 1


def median_run(runs: list[Measured]) -> Measured:
    """The run with the median wall time (the lower middle one for an even count)."""
    return sorted(runs, key=lambda m: m.wall_s)[(len(runs) - 1) // 2]


if __name__ == "__main__":
    raise SystemExit(main())
