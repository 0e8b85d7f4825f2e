"""The JupyterLab UI: ``display(Workbench("model.keras"))``. Only this package imports ipywidgets."""
from workbench.ui.app import Workbench

__all__ = ["Workbench"]
