"""The bundled leaky demo app: a small Node web server that leaks about 1.5 MB a minute."""

from __future__ import annotations

import ctypes
import selectors
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from memtui.errors import MemtuiError

DEMO_SCRIPT = Path(__file__).with_name("leaky_app.js")
READY_PREFIX = "memtui demo listening on "
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0
PR_SET_PDEATHSIG = 1


def start_demo(node: str = "node") -> subprocess.Popen[str]:
    """Start the demo with its inspector on a free loopback port; returns once it serves HTTP.

    The demo's stderr (the inspector's banner) goes to a temporary file, so it never
    writes over the terminal the UI draws on.
    """
    binary = shutil.which(node)
    if binary is None:
        raise MemtuiError(f"cannot start the demo: {node!r} not found",
                          "install Node.js 20 or newer, or put `node` on PATH")
    with tempfile.TemporaryFile(mode="w+", prefix="memtui-demo-") as stderr:
        proc = subprocess.Popen(
            [binary, "--inspect=127.0.0.1:0", str(DEMO_SCRIPT)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr, text=True,
            start_new_session=True, preexec_fn=_end_with_parent,
        )
        if _wait_until_ready(proc, time.monotonic() + START_TIMEOUT_S):
            return proc
        stop_demo(proc)
        stderr.seek(0)
        last = (stderr.read().strip().splitlines() or ["no output within the time limit"])[-1]
    raise MemtuiError(f"the demo app did not start: {last}",
                      f"check that {binary} runs `{DEMO_SCRIPT}`")


def _end_with_parent() -> None:
    """In the demo before exec: have Linux send it SIGTERM when memtui dies, however it dies
    (even by SIGKILL), so the demo never outlives the monitor that started it."""
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _wait_until_ready(proc: subprocess.Popen[str], deadline: float) -> bool:
    """Read the demo's stdout until it announces its address; False at EOF or the deadline."""
    stdout = proc.stdout
    assert stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(stdout, selectors.EVENT_READ)
        while (remaining := deadline - time.monotonic()) > 0 and selector.select(remaining):
            line = stdout.readline()
            if not line:
                return False
            if line.startswith(READY_PREFIX):
                stdout.close()
                return True
    return False


def stop_demo(proc: subprocess.Popen[str]) -> None:
    """Stop the demo: SIGTERM, then SIGKILL if it has not exited within a few seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
