"""`memtui gc` and `memtui snapshot` against real Node processes, including failures."""

import json
import re
import resource
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

from memtui.attach import find_inspector_address
from tests.cli_helpers import run_memtui


def test_gc_prints_heap_used_before_and_after(node, spawn):
    target = spawn("leaky.js", "--inspect=127.0.0.1:0", node=node)
    result = run_memtui("gc", str(target.pid))
    assert result.returncode == 0, result.stderr
    # The leaky target allocates all the time: a GC right after a natural one can free less
    # than was allocated meanwhile, and the line says so.
    match = re.fullmatch(r"heap used [\d.]+ \w+ -> [\d.]+ \w+ \((freed [\d.]+ \w+|the heap grew "
                         r"by [\d.]+ \w+: the program allocated more than the GC freed) in "
                         r"[\d.]+s\)\n", result.stdout)
    assert match, result.stdout


def test_snapshot_is_written_whole_with_mode_0600_and_its_origin(node, spawn, tmp_path):
    target = spawn("idle.js", "--inspect=127.0.0.1:0", node=node)
    result = run_memtui("snapshot", str(target.pid), "-o", str(tmp_path))
    assert result.returncode == 0, result.stderr
    files = sorted(p.name for p in tmp_path.iterdir())
    assert len(files) == 2, files
    snapshot = tmp_path / files[0]
    assert re.fullmatch(rf"memtui-{target.pid}-\d{{8}}T\d{{6}}\.heapsnapshot", snapshot.name)
    assert stat.S_IMODE(snapshot.stat().st_mode) == 0o600
    assert result.stdout.startswith(str(snapshot))
    data = json.loads(snapshot.read_text())
    assert data["snapshot"]["node_count"] * len(data["snapshot"]["meta"]["node_fields"]) \
        == len(data["nodes"])
    origin = json.loads((tmp_path / files[1]).read_text())
    assert origin["pid"] == target.pid and origin["session"]


def test_snapshot_to_a_named_file(spawn, tmp_path):
    target = spawn("idle.js", "--inspect=127.0.0.1:0")
    out = tmp_path / "before.heapsnapshot"
    result = run_memtui("snapshot", str(target.pid), "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert out.stat().st_size > 100_000


def test_a_missing_output_directory_is_refused_before_attaching(spawn, tmp_path):
    target = spawn("idle.js", "--inspect-port=0")
    missing = tmp_path / "no" / "such"
    result = run_memtui("snapshot", str(target.pid), "-o", str(missing / "x.heapsnapshot"))
    assert result.returncode == 2
    assert result.stderr == (f"memtui: error: cannot write a snapshot in {missing}: it does "
                             "not exist (choose another directory with -o)\n")
    assert find_inspector_address(target.pid) is None  # never signalled


def test_a_full_disk_leaves_no_snapshot_and_says_so(spawn, tmp_path):
    target = spawn("idle.js", "--inspect=127.0.0.1:0")

    def small_file_limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1_000_000, 1_000_000))

    result = subprocess.run([sys.executable, "-m", "memtui", "snapshot", str(target.pid), "-o",
                             str(tmp_path)], capture_output=True, text=True, timeout=60,
                            preexec_fn=small_file_limit)
    assert result.returncode == 1
    attached, error = result.stderr.splitlines()
    assert attached.startswith(f"memtui: attached to pid {target.pid} ")
    assert error.startswith("memtui: error: cannot write ")
    assert "the snapshot was discarded" in error
    assert list(tmp_path.iterdir()) == []
    assert target.alive()


def test_a_target_dying_mid_capture_leaves_no_file(spawn, tmp_path):
    target = spawn("big_heap.js", "--inspect=127.0.0.1:0")
    memtui = subprocess.Popen([sys.executable, "-m", "memtui", "snapshot", str(target.pid),
                               "-o", str(tmp_path)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    part = _wait_for_part_file(tmp_path)
    assert part is not None, "the capture never started writing"
    target.kill()
    _, err = memtui.communicate(timeout=60)
    assert memtui.returncode == 1
    assert f"pid {target.pid} was killed by SIGKILL during the snapshot; no snapshot was written" \
        in err
    assert list(tmp_path.iterdir()) == []


def _wait_for_part_file(directory: Path, deadline: float = 60.0) -> Path | None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        parts = [p for p in directory.glob("*.part") if p.stat().st_size > 0]
        if parts:
            return parts[0]
        time.sleep(0.02)
    return None


def test_planted_symlinks_and_loose_modes_are_not_followed(spawn, tmp_path):
    """Default names are predictable and memtui runs as root: a symlink at a snapshot's or a
    capture record's name is replaced, never written through; the files are 0600."""
    target = spawn("idle.js", "--inspect=127.0.0.1:0")
    victim = tmp_path / "victim"
    victim.write_text("precious")
    snapshot = tmp_path / "planted.heapsnapshot"
    snapshot.symlink_to(victim)
    (tmp_path / "planted.heapsnapshot.memtui.json").symlink_to(victim)
    loose = tmp_path / "loose.heapsnapshot"
    loose.write_text("old")
    loose.chmod(0o666)
    for path in (snapshot, loose):
        result = run_memtui("snapshot", str(target.pid), "-o", str(path))
        assert result.returncode == 0, result.stderr
        assert path.is_file() and not path.is_symlink()
        assert path.stat().st_mode & 0o777 == 0o600
        record = path.with_name(path.name + ".memtui.json")
        assert not record.is_symlink() and record.stat().st_mode & 0o777 == 0o600
    assert victim.read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "loose.heapsnapshot", "loose.heapsnapshot.memtui.json", "planted.heapsnapshot",
        "planted.heapsnapshot.memtui.json", "victim"]


def test_a_record_file_is_created_0600_and_never_through_a_symlink(spawn, tmp_path):
    target = spawn("idle.js", "--inspect=127.0.0.1:0")
    victim = tmp_path / "victim"
    victim.write_text("precious")
    planted = tmp_path / "samples.jsonl"
    planted.symlink_to(victim)
    refused = run_memtui("record", str(target.pid), "--duration", "1", "-o", str(planted))
    assert refused.returncode == 2
    assert refused.stderr == f"memtui: error: cannot write {planted}: it is a symbolic link\n"
    fresh = tmp_path / "fresh.jsonl"
    written = run_memtui("record", str(target.pid), "--duration", "1", "-o", str(fresh))
    assert written.returncode == 0, written.stderr
    assert fresh.stat().st_mode & 0o777 == 0o600
    assert victim.read_text() == "precious"
