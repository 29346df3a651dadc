"""The layout: the import graph of scratchnn, torchref and bench has no cycle and no import running up.

Imports inside functions count (tools/import_graph.py reads every import statement): moving an
import into a function does not remove the dependency.
"""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("import_graph", ROOT / "tools" / "import_graph.py")
import_graph = importlib.util.module_from_spec(spec)
spec.loader.exec_module(import_graph)


def test_every_module_has_a_floor():
    edges = import_graph.graph()
    assert "scratchnn.apps.run" in edges and "scratchnn.mlp" in edges and "torchref.bridge" in edges
    for module in edges:
        import_graph.floor(module)  # raises for a module outside LAYERS


def test_no_import_cycles():
    assert import_graph.cycles(import_graph.graph()) == []


def test_cycles_are_found_when_there_are_some():
    planted = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}}
    assert import_graph.cycles(planted) == [["a", "b", "c"]]  # a self-import is not a cycle of modules


def test_no_import_runs_back_up_the_floors():
    assert import_graph.upward(import_graph.graph()) == []


def test_an_import_running_up_is_found():
    assert import_graph.upward({"scratchnn.mlp": {"scratchnn.apps.run"}}) == [("scratchnn.mlp", "scratchnn.apps.run")]


def test_the_engine_imports_nothing_above_it():
    edges = import_graph.graph()
    engine = [m for m in edges if import_graph.LAYERS[import_graph.floor(m)][0] == "engine"]
    assert len(engine) > 10
    for module in engine:
        assert not [t for t in edges[module] if import_graph.floor(t) > import_graph.floor(module)], module
