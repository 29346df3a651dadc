"""Build the tutorial and exercise notebooks from their sources.

    python tutorials/make_notebooks.py                    # rebuild every notebook whose source changed
    python tutorials/make_notebooks.py --execute          # rebuild and run every tutorial, keep its outputs
    python tutorials/make_notebooks.py --execute 03 05    # only tutorials 03 and 05

Sources and the notebooks they build:

    tutorials/src/NN_name.py            ->  tutorials/NN_name.ipynb            (committed with outputs)
    tutorials/src/exercises/NN_name.py  ->  tutorials/exercises/NN_name.ipynb  (committed unsolved, no outputs)

Each source is a Python file in the "percent" format: a line ``# %%`` starts a code cell and
``# %% [markdown]`` a markdown cell whose lines carry a leading ``# ``. Two markers tag code cells
of the exercise notebooks, so that a test can find them:

    # %% exercise: forward    the cell the student fills in; it defines the function ``forward``
    # %% check                one expression, ``check(...)``, that compares it with torch

Without ``--execute`` a notebook is written only when its cells differ from the ones on disk, and
then without outputs: regenerating an unchanged source keeps the outputs of its last full run.
``--execute`` runs a tutorial top to bottom (the full run: SCRATCHNN_QUICK unset, figures inline,
working directory ``tutorials/``) and writes it with its outputs; a cell that raises stops the
script and leaves that notebook as it was. Edit the sources, not the notebooks.
"""

import argparse
import glob
import os
import re
import sys
import time

import nbformat

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
EXERCISES = os.path.join(HERE, "exercises")
KERNEL = {"name": "python3", "display_name": "Python 3", "language": "python"}
METADATA = {"kernelspec": KERNEL, "language_info": {"name": "python"}}
INLINE = "module://matplotlib_inline.backend_inline"  # no GUI, and figures become PNG outputs
TIMEOUT = 1800  # seconds per cell


def parse(text):
    """The cells of a percent-format source: a list of (kind, source, tags)."""
    cells, kind, tags, lines = [], None, {}, []

    def close():
        if kind is not None:
            cells.append((kind, "\n".join(lines).strip("\n"), tags))

    for line in text.splitlines():
        if line.startswith("# %%"):
            close()
            marker, lines = line[4:].strip(), []
            kind = "markdown" if marker == "[markdown]" else "code"
            tags = _tags(marker) if kind == "code" else {}
        elif kind == "markdown":
            lines.append(line[2:] if line.startswith("# ") else line.lstrip("#"))
        elif kind == "code":
            lines.append(line)
    close()
    return cells


def _tags(marker):
    """Cell metadata from a code cell's marker: ``exercise: NAME`` or ``check``."""
    if not marker:
        return {}
    if marker == "check":
        return {"tags": ["check"]}
    m = re.fullmatch(r"exercise:\s*([A-Za-z_]\w*)", marker)
    if m:
        return {"tags": ["exercise"], "exercise": m.group(1)}
    raise ValueError(f"unknown cell marker '# %% {marker}' (expected '[markdown]', 'check' or 'exercise: NAME')")


def notebook(source_path):
    """An nbformat v4 notebook from one source file, without outputs."""
    with open(source_path) as f:
        cells = parse(f.read())
    nb = nbformat.v4.new_notebook()
    nb.metadata.update(METADATA)
    make = {"markdown": nbformat.v4.new_markdown_cell, "code": nbformat.v4.new_code_cell}
    nb.cells = [make[kind](body, metadata=dict(tags)) for kind, body, tags in cells]
    for k, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{k}"  # stable ids: regenerating an unchanged source changes nothing
    return nb


def sources():
    """The tutorial sources, ``src/NN_name.py``."""
    return sorted(glob.glob(os.path.join(HERE, "src", "[0-9][0-9]_*.py")))


def exercise_sources():
    """The exercise sources, ``src/exercises/NN_name.py``."""
    return sorted(glob.glob(os.path.join(HERE, "src", "exercises", "[0-9][0-9]_*.py")))


def target(source_path):
    """The notebook a source builds: ``src/x.py -> x.ipynb``, ``src/exercises/x.py -> exercises/x.ipynb``."""
    name = os.path.basename(source_path)[:-3] + ".ipynb"
    is_exercise = os.path.basename(os.path.dirname(source_path)) == "exercises"
    return os.path.join(EXERCISES if is_exercise else HERE, name)


