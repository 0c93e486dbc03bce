"""An inspector memtui would open beyond loopback (issue 9, point 6), and addresses SIGUSR1
cannot open at all (point 11). The tests themselves stay on loopback: the one inspector that
is opened on another address lives in a network namespace of its own, whose only interface is
its loopback, given that address too: nothing else can reach it."""

from __future__ import annotations

import pytest

from tests.cli_helpers import jsonl, run_memtui, wait_until_inspector_closed
from tests.test_containers import namespaces_unavailable

ISOLATED_ADDRESS = "10.9.9.9"
ISOLATED = ("unshare", "--net", "sh", "-c",
            f"ip link set lo up && ip addr add {ISOLATED_ADDRESS}/32 dev lo && " 'exec "$@"',
            "sh")


def never_listened(target) -> bool:
    return not any("Debugger listening" in line or "Starting inspector" in line
                   for line in target.lines)


@pytest.mark.parametrize("how", ["--inspect-port", "NODE_OPTIONS"])
def test_sigusr1_onto_every_interface_is_refused_before_signalling(spawn, how):
    if how == "NODE_OPTIONS":
        target = spawn("idle.js", env={"NODE_OPTIONS": "--inspect-port=0.0.0.0:0"})
    else:
        target = spawn("idle.js", "--inspect-port=0.0.0.0:0")
    result = run_memtui("record", str(target.pid), "--duration", "1")
    assert result.returncode == 2
    assert result.stderr == (
        f"memtui: error: PID {target.pid} would open its inspector on 0.0.0.0:0, which is not "
        "a loopback address: anyone who can reach it could run code in the process (restart "
        "it with --inspect-port=127.0.0.1:PORT, or pass --allow-non-loopback-inspector to open "
        "it there anyway for this session)\n")
    assert never_listened(target)
    assert target.alive()


def test_an_address_this_host_does_not_have_is_named_as_the_cause(spawn):
    target = spawn("idle.js", "--inspect-port=192.0.2.1:0")
    result = run_memtui("gc", str(target.pid), "--allow-non-loopback-inspector")
    assert result.returncode == 1
    assert result.stderr == (
        f"memtui: error: PID {target.pid}'s inspector is configured for 192.0.2.1:0, an "
        "address this host does not have, so SIGUSR1 cannot open it (restart the target with "
        "--inspect-port=127.0.0.1:PORT)\n")
    assert never_listened(target)


@pytest.fixture
def isolated() -> None:
    reason = namespaces_unavailable()
    if reason:
        pytest.skip(reason)


@pytest.mark.usefixtures("isolated")
def test_an_address_hidden_by_process_title_is_closed_at_once(spawn):
    """process.title overwrites the command line, options included: memtui cannot see the
    non-loopback address before signalling, and closes the inspector as soon as it opens."""
    target = spawn("titled.js", f"--inspect-port={ISOLATED_ADDRESS}:0", wrapper=ISOLATED)
    result = run_memtui("record", str(target.pid), "--duration", "1")
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert result.stderr.startswith(
        f"memtui: error: PID {target.pid} opened its inspector on {ISOLATED_ADDRESS}:")
    assert result.stderr.endswith(
        "which is not a loopback address (its command line, rewritten by process.title, did "
        "not show the option that says so); memtui closed it again (restart it with "
        "--inspect-port=127.0.0.1:PORT, or pass --allow-non-loopback-inspector to open it "
        "there anyway for this session)\n")
    assert wait_until_inspector_closed(target.pid)
    assert target.alive()


@pytest.mark.usefixtures("isolated")
class TestAllowed:
    def test_allowed_it_is_said_loudly_and_closed_on_exit(self, spawn):
        target = spawn("idle.js", f"--inspect-port={ISOLATED_ADDRESS}:0", wrapper=ISOLATED)
        result = run_memtui("record", str(target.pid), "--duration", "1",
                            "--allow-non-loopback-inspector")
        assert result.returncode == 0, result.stderr
        assert len(jsonl(result.stdout)) >= 1
        assert f"through its inspector at {ISOLATED_ADDRESS}:" in result.stderr
        assert "WARNING: that address is reachable from other hosts" in result.stderr
        assert wait_until_inspector_closed(target.pid)

    def test_it_is_never_kept_open(self, spawn):
        target = spawn("idle.js", f"--inspect-port={ISOLATED_ADDRESS}:0", wrapper=ISOLATED)
        result = run_memtui("gc", str(target.pid), "--allow-non-loopback-inspector",
                            "--keep-inspector")
        assert result.returncode == 2
        assert "which is not a loopback address, and will not leave it open (drop " \
               "--keep-inspector)" in result.stderr
        assert wait_until_inspector_closed(target.pid)
