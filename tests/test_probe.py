"""The probe's own tests, run by `node --test` under each supported Node major."""

import subprocess
from pathlib import Path

PROBE_TESTS = Path(__file__).parent / "node" / "probe.test.js"


def test_probe_node_suite_passes(node):
    result = subprocess.run([node, "--test", "--expose-gc", str(PROBE_TESTS)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "fail 0" in result.stdout
