"""Script names read from the snapshot itself, and locations as users name them."""

import os

import pytest

from memtui.heap.scripts import SourceFiles, SourceLocation, display_path, script_names
from memtui.heap.snapshot import load_snapshot
from tests.leaks import capture_leak
from tests.nodeproc import SCRIPTS, node_binary, node_majors


@pytest.fixture(scope="module", params=node_majors(), ids=lambda m: f"node{m}")
def listener_snapshot(request, tmp_path_factory):
    directory = tmp_path_factory.mktemp(f"scripts-node{request.param}")
    pair = capture_leak(node_binary(request.param), "listener", directory)
    return load_snapshot(pair.after.path)


def test_scripts_are_named_by_their_closures(listener_snapshot):
    """Every named script with a located closure; unnamed ones (memtui's own probe,
    evaluated through the inspector) stay unnamed and are not the program's."""
    names = script_names(listener_snapshot)
    assert str(SCRIPTS / "leak_listener.js") in names.values()
    assert "node:events" in names.values()
    assert all(names.values())
    probe = listener_snapshot.strings.index("forgetGone")
    node = next(n for n in listener_snapshot.locations.node.tolist()
                if listener_snapshot.node_name[n] == probe)
    script_id = listener_snapshot.locations.of(node)[0]
    assert script_id not in names
    assert not SourceFiles(names).is_program(f"{script_id}:0:0")


def test_locations_are_shown_one_based_relative_to_the_target_directory(listener_snapshot):
    names = script_names(listener_snapshot)
    script_id = next(i for i, name in names.items() if name.endswith("leak_listener.js"))
    files = SourceFiles(names, cwd=str(SCRIPTS))
    assert files.describe(f"{script_id}:7:40") == "leak_listener.js:8:41"
    assert files.fields(f"{script_id}:7:40") == {"file": "leak_listener.js", "line": 8,
                                                 "column": 41}
    assert files.is_program(f"{script_id}:7:40")
    events = next(i for i, name in names.items() if name == "node:events")
    assert files.describe(f"{events}:0:0") == "node:events:1:1"
    assert not files.is_program(f"{events}:0:0")
    assert files.describe("99999:1:2") == "script 99999, 2:3"
    assert files.describe(None) == ""
    assert files.fields(None) == {"file": None, "line": None, "column": None}


def test_display_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    inside = str(tmp_path / "lib" / "app.js")
    assert display_path(inside, "/srv/app") == inside
    assert display_path("/srv/app/lib/app.js", "/srv/app") == "lib/app.js"
    assert display_path("file:///srv/app/my%20lib/app.mjs", "/srv/app") == "my lib/app.mjs"
    assert display_path(inside, None) == os.path.join("lib", "app.js")
    assert display_path("/elsewhere/app.js", None) == "/elsewhere/app.js"
    assert display_path("node:internal/timers", "/srv/app") == "node:internal/timers"
    assert display_path("https://example.com/app.js", None) == "https://example.com/app.js"


def test_location_keys_parse():
    assert SourceLocation.parse("81:8:13") == SourceLocation(81, 8, 13)
    assert SourceLocation.parse("Order") is None
    assert SourceLocation.parse("1:2") is None
