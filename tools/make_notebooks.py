"""Write the walkthrough notebooks (outputs stripped) from the cell sources below.

Run: python tools/make_notebooks.py   (the .ipynb files are committed; this keeps them reviewable)
"""
from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]

QUICKSTART = [
    new_markdown_cell(
        "# 01 · Quickstart: open a Keras model safely and see every layer\n\n"
        "The seed model is `Dense(784→64, relu) → MyActivation → Dense(10, softmax)`, where `MyActivation` "
        "is a custom layer computing `relu(x) * sigmoid(x)`. The workbench reads the file with h5py and json "
        "only: nothing stored in it is imported or executed, and no weight array is read until asked for."),
    new_code_cell(
        "from pathlib import Path\n"
        "import workbench\n"
        "from workbench.cli import render_table\n\n"
        "SAMPLES = Path.cwd().parent / 'sample_models' if Path.cwd().name == 'notebooks' else Path('sample_models')\n"
        "model = workbench.load_model(SAMPLES / 'seed.keras')\n"
        "inv = workbench.inventory(model)\n"
        "print(render_table(inv))"),
    new_markdown_cell(
        "The same model saved by Keras 2 (tf-keras) and as a Keras 3 legacy `.h5` reads the same way: "
        "the reader normalises the two dialects once, so everything after it never asks which Keras wrote the file."),
    new_code_cell(
        "for name in ['seed.h5', 'seed_keras2.h5', 'seed.keras']:\n"
        "    m = workbench.load_model(SAMPLES / name)\n"
        "    print(f\"{name:16} Keras {m.keras_version:7} {m.format:6}\", [(l.name, l.class_name) for l in m.layers])"),
    new_markdown_cell(
        "Each weight is described by name, shape and dtype; `read()` loads the array only when you ask."),
    new_code_cell(
        "dense = model.layer('dense')\n"
        "for w in dense.weights:\n"
        "    print(w.name, w.shape, w.dtype, w.source)\n"
        "kernel = dense.weight('kernel').read()\n"
        "print('kernel mean', float(kernel.mean()))"),
    new_markdown_cell(
        "`MyActivation` is a custom class: DL4J's own importer stops here. The inventory marks it as "
        "*needs mapping*; the following notebooks map it to DL4J."),
    new_code_cell(
        "[(r['name'], r['status']) for r in inv['layers']]"),
]

NOTEBOOKS = {"01_quickstart.ipynb": QUICKSTART}


def main() -> None:
    for name, cells in NOTEBOOKS.items():
        nb = new_notebook(cells=cells, metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
        nbformat.write(nb, ROOT / "notebooks" / name)


if __name__ == "__main__":
    main()
