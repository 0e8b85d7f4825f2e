"""Every walkthrough notebook runs top to bottom in a real Jupyter kernel and prints what it teaches."""
from __future__ import annotations

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

# What each notebook's printed output must show: the point it makes, not just that it ran.
EXPECTED = {
    "01_quickstart.ipynb": ["my_activation", "needs mapping", "workbench.generated.MyActivationLayer", "PASSED",
                            "seed.zip"],
    "02_convolution.ipynb": ["flatten_rows_hwc_to_chw", "conv_kernel_to_oihw", "PASSED",
                             "first divergence: dense"],
    "03_recurrent.ipynb": ["gate blocks [i,f,c,o] → [c,f,o,i]", "['c0' 'c1' 'f0' 'f1' 'o0' 'o1' 'i0' 'i1']",
                           "PASSED", "first divergence: lstm"],
    "04_custom_layers.ipynb": ["layer 'scale_shift'", "workbench.generated.ScaleShiftLayer", "PASSED",
                               "ExpressionError"],
    "05_debugging_mapping.ipynb": ["first divergence: scale_shift", "WRONG", "PASSED"],
    "06_framework_differences.ipynb": ["(1, 4, 2, 3)", "DL4J row → Keras row", "useLogStd False", "'p': 0.7",
                                       "NCW refused", "act__input_copy", "verified: True"],
}


def test_every_notebook_has_expectations():
    assert sorted(EXPECTED) == [p.name for p in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_top_to_bottom(path):
    """The notebook executes without an error, its outputs are stripped in the repository, and it shows its point."""
    nb = nbformat.read(path, as_version=4)
    assert all(not cell.get("outputs") for cell in nb.cells if cell.cell_type == "code")
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    missing = [s for s in EXPECTED[path.name] if s not in text]
    assert not missing, f"{path.name} printed none of {missing}"
    widgets = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
               if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert widgets or path.name == "06_framework_differences.ipynb"  # the others open the Workbench
