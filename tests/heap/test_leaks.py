"""The three-snapshot leak finder on real Node programs: each leaking program's class ranks
first, and programs that leak nothing have no class above the floor."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from memtui.heap.leaks import MIN_RETAINED, Exclusion, LeakReport, find_leaks
from memtui.heap.pipeline import HeapAnalysis
from memtui.monitor import Monitor
from tests.cli_helpers import run_memtui
from tests.nodeproc import NodeProcess, node_binary, node_majors, start_node

PASSES = 3
"""How many times a program driven by stdin is made to run its path between baseline and
target: one pass of leak_class.js leaks 48 KB, under the floor."""
RUN_FOR_S = 1.0
"""How long a program driven by a timer runs its path between baseline and target."""
LEAKING = {"leak_class.js": "LeakyRecord", "leak_closure.js": "{longStr, someMethod}",
           "leak_listener.js": "Function", "leak_requests.js": "IncomingMessage",
           "buffer_leak.js": "Buffer", "leaky.js": "LeakedRecord"}
NOT_LEAKING = ("garbage_churn.js", "garbage_pressure.js", "grow_plateau.js")
DRIVEN_BY_TIMER = frozenset({"buffer_leak.js", "leaky.js", "garbage_pressure.js"})


def wait_for_passes(process: NodeProcess, count: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while sum(line.startswith("grown") for line in process.lines) < count:
        assert time.monotonic() < deadline, f"{count} passes not done: {process.lines!r}"
        time.sleep(0.05)


async def capture_three(script: str, directory: Path) -> tuple[Path, Path, Path]:
    """Baseline, PASSES runs of the program's path (or RUN_FOR_S of it), target, final,
    in one memtui session."""
    process = start_node(node_binary(node_majors()[0]), script, "--inspect=127.0.0.1:0")
    try:
        monitor = Monitor(str(process.pid), snapshot_dir=directory)
        await monitor.start()
        try:
            paths = [directory / f"{script}-{role}.heapsnapshot"
                     for role in ("baseline", "target", "final")]
            await monitor.take_snapshot(path=paths[0])
            if script in DRIVEN_BY_TIMER:
                await asyncio.sleep(RUN_FOR_S)
            else:
                for done in range(1, PASSES + 1):
                    process.send("more\n")
                    await asyncio.to_thread(wait_for_passes, process, done)
            await monitor.take_snapshot(path=paths[1])
            await monitor.take_snapshot(path=paths[2])
        finally:
            await monitor.close()
    finally:
        process.kill()
    return paths[0], paths[1], paths[2]


@pytest.fixture(scope="module")
def captures(tmp_path_factory) -> dict[str, tuple[Path, Path, Path]]:
    """The three snapshots of every program, all captured at once."""
    directory = tmp_path_factory.mktemp("leaks")
    scripts = [*LEAKING, *NOT_LEAKING]

    async def capture_all() -> list[tuple[Path, Path, Path]]:
        return await asyncio.gather(*(capture_three(s, directory) for s in scripts))

    return dict(zip(scripts, asyncio.run(capture_all()), strict=True))


def leaks_of(paths: tuple[Path, Path, Path]) -> LeakReport:
    return find_leaks(*(HeapAnalysis.of_file(path) for path in paths))


@pytest.mark.parametrize("script", LEAKING)
def test_the_leaking_class_ranks_first(captures, script):
    report = leaks_of(captures[script])
    first = report.classes[0]
    assert first.label == LEAKING[script], [(c.label, c.retained_size) for c in report.classes]
    assert first.retained_size >= MIN_RETAINED and first.count >= 10
    chain = report.final.retainers.chain(first.representative)
    assert chain is not None and chain.steps


@pytest.mark.parametrize("script", NOT_LEAKING)
def test_a_program_that_leaks_nothing_has_no_leaking_class(captures, script):
    report = leaks_of(captures[script])
    assert report.classes == []
    assert report.survivors > 0 and report.excluded[Exclusion.V8_INTERNAL] > 0


def test_leaks_json_names_the_class_and_what_keeps_one_alive(captures):
    result = run_memtui("leaks", *map(str, captures["leak_class.js"]), "--json", "--top", "1")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert set(document) == {"baseline", "target", "final", "survivors", "excluded",
                             "min_retained", "below_min_retained", "classes"}
    assert set(document["excluded"]) == {e.value for e in Exclusion}
    [leak] = document["classes"]
    assert (leak["class"], leak["count"]) == ("LeakyRecord", 500 * PASSES)
    assert leak["file"].endswith("leak_class.js") and leak["line"] == 5
    assert leak["object"].startswith("LeakyRecord @")
    assert any(line.startswith("kept in system / Context @") for line in leak["retainers"])
    table = run_memtui("leaks", *map(str, captures["grow_plateau.js"])).stdout
    assert table.endswith("no leak found: the survivors of no class retain 64.0 KiB or more\n")


def test_snapshots_of_two_sessions_are_refused(captures):
    baseline = captures["garbage_churn.js"][0]
    _, target, final = captures["leak_class.js"]
    result = run_memtui("leaks", str(baseline), str(target), str(final))
    assert result.returncode == 2
    assert result.stderr.startswith(f"memtui: error: object ids of {baseline.name} and "
                                    f"{target.name} are not comparable: taken from different "
                                    "processes")
    assert result.stderr.endswith("`memtui leaks --capture PID`)\n")
    assert result.stderr.count("\n") == 1


def test_capture_takes_the_three_in_one_session_and_reports(spawn, tmp_path):
    target = spawn("buffer_leak.js", "--inspect=127.0.0.1:0")
    result = run_memtui("leaks", "--capture", str(target.pid), "--wait", "0.5", "-o",
                        str(tmp_path), "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["classes"][0]["class"] == "Buffer"
    written = sorted(p.name for p in tmp_path.glob("*.heapsnapshot"))
    assert [name.rsplit("-", 1)[1] for name in written] == [
        "baseline.heapsnapshot", "final.heapsnapshot", "target.heapsnapshot"]
    assert "exercise the suspected path: the target snapshot comes in 0.5s" in result.stderr


def built_heap(builder, leaks: int, path: Path) -> HeapAnalysis:
    """A global holding an array of `leaks` Leak objects (each with compiled code), a
    Weakling only weakly and one Survivor directly."""
    global_object = builder.node("object", "global / ", 100)
    builder.edge(0, "element", 2, global_object)
    array = builder.node("object", "Array", 16)
    builder.edge(global_object, "property", "kept", array)
    weakling = builder.node("object", "Weakling", 5000)
    builder.edge(global_object, "weak", "w", weakling)
    for i in range(leaks):
        leak = builder.node("object", "Leak", 40)
        builder.edge(array, "element", i, leak)
        code = builder.node("code", "(code)", 30)
        builder.edge(leak, "internal", "code", code)
    survivor = builder.node("object", "Loner", 90)
    builder.edge(global_object, "property", "loner", survivor)
    return HeapAnalysis.of_file(builder.write(path))


def test_repeated_classes_rank_first_and_what_the_program_does_not_hold_is_left_out(
        builder, tmp_path):
    """Baseline: only the root frame. Target and final: every object is new and alive; the
    Leak objects (repeated) rank first although the one Array holds them all."""
    baseline = HeapAnalysis.of_file(builder.write(tmp_path / "baseline.heapsnapshot"))
    target = built_heap(builder, 12, tmp_path / "target.heapsnapshot")
    report = find_leaks(baseline, target, target, min_retained=1)
    assert [(c.label, c.count, c.retained_size) for c in report.classes] == [
        ("Leak", 12, 12 * 70), ("global / ", 1, 100 + 16 + 90 + 12 * 70),
        ("Array", 1, 16 + 12 * 70), ("Loner", 1, 90)]
    assert report.excluded == {Exclusion.UNREACHABLE: 1, Exclusion.V8_INTERNAL: 12,
                               Exclusion.RUNTIME_INTERNAL: 0}
    assert find_leaks(baseline, target, target, min_retained=12 * 70 + 1).classes[0].label \
        == "global / "
