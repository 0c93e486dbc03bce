"""The command line's contract: one-line errors, exit codes, no tracebacks."""

import os
import re
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from memtui.attach import find_inspector_address
from tests.cli_helpers import run_memtui


def unused_pid() -> int:
    with open("/proc/sys/kernel/pid_max") as f:
        return int(f.read()) - 1


@pytest.mark.parametrize("args, message", [
    ((), "no TARGET given"),
    (("record",), "the following arguments are required: TARGET"),
    (("record", "1", "--interval", "-1"), "must be positive"),
    (("record", "1", "--interval", "nan"), "not a finite number of seconds"),
    (("record", "1", "--interval", "inf"), "not a finite number of seconds"),
    (("record", "1", "--interval", "1e-9"), "must be between 0.1 and 3600 seconds"),
    (("record", "1", "--duration", "nan"), "not a finite number of seconds"),
    (("record", "1", "--duration", "0"), "must be positive"),
    (("gc", "\u0663\u0664"), "is not a PID, HOST:PORT or ws:// URL"),
    (("record", "1", "--format", "xml"), "invalid choice"),
    (("bogus-flag-only", "--nope"), "unrecognized arguments: --nope"),
    (("--children", "abc"), "not a PID: 'abc'"),
    (("--children", str(unused_pid())), f"no process with PID {unused_pid()}"),
    (("--children", "1", "--all"), "not allowed with argument"),
    (("--all", "--max-processes", "0"), "must be a whole number, 1 or more"),
    (("--all", "--max-processes", "\u0663"), "must be a whole number, 1 or more"),
    (("--all", "1234"), "give TARGETs or --all, not both"),
    (("1", "2", "--follow"), "--follow follows one process"),
    (("leaks", "a", "b"), "leaks needs three snapshot files, not 2"),
    (("leaks", "a", "b", "c", "--wait", "5"), "--wait, -o and --force go with --capture"),
    (("leaks", "a", "--capture", "1"), "--capture takes its own three snapshots, not files"),
    (("leaks", "--capture", "1", "-o", "/no/such/dir"), "-o /no/such/dir is not a directory"),
])
def test_bad_usage_is_one_line_with_exit_code_2(args, message):
    result = run_memtui(*args)
    assert result.returncode == 2
    assert result.stderr.startswith("memtui: error: ")
    assert message in result.stderr
    assert result.stderr.count("\n") == 1


def test_children_of_a_process_without_node_in_its_family_is_exit_2():
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        result = run_memtui("--children", str(sleeper.pid))
    finally:
        sleeper.kill()
        sleeper.wait()
    assert result.returncode == 2
    assert result.stderr == (f"memtui: error: no Node process found: pid {sleeper.pid} and "
                             "its Node descendants (`memtui ps` lists Node processes)\n")


def test_wrong_pid_is_exit_2_for_every_command():
    pid = str(unused_pid())
    for args in (("record", pid), ("gc", pid), ("snapshot", pid), (pid,)):
        result = run_memtui(*args)
        assert result.returncode == 2, args
        assert result.stderr == f"memtui: error: no process with PID {pid} " \
            "(check the PID; `memtui ps` lists Node processes)\n", result.stderr


def test_the_live_view_is_the_default_after_memtuis_own_options(tmp_path):
    """`memtui --debug PID` and `memtui --log FILE PID` watch PID, as `memtui PID` does."""
    pid = str(unused_pid())
    error = f"memtui: error: no process with PID {pid} "
    logged = run_memtui("--log", str(tmp_path / "memtui.log"), pid)
    assert logged.returncode == 2
    assert logged.stderr.startswith(error), logged.stderr
    debugged = run_memtui("--debug", pid)
    assert debugged.returncode == 2
    assert error in debugged.stderr and "invalid choice" not in debugged.stderr


def test_more_processes_than_the_limit_are_refused_before_any_is_touched(spawn):
    primary = spawn("cluster.js", args=("2",))
    result = run_memtui("--children", str(primary.pid), "--max-processes", "2")
    assert result.returncode == 2
    assert result.stderr == (
        f"memtui: error: 3 processes found (pid {primary.pid} and its Node descendants); "
        "memtui attaches to at most 2 at once (it opens the inspector of each and runs its "
        "probe in each) (raise --max-processes, or name the PIDs to watch)\n")
    family = [primary.pid, *(worker.pid for worker in psutil.Process(primary.pid).children())]
    assert len(family) == 3
    assert all(find_inspector_address(pid) is None for pid in family)
    assert not [line for line in primary.lines if "Debugger listening" in line]


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
        "PID", "USER", "RSS", "INSPECTOR", "CONTAINER", "ROLE", "COMMAND"]
    line = next(line for line in result.stdout.splitlines() if line.startswith(f"{target.pid} "))
    assert re.search(rf" 127\.0\.0\.1:{port} +- +- +\S+ .*idle\.js$", line), line


def test_ps_names_a_cluster_primary_and_its_workers(spawn):
    primary = spawn("cluster.js", args=("2",))
    workers = [worker.pid for worker in psutil.Process(primary.pid).children()]
    result = run_memtui("ps")
    assert result.returncode == 0
    lines = {int(line.split()[0]): line for line in result.stdout.splitlines()[1:]}
    assert " primary (2 workers) " in lines[primary.pid]
    for worker in workers:
        assert f" worker of {primary.pid} " in lines[worker]


def test_the_debug_log_has_the_attach_the_inspector_traffic_and_the_detach(spawn, tmp_path):
    target = spawn("idle.js", "--inspect-port=0")
    log = tmp_path / "memtui.log"
    result = run_memtui("--log", str(log), "record", str(target.pid), "--duration", "1")
    assert result.returncode == 0, result.stderr
    assert result.stderr.endswith(f"memtui: log written to {log}\n")
    text = log.read_text()
    for expected in ("sending SIGUSR1 to PID", "SEND 1 Runtime.evaluate", "RECV 1 ",
                     "probe installed", "probe uninstalled", "dropping the connection"):
        assert expected in text, expected
    assert oct(log.stat().st_mode & 0o777) == "0o600"


def test_an_unexpected_failure_is_one_line_with_its_traceback_in_a_crash_log(tmp_path):
    program = ("import sys, memtui.cli as cli\n"
               "def boom(args): raise ZeroDivisionError('a bug')\n"
               "cli.HANDLERS['ps'] = boom\n"
               "sys.exit(cli.main(['ps']))\n")
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                            env={**os.environ, "XDG_STATE_HOME": str(tmp_path)}, timeout=60)
    assert result.returncode == 1
    line, logged = result.stderr.splitlines()
    assert line.startswith("memtui: error: internal error: ZeroDivisionError: a bug (the "
                           f"traceback is in {tmp_path}/memtui/memtui-crash-")
    crash_log = Path(line.rpartition("the traceback is in ")[2].rstrip(")"))
    assert "Traceback" in crash_log.read_text() and "ZeroDivisionError" in crash_log.read_text()
    assert logged == f"memtui: log written to {crash_log}"


def test_ps_on_a_full_disk_is_a_one_line_error():
    with open("/dev/full", "w") as full:
        result = subprocess.run([sys.executable, "-m", "memtui", "ps"], stdout=full,
                                stderr=subprocess.PIPE, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr == ("memtui: error: cannot write the output: No space left on device "
                             "(free disk space, or write it elsewhere)\n")