def cells_of(nb):
    """What a notebook's source determines: each cell's type, source and metadata (not its outputs)."""
    return [(c.cell_type, c.source, dict(c.metadata)) for c in nb.cells]


def up_to_date(source_path):
    """Whether the notebook on disk has the cells its source builds (outputs are not compared)."""
    path = target(source_path)
    if not os.path.exists(path):
        return False
    return cells_of(nbformat.read(path, as_version=4)) == cells_of(notebook(source_path))


def execute(nb, cwd=HERE):
    """Run ``nb`` in a fresh python3 kernel (the full run) and make its outputs reproducible."""
    import nbclient

    env = dict(os.environ, MPLBACKEND=INLINE)
    env.pop("SCRATCHNN_QUICK", None)
    client = nbclient.NotebookClient(nb, timeout=TIMEOUT, kernel_name="python3", resources={"metadata": {"path": cwd}})
    client.execute(env=env)
    return scrub(nb)


def scrub(nb):
    """Drop what changes from run to run or machine to machine: timings, kernel versions, local paths,
    log lines with a time stamp (torch.profiler's); and store figures as palette PNGs (a third the size)."""
    nb.metadata = nbformat.from_dict(METADATA)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        outputs = []
        for out in cell.get("outputs", []):
            if out.output_type == "stream":
                lines = out.text.splitlines(keepends=True)
                out.text = _local_paths("".join(line for line in lines if not TIMESTAMP.search(line)))
                if not out.text:
                    continue
            elif out.output_type in ("execute_result", "display_data"):
                if "text/plain" in out.data:
                    out.data["text/plain"] = _local_paths(out.data["text/plain"])
                if "image/png" in out.data:
                    out.data["image/png"] = _palette_png(out.data["image/png"])
            outputs.append(out)
        if cell.cell_type == "code":
            cell.outputs = outputs
    return nb


TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d")


def _palette_png(data):
    """A base64 PNG re-encoded with at most 256 colours: line plots look the same at a third of the bytes."""
    import base64
    import io

    from PIL import Image

    image = Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB")
    buffer = io.BytesIO()
    image.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(buffer, format="PNG", optimize=True)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _local_paths(text):
    """Paths of this machine, such as a warning's file name, relative to the repository."""
    for path, short in ((ROOT + os.sep, ""), (sys.prefix + os.sep, "<venv>/"), (os.path.expanduser("~") + os.sep, "~/")):
        text = text.replace(path, short)
    return text


def select(names):
    """The tutorial sources that ``names`` ('03', '03_gradient_checking', '03_gradient_checking.ipynb') pick."""
    if not names:
        return sources()
    picked = []
    for name in names:
        stem = os.path.splitext(os.path.basename(name))[0]
        match = [s for s in sources() if os.path.basename(s)[:-3].startswith(stem)]
        if len(match) != 1:
            options = ", ".join(os.path.basename(s)[:-3] for s in sources())
            raise SystemExit(f"{name!r} names {len(match)} tutorials; expected one of: {options}")
        picked += [s for s in match if s not in picked]
    return picked


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--execute", action="store_true", help="run the tutorials and keep their outputs")
    parser.add_argument("names", nargs="*", help="tutorials to execute, e.g. 03 or 03_gradient_checking (default: all)")
    args = parser.parse_args(argv)
    if args.names and not args.execute:
        parser.error("naming tutorials only makes sense with --execute")
    if args.execute:
        for path in select(args.names):
            start = time.perf_counter()
            nb = execute(notebook(path))
            nbformat.write(nb, target(path))
            print(f"executed {os.path.relpath(target(path))} in {time.perf_counter() - start:.0f} s", flush=True)
        return
    os.makedirs(EXERCISES, exist_ok=True)
    for path in sources() + exercise_sources():
        if up_to_date(path):
            print(f"unchanged {os.path.relpath(target(path))}")
        else:
            nbformat.write(notebook(path), target(path))
            note = "" if os.path.dirname(target(path)) == EXERCISES else " (no outputs: run --execute to fill them)"
            print(f"wrote {os.path.relpath(target(path))}{note}")


if __name__ == "__main__":
    main()
