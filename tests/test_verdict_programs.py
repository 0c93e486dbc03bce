"""The verdicts on real Node programs: every program of tests/node/verdicts.js (and the Buffer
leak) recorded at once by `memtui record`, as a user would run it, then judged one by one.

The programs run with a 192 MiB heap limit, as in a small container (and their inspectors
open on ports of their own); each serves simulated
requests that leave medium-lived objects behind, so V8 runs a major GC every few seconds of
its own accord (nothing forces one). Every leak must be flagged, with its kind, within
DETECTED_WITHIN_S of the first sample; no other program may be called a leak at any sample of
the RECORD_S the recording lasts.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.cli_helpers import jsonl, start_memtui, wait_until_inspector_closed
from tests.nodeproc import NodeProcess, node_binary, node_majors, start_node

RECORD_S = 31
DETECTED_WITHIN_S = 28.0
NODE_OPTIONS = ("--max-old-space-size=192", "--inspect-port=0")
PROGRAMS: dict[str, tuple[str, tuple[str, ...]]] = {
    "named": ("verdicts.js", ("named",)),
    "closure": ("verdicts.js", ("closure",)),
    "listener": ("verdicts.js", ("listener",)),
    "request_map": ("verdicts.js", ("request_map",)),
    "buffers": ("buffer_leak.js", ()),
    "churn": ("verdicts.js", ("churn",)),
    "plateau": ("verdicts.js", ("plateau",)),
    "pressure": ("verdicts.js", ("pressure",)),
    "busy": ("verdicts.js", ("busy",)),
    "blocked": ("verdicts.js", ("blocked",)),
}
NODE_OPTIONS_OF = {"pressure": ("--max-semi-space-size=1",)}
"""Node options of a program's own: a small young generation makes GC pressure plain (13-15%
of the time in GC; with the default one, 8.5-10% read just about the 10% threshold)."""
AUTO_CAPTURE = {"named": ("--snapshot-on", "leak", "--snapshot-max", "1")}
"""The recordings that also capture automatically (into NAME-snapshots/)."""
HEAP_LEAKS = ("named", "closure", "listener", "request_map")
NOT_LEAKING = ("churn", "plateau", "pressure")


@dataclass(frozen=True)
class Recording:
    samples: list[dict]
    captures: list[dict]
    stderr: str
    returncode: int
    inspector_closed: bool

    def verdicts(self) -> list[tuple[float, dict]]:
        """(seconds since the first sample, verdict) of every sample."""
        start = self.samples[0]["t"]
        return [(s["t"] - start, s["verdict"]) for s in self.samples]

    def first(self, leak: str) -> float | None:
        """When the verdict first said `leak`, in seconds since the first sample."""
        return next((at for at, verdict in self.verdicts() if verdict["leak"] == leak), None)


@pytest.fixture(scope="module")
def recordings(tmp_path_factory) -> dict[str, Recording]:
    """Every program recorded at once for RECORD_S seconds (each into NAME.jsonl of a
    temporary directory, kept by pytest for a look after a failure)."""
    directory = tmp_path_factory.mktemp("verdicts")
    node = node_binary(node_majors()[0])
    programs: dict[str, NodeProcess] = {}
    recorders: dict[str, subprocess.Popen] = {}
    try:
        for name, (script, args) in PROGRAMS.items():
            programs[name] = start_node(node, script, *NODE_OPTIONS,
                                        *NODE_OPTIONS_OF.get(name, ()), args=args, ready=None)
        for program in programs.values():
            program.wait_for_line("ready")
        for name, program in programs.items():
            capturing: tuple[str, ...] = ()
            if name in AUTO_CAPTURE:
                (directory / f"{name}-snapshots").mkdir()
                capturing = (*AUTO_CAPTURE[name], "--snapshot-dir",
                             str(directory / f"{name}-snapshots"))
            recorders[name] = start_memtui("record", str(program.pid), "--duration",
                                           str(RECORD_S), "-o", str(directory / f"{name}.jsonl"),
                                           *capturing)
        _wait_for_first_sample(directory / "plateau.jsonl")
        programs["plateau"].send("fill\n")
        errors = {name: recorder.communicate(timeout=RECORD_S + 60)[1]
                  for name, recorder in recorders.items()}
        lines = {name: jsonl((directory / f"{name}.jsonl").read_text()) for name in errors}
        return {name: Recording([line for line in lines[name] if "event" not in line],
                                [line for line in lines[name] if "event" in line], err,
                                recorders[name].returncode,
                                wait_until_inspector_closed(programs[name].pid))
                for name, err in errors.items()}
    finally:
        for recorder in recorders.values():
            if recorder.poll() is None:
                recorder.kill()
                recorder.wait()
        for program in programs.values():
            program.kill()


def _wait_for_first_sample(path: Path, deadline_s: float = 30.0) -> None:
    end = time.monotonic() + deadline_s
    while not (path.exists() and path.read_text().endswith("\n")):
        assert time.monotonic() < end, f"no sample in {path} within {deadline_s}s"
        time.sleep(0.1)


@pytest.mark.timeout(RECORD_S + 120)
def test_every_recording_ran_and_left_no_inspector_open(recordings):
    for name, recording in recordings.items():
        assert recording.returncode == 0, (name, recording.stderr)
        assert recording.inspector_closed, name
        assert len(recording.samples) >= RECORD_S - 4, name


@pytest.mark.parametrize("name", HEAP_LEAKS)
def test_a_heap_leak_is_flagged_in_time(recordings, name):
    recording = recordings[name]
    flagged = recording.first("heap")
    assert flagged is not None and flagged <= DETECTED_WITHIN_S, recording.verdicts()
    final = recording.samples[-1]["verdict"]
    assert final["leak"] == "heap" and final["heap_after_gc_per_s"] > 0
    assert final["majors"] >= 6
    assert final["heap_limit_in_s"] > 0
    assert recording.stderr.splitlines()[-1].startswith("memtui: verdict: heap leak: heap after"
                                                        " GC +")


def test_snapshot_on_leak_captures_once_the_leak_is_flagged(recordings):
    recording = recordings["named"]
    [capture] = recording.captures
    assert (capture["event"], capture["condition"], capture["outcome"]) == (
        "auto_snapshot", "leak", "saved"), capture
    assert capture["evidence"].startswith("heap leak: heap after GC +")
    flagged = next(s["t"] for s in recording.samples if s["verdict"]["leak"] == "heap")
    assert capture["t"] >= flagged
    path = Path(capture["path"])
    assert path.parent.name == "named-snapshots"
    assert path.stat().st_size == capture["size"] > 0
    assert f"memtui: automatic snapshot (leak) saved: {path} (file " in recording.stderr


def test_retained_buffers_are_off_heap_growth(recordings):
    recording = recordings["buffers"]
    flagged = recording.first("off_heap")
    assert flagged is not None and flagged <= DETECTED_WITHIN_S, recording.verdicts()
    final = recording.samples[-1]["verdict"]
    assert final["leak"] == "off_heap"
    assert final["off_heap"] == "array_buffers"
    assert final["off_heap_per_s"] > 1 << 20
    assert "off-heap growth: array buffers" in recording.stderr.splitlines()[-1]


@pytest.mark.parametrize("name", NOT_LEAKING)
def test_a_program_that_does_not_leak_is_never_called_a_leak(recordings, name):
    recording = recordings[name]
    called = [(at, v["summary"]) for at, v in recording.verdicts()
              if v["leak"] in ("heap", "off_heap")]
    assert not called
    decided = recording.first("none") or recording.first("plateau")
    assert decided is not None and decided <= DETECTED_WITHIN_S, recording.verdicts()
    assert "memtui: verdict: no leak" in recording.stderr.splitlines()[-1]


def test_a_cache_filled_once_reads_as_a_plateau(recordings):
    final = recordings["plateau"].samples[-1]["verdict"]
    assert final["leak"] == "plateau", final["summary"]


def test_allocating_hard_is_gc_pressure_not_a_leak(recordings):
    final = recordings["pressure"].samples[-1]["verdict"]
    assert final["gc_pressure"] is True and final["gc_pause_share"] >= 0.10
    assert final["scavenges_per_s"] > 0
    assert final["summary"].startswith("no leak")
    assert "GC pressure:" in final["summary"]
    assert recordings["churn"].samples[-1]["verdict"]["gc_pressure"] is False


def test_a_blocked_loop_reads_blocked_and_a_busy_one_busy(recordings):
    blocked = recordings["blocked"].samples[-1]["verdict"]
    assert blocked["event_loop"] == "blocked"
    assert "event loop blocked up to 1.2s at a time" in blocked["summary"]
    busy = recordings["busy"].samples[-1]["verdict"]
    assert busy["event_loop"] == "busy", busy["summary"]
