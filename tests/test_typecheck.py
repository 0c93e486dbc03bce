"""The code base stays `ruff` clean and `mypy` clean (pyproject.toml's [tool.mypy] checks the
package `memtui`), run as a user of the repository runs them."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


def run_tool(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m MODULE ARGS` in the repository; skips, saying why, without the tool."""
    if importlib.util.find_spec(module) is None:
        reason = f"{module} is not installed in {sys.executable} (pip install -e '.[test]')"
        print(reason)
        pytest.skip(reason)
    return subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)


def test_ruff_finds_nothing():
    result = run_tool("ruff", "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_finds_nothing():
    result = run_tool("mypy")
    assert result.returncode == 0, result.stdout + result.stderr
