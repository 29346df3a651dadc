"""Build the tutorial notebooks from their sources in ``src/``.

    python tutorials/make_notebooks.py            # writes tutorials/NN_name.ipynb, outputs empty

Each source is a Python file in the "percent" format: a line ``# %%`` starts
a code cell and ``# %% [markdown]`` a markdown cell whose lines carry a
leading ``# ``. Edit the sources, not the notebooks, and rerun this script.
"""

import glob
import os

import nbformat

HERE = os.path.dirname(os.path.abspath(__file__))
KERNEL = {"name": "python3", "display_name": "Python 3", "language": "python"}


def parse(text):
    """The cells of a percent-format source: a list of (kind, source)."""
    cells, kind, lines = [], None, []

    def close():
        if kind is not None:
            body = "\n".join(lines).strip("\n")
            cells.append((kind, body))

    for line in text.splitlines():
        if line.startswith("# %%"):
            close()
            kind, lines = ("markdown" if "[markdown]" in line else "code"), []
        elif kind == "markdown":
            lines.append(line[2:] if line.startswith("# ") else line.lstrip("#"))
        elif kind == "code":
            lines.append(line)
    close()
    return cells


def notebook(source_path):
    """An nbformat v4 notebook from one source file."""
    with open(source_path) as f:
        cells = parse(f.read())
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = KERNEL
    nb.metadata["language_info"] = {"name": "python"}
    make = {"markdown": nbformat.v4.new_markdown_cell, "code": nbformat.v4.new_code_cell}
    nb.cells = [make[kind](body) for kind, body in cells]
    for k, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{k}"  # stable ids: regenerating an unchanged source changes nothing
    return nb


def sources():
    return sorted(glob.glob(os.path.join(HERE, "src", "[0-9][0-9]_*.py")))


def target(source_path):
    return os.path.join(HERE, os.path.basename(source_path)[:-3] + ".ipynb")


def main():
    for path in sources():
        nbformat.write(notebook(path), target(path))
        print(f"wrote {os.path.relpath(target(path))}")


if __name__ == "__main__":
    main()
