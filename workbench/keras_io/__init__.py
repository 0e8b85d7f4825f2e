"""Reading Keras files: ``load_model(path)`` for every format, with no TensorFlow and no code run.

Formats: legacy HDF5 models written by Keras 2 (tf-keras) and Keras 3, ``.keras`` archives,
and a JSON architecture (``model.to_json()``) with a weights-only HDF5 file.
"""
from workbench.keras_io.loader import load_model
from workbench.keras_io.model import KerasModel, LayerSpec, TensorRef, WeightInfo

__all__ = ["load_model", "KerasModel", "LayerSpec", "TensorRef", "WeightInfo"]
