"""Several processes watched at once on one host (issue 11, point 2). SIGUSR1 opens every
process's inspector on the same configured port (9229 unless set): memtui moves each one it
opens to an ephemeral loopback port, so the next process can be opened too, and restores
the port SIGUSR1 uses when it closes it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.cli_helpers import jsonl, run_memtui, wait_until_inspector_closed
from tests.test_attach import free_port


@pytest.mark.parametrize("count", [2, 5])
def test_processes_sharing_one_inspector_port_are_all_recorded_at_once(spawn, count):
    port = free_port()
    targets = [spawn("idle.js", f"--inspect-port={port}") for _ in range(count)]
    with ThreadPoolExecutor(count) as pool:
        results = list(pool.map(lambda target: run_memtui(
            "record", str(target.pid), "--duration", "2"), targets))
    for target, result in zip(targets, results, strict=True):
        assert result.returncode == 0, result.stderr
        assert len(jsonl(result.stdout)) >= 2
        assert f"opened by memtui with SIGUSR1 and moved off port {port}" in result.stderr
        assert not any("Starting inspector" in line for line in target.lines), target.lines
    for target in targets:
        assert wait_until_inspector_closed(target.pid)


def test_the_port_sigusr1_uses_is_restored(spawn):
    port = free_port()
    target = spawn("idle.js", f"--inspect-port={port}")
    for _ in range(2):
        result = run_memtui("gc", str(target.pid))
        assert result.returncode == 0, result.stderr
        assert f"moved off port {port}" in result.stderr
        assert wait_until_inspector_closed(target.pid)
    listening = [line for line in target.lines if "Debugger listening on" in line]
    assert sum(f":{port}/" in line for line in listening) == 2
