"""Several memtuis coming and going on a target whose event loop is blocked most of the time:
the loop that crashed Node 20 with SIGSEGV within 5-13 rounds (issue 9, point 0).

Each of --loops loops runs, --rounds times: `memtui gc PID`, a pause of 0-0.9 s, then
`memtui record PID --duration 2..6`. The target blocks its event loop with 3 s of synchronous
work every 3.5 s (tests/node/blocked_loop.js) and its inspector starts closed, so the first
memtui opens it with SIGUSR1 and the last one to leave has the target close it again.

PASS when the target is alive at the end, every command exited 0, and no inspector is left
listening 10 s after the last memtui left. Prints the exit codes and errors met.
"""

from __future__ import annotations

import argparse
import collections
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

from benchlib import machine_line, print_table, verdict

from memtui.attach import find_inspector_address

TARGET = Path(__file__).resolve().parent.parent / "tests" / "node" / "blocked_loop.js"


def memtui(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "memtui", *args], capture_output=True,
                          text=True, timeout=120)


def one_loop(pid: int, rounds: int, seed: int, outcomes: collections.Counter[str],
             errors: collections.Counter[str], lock: threading.Lock) -> None:
    rng = random.Random(seed)
    for _ in range(rounds):
        for command in (("gc", str(pid)),
                        ("record", str(pid), "--duration", str(rng.randint(2, 6)))):
            result = memtui(*command)
            with lock:
                outcomes[f"{command[0]} exit {result.returncode}"] += 1
                if result.returncode != 0:
                    errors[result.stderr.strip().splitlines()[-1][:160]] += 1
            if command[0] == "gc":
                time.sleep(rng.randint(0, 9) / 10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--node", default="node", help="the node binary (default: node)")
    parser.add_argument("--rounds", type=int, default=30, help="rounds per loop (default: 30)")
    parser.add_argument("--loops", type=int, default=3,
                        help="loops running at once (default: 3)")
    parser.add_argument("--busy-ms", type=int, default=3000)
    parser.add_argument("--period-ms", type=int, default=3500)
    args = parser.parse_args()
    print(machine_line(args.node))
    target = subprocess.Popen([args.node, "--inspect-port=0", str(TARGET), str(args.busy_ms),
                               str(args.period_ms)], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True)
    try:
        assert target.stdout is not None and target.stdout.readline().strip() == "ready"
        outcomes: collections.Counter[str] = collections.Counter()
        errors: collections.Counter[str] = collections.Counter()
        lock = threading.Lock()
        started = time.monotonic()
        loops = [threading.Thread(target=one_loop,
                                  args=(target.pid, args.rounds, seed, outcomes, errors, lock))
                 for seed in range(args.loops)]
        for loop in loops:
            loop.start()
        for loop in loops:
            loop.join()
        elapsed = time.monotonic() - started
        alive = target.poll() is None
        deadline = time.monotonic() + 10
        while alive and find_inspector_address(target.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        left_open = alive and find_inspector_address(target.pid) is not None
    finally:
        code = target.poll()
        target.kill()
        target.wait()
    failed = sum(n for outcome, n in outcomes.items() if not outcome.endswith(" 0"))
    print(f"{args.loops} loops x {args.rounds} rounds in {elapsed:.0f}s; target blocked "
          f"{args.busy_ms} ms of every {args.period_ms}")
    print_table(["outcome", "count"], sorted(outcomes.items()))
    for error, count in errors.most_common():
        print(f"  {count:3d} x {error}")
    checks = [("target alive", alive, "alive" if alive else f"died with {code}"),
              ("every command exit 0", failed == 0, f"{failed} failed"),
              ("inspector closed after", not left_open,
               "still listening" if left_open else "closed")]
    print_table(["target", "verdict", "detail"],
                [(name, verdict(ok), detail) for name, ok, detail in checks])
    return 0 if all(ok for _, ok, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
