"""Ctrl-C in the live view in the first second of a heap snapshot, again and again: the
case that killed Node 20 with SIGSEGV in 1 of 50 tries while memtui dropped its connection
during the snapshot's stream (issue 9).

Each of --loops loops runs, --rounds times: a new target holding 0.3, 0.8 or 1.5 million
small objects (tests/node/big_heap.js) with its inspector closed; `memtui PID` in a pseudo-
terminal of its own; `s`; once "capturing" shows, a pause of 0-1.2 s (none in half the
rounds); Ctrl-C. Core dumps of a target that crashes are left in the working directory
when `ulimit -c` allows them.

PASS when every target is alive at the end of its round, every memtui exited 0 and no
inspector is left listening 60 s after memtui left.
"""

from __future__ import annotations

import argparse
import collections
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchlib import machine_line, print_table, verdict

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.cli_helpers import wait_until_inspector_closed  # noqa: E402
from tests.live_terminal import LiveTerminal  # noqa: E402
from tests.nodeproc import start_node  # noqa: E402

SIZES = ("300000", "800000", "1500000")


def one_round(node: str, rng: random.Random) -> str:
    """One try; its outcome in a word or two."""
    directory = tempfile.mkdtemp(prefix="memtui-interrupt-")
    target = start_node(node, "big_heap.js", "--inspect-port=0", args=(rng.choice(SIZES),))
    terminal = LiveTerminal(str(target.pid), "--snapshot-dir", directory)
    try:
        terminal.wait_for("attached; sampling", timeout=60)
        terminal.press(b"s")
        terminal.wait_for("capturing", timeout=60)
        time.sleep(rng.choice((0.0, rng.uniform(0.0, 1.2))))
        terminal.press(b"\x03")
        code = terminal.wait_exit(180)
    except AssertionError:
        code = None
    finally:
        terminal.close()
    try:
        closed = target.alive() and wait_until_inspector_closed(target.pid, deadline=60)
        if not target.alive():
            return f"target died ({target.proc.returncode})"
        if code != 0:
            return f"memtui exited {code}"
        return "ok" if closed else "inspector left open"
    finally:
        target.kill()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loops", type=int, default=2, help="loops at once (default: 2)")
    parser.add_argument("--rounds", type=int, default=25,
                        help="tries per loop (default: 25, about 12 min)")
    parser.add_argument("--node", default="node", help="the Node binary (default: node)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default: 1)")
    args = parser.parse_args()
    print(machine_line(args.node))
    outcomes: collections.Counter[str] = collections.Counter()
    lock = threading.Lock()

    def loop(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(args.rounds):
            outcome = one_round(args.node, rng)
            with lock:
                outcomes[outcome] += 1
                print(f"  {sum(outcomes.values())}: {outcome}", flush=True)

    loops = [threading.Thread(target=loop, args=(args.seed + n,)) for n in range(args.loops)]
    for thread in loops:
        thread.start()
    for thread in loops:
        thread.join()
    print_table(["outcome", "tries"], sorted(outcomes.items()))
    total = sum(outcomes.values())
    ok = outcomes["ok"] == total
    print_table(["target", "result", "figure"],
                [("every target alive, every inspector closed", verdict(ok),
                  f"{outcomes['ok']} of {total} tries")])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
