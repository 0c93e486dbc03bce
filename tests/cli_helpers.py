"""Running memtui's command line as a user would, in a subprocess."""

import json
import subprocess
import sys


def run_memtui(*args: str, timeout: float = 60, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "memtui", *args], capture_output=True,
                          text=True, timeout=timeout, **kwargs)


def start_memtui(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "memtui", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def jsonl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]
