"""Running memtui's command line as a user would, in a subprocess."""

import json
import signal
import subprocess
import sys
import time

from memtui.attach import find_inspector_address


def run_memtui(*args: str, timeout: float = 60, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "memtui", *args], capture_output=True,
                          text=True, timeout=timeout, **kwargs)


def default_sigint() -> None:
    """In a child before exec: take Ctrl-C's default action even when this process was
    started with SIGINT ignored (a background job of a non-interactive shell), so that
    Python in the child installs its KeyboardInterrupt handler."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_memtui(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "memtui", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=default_sigint)


def jsonl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def wait_until_inspector_closed(pid: int, deadline: float = 5.0) -> bool:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if find_inspector_address(pid) is None:
            return True
        time.sleep(0.05)
    return False
