"""The package's public names, and what importing it costs."""
from __future__ import annotations

import subprocess
import sys

import workbench


def test_all_names_exist():
    """Every name in ``workbench.__all__`` is importable, ``Workbench`` included."""
    for name in workbench.__all__:
        assert getattr(workbench, name) is not None, name


def test_importing_the_package_loads_no_tensorflow_and_no_widgets():
    """``import workbench`` (what the CLI does) pulls in neither TensorFlow nor ipywidgets."""
    code = "import sys, workbench; print('tensorflow' in sys.modules, 'ipywidgets' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]


def test_only_the_ui_imports_ipywidgets():
    """Widgets stay a thin view: no module outside ``workbench/ui`` imports ipywidgets."""
    import ast
    from pathlib import Path

    root = Path(workbench.__file__).parent
    offenders = []
    for path in root.rglob("*.py"):
        if "ui" in path.relative_to(root).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n.split(".")[0] == "ipywidgets" for n in names):
                offenders.append(str(path.relative_to(root)))
    assert offenders == []
