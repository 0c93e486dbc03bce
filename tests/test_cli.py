"""The command line's contract: one-line errors, exit codes, no tracebacks."""

import re
import subprocess

import pytest

from tests.cli_helpers import run_memtui


def unused_pid() -> int:
    with open("/proc/sys/kernel/pid_max") as f:
        return int(f.read()) - 1


@pytest.mark.parametrize("args, message", [
    ((), "no TARGET given"),
    (("record",), "the following arguments are required: TARGET"),
    (("record", "1", "--interval", "-1"), "must be positive"),
    (("record", "1", "--format", "xml"), "invalid choice"),
    (("bogus-flag-only", "--nope"), "unrecognized arguments: --nope"),
])
def test_bad_usage_is_one_line_with_exit_code_2(args, message):
    result = run_memtui(*args)
    assert result.returncode == 2
    assert result.stderr.startswith("memtui: error: ")
    assert message in result.stderr
    assert result.stderr.count("\n") == 1


def test_wrong_pid_is_exit_2_for_every_command():
    pid = str(unused_pid())
    for args in (("record", pid), ("gc", pid), ("snapshot", pid), (pid,)):
        result = run_memtui(*args)
        assert result.returncode == 2, args
        assert result.stderr == f"memtui: error: no process with PID {pid} " \
            "(check the PID; `memtui ps` lists Node processes)\n", result.stderr


def test_a_non_node_process_is_refused_and_left_alive():
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        result = run_memtui("record", str(sleeper.pid), "--duration", "1")
        assert result.returncode == 2
        assert "is not a Node process" in result.stderr
        assert "Traceback" not in result.stderr
        assert sleeper.poll() is None
    finally:
        sleeper.kill()
        sleeper.wait()


def test_debug_shows_the_traceback():
    result = run_memtui("--debug", "gc", str(unused_pid()))
    assert "Traceback" in result.stderr


def test_ps_lists_a_node_process_with_its_inspector(spawn):
    target = spawn("idle.js", "--inspect=127.0.0.1:0")
    port = target.inspector_port()
    result = run_memtui("ps")
    assert result.returncode == 0
    assert result.stdout.split("\n")[0].split() == [
        "PID", "USER", "RSS", "INSPECTOR", "CONTAINER", "COMMAND"]
    line = next(line for line in result.stdout.splitlines() if line.startswith(f"{target.pid} "))
    assert re.search(rf" 127\.0\.0\.1:{port} +- +\S+ .*idle\.js$", line), line
