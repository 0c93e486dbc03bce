"""The bundled demo app: starts with an inspector on a free loopback port, stops cleanly."""

from __future__ import annotations

import psutil
import pytest

from memtui.demo import start_demo, stop_demo
from memtui.errors import MemtuiError


def listening_ports(pid: int) -> set[int]:
    return {c.laddr.port for c in psutil.Process(pid).net_connections("tcp")
            if c.status == psutil.CONN_LISTEN and c.laddr.ip == "127.0.0.1"}


def test_demo_serves_http_and_its_inspector_on_loopback(system_node):
    process = start_demo(system_node)
    try:
        assert process.poll() is None
        assert len(listening_ports(process.pid)) == 2
    finally:
        stop_demo(process)
    assert process.poll() is not None


def test_missing_node_is_a_clear_error():
    with pytest.raises(MemtuiError, match="'no-such-node' not found") as failure:
        start_demo("no-such-node")
    assert "install Node.js" in failure.value.hint


def test_a_node_that_cannot_start_the_demo_is_a_clear_error(tmp_path):
    fake_node = tmp_path / "node"
    fake_node.write_text("#!/bin/sh\necho 'node: bad option: --inspect' >&2\nexit 9\n")
    fake_node.chmod(0o755)
    with pytest.raises(MemtuiError, match="did not start: node: bad option: --inspect"):
        start_demo(str(fake_node))
