"""Keras → DL4J migration workbench.

The pipeline reads from the folder names: ``keras_io`` (read a Keras file, never run it) →
``mappers`` (Keras layer → DL4J layer + params) → ``check`` (NumPy reference, TensorFlow,
real DL4J) → ``export`` (DL4J JSON, model zip, Java). ``session`` ties them together for the
Python API, the CLI and the JupyterLab UI.
"""
from workbench.errors import (
    DL4JFileError,
    ExportError,
    ModelFileError,
    MappingError,
    RuntimeUnavailable,
    UnsafeContentError,
    WeightError,
    WorkbenchError,
)
from workbench.keras_io import load_model
from workbench.inventory import inventory
from workbench.session import Session

__all__ = [
    "load_model",
    "inventory",
    "Session",
    "Workbench",
    "WorkbenchError",
    "ModelFileError",
    "UnsafeContentError",
    "WeightError",
    "MappingError",
    "ExportError",
    "DL4JFileError",
    "RuntimeUnavailable",
]


def __getattr__(name: str):
    # The JupyterLab app imports ipywidgets and matplotlib: only when asked for, never for the CLI.
    if name == "Workbench":
        from workbench.ui import Workbench
        return Workbench
    raise AttributeError(f"module 'workbench' has no attribute {name!r}")
