"""The import graph of scratchnn, torchref and bench, drawn from the source with `ast`.

    python tools/import_graph.py            # modules, their imports, cycles, imports running up
    python tools/import_graph.py --dot FILE # the graph in Graphviz's dot language

A module's floor is its layer (LAYERS below, lowest first). An import from a lower floor to a
higher one "runs back up"; a cycle is any strongly connected set of two or more modules. Imports
inside functions count the same as those at the top: moving an import into a function does not
remove the dependency.
"""
import argparse
import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("scratchnn", "torchref", "bench")

# floors, lowest first: the first prefix that matches a module names its floor
LAYERS = [
    ("engine", ("scratchnn.generator", "scratchnn.init", "scratchnn.activations", "scratchnn.losses",
                "scratchnn.mlp", "scratchnn.norms", "scratchnn.optimizers", "scratchnn.schedules", "scratchnn.epochs",
                "scratchnn.train",
                "scratchnn.checks", "scratchnn.data", "scratchnn.datasets", "scratchnn.metrics",
                "scratchnn.table", "scratchnn.preprocess", "scratchnn.diagnostics", "scratchnn.fast")),
    ("teaching", ("scratchnn.teaching",)),
    ("front door", ("scratchnn",)),               # the package's __init__: re-exports the two floors below
    ("reference", ("torchref",)),
    ("run", ("scratchnn.apps.run", "scratchnn.apps")),  # the one run abstraction every application shares
    ("applications", ("scratchnn.apps.workshop", "scratchnn.apps.sweep", "scratchnn.apps.play", "scratchnn.apps.grade",
                      "bench")),
    ("command", ("scratchnn.apps.cli", "scratchnn.__main__")),
]


def floor(module):
    """The index in LAYERS of ``module``'s floor: the longest matching prefix decides."""
    best, length = None, -1
    for k, (_, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and len(p) > length:
                best, length = k, len(p)
    if best is None:
        raise ValueError(f"{module}: no floor in LAYERS; add it there")
    return best


def modules():
    """{dotted name: path} of every module in the packages."""
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def resolve(name, known):
    """The longest known module that `name` is or lies in, or None."""
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


def imports(module, path, known):
    """The known modules that `module` imports, anywhere in its source."""
    tree = ast.parse(path.read_text(), str(path))
    is_package = path.name == "__init__.py"
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base if is_package else base[:-1]
                base = base[:len(base) - (node.level - 1)]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module
            # `from pkg import sub` imports the submodule; `from pkg import func`, the package
            names = [f"{stem}.{alias.name}" if f"{stem}.{alias.name}" in known else stem
                     for alias in node.names]
        else:
            continue
        for name in names:
            target = resolve(name, known)
            if target and target != module:
                out.add(target)
    return out


def graph():
    known = modules()
    return {m: imports(m, p, known) for m, p in known.items()}


def cycles(edges):
    """Strongly connected components of two or more modules (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    sys.setrecursionlimit(10000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def upward(edges):
    """Imports from a lower floor to a higher one."""
    return sorted((a, b) for a, targets in edges.items() for b in targets if floor(b) > floor(a))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dot", help="write the graph in Graphviz's dot language to this file")
    args = parser.parse_args(argv)
    edges = graph()
    n_edges = sum(len(t) for t in edges.values())
    print(f"{len(edges)} modules, {n_edges} imports")
    for name, _ in LAYERS:
        members = [m for m in edges if LAYERS[floor(m)][0] == name]
        print(f"  {name}: {len(members)} modules")
    found = cycles(edges)
    print(f"cycles: {len(found)}")
    for c in found:
        print("  " + " <-> ".join(c))
    up = upward(edges)
    print(f"imports running back up: {len(up)}")
    for a, b in up:
        print(f"  {a} ({LAYERS[floor(a)][0]}) -> {b} ({LAYERS[floor(b)][0]})")
    if args.dot:
        lines = ["digraph imports {", "  rankdir=BT; node [shape=box, fontsize=10];"]
        for k, (name, _) in enumerate(LAYERS):
            members = sorted(m for m in edges if floor(m) == k)
            lines.append(f'  subgraph "cluster_{name}" {{ label="{name}"; '
                         + " ".join(f'"{m}";' for m in members) + " }")
        for a in sorted(edges):
            for b in sorted(edges[a]):
                style = ' [color=red]' if floor(b) > floor(a) else ""
                lines.append(f'  "{a}" -> "{b}"{style};')
        lines.append("}")
        Path(args.dot).write_text("\n".join(lines) + "\n")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
