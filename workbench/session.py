"""``Session``: one Keras model on its way to DL4J. The Python API, the CLI and the UI all drive this.

    s = Session("sample_models/cnn.keras", cnn_format="NCHW")
    s.inventory()                 # every layer, nothing run
    s.conversion                  # every layer mapped (MappingError names the ones that cannot be)
    s.export_zip("cnn.zip")       # a zip DL4J's ModelSerializer loads
    report = s.verify(dl4j=True)  # Keras vs NumPy reference vs real DL4J, layer by layer
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from workbench.check.verify import VerifyReport, dl4j_inputs, verify
from workbench.convert import Conversion, map_model
from workbench.export.atomic import write_text
from workbench.export.dl4j_config import configuration_json, param_pieces
from workbench.export.model_zip import write_model_zip
from workbench.inventory import inventory
from workbench.keras_io import KerasModel, load_model
from workbench.mappers import Options
from workbench.mappers.transforms import final_values_only


class Session:
    """A model being converted.

    Args:
        path: the Keras model file (``.h5``, ``.keras`` or a ``.json`` architecture).
        weights: the weights file for a ``.json`` architecture.
        cnn_format: DL4J data format for convolutional layers, ``"NHWC"`` (DL4J's importer since
            beta7, no permutation at Flatten) or ``"NCHW"`` (DL4J's classic default).
        custom_objects: the user's trusted Python file defining custom Keras classes; imported only
            when Keras must run the original model.
        keep_steps: keep every intermediate tensor of the weight transforms (for the UI); False keeps
            only the DL4J parameters, for exports of large models.
    """

    def __init__(self, path: str | os.PathLike[str], *, weights: str | os.PathLike[str] | None = None,
                 cnn_format: str = "NHWC", custom_objects: str | os.PathLike[str] | None = None,
                 keep_steps: bool = True) -> None:
        self.path = os.fspath(path)
        self.keep_steps = keep_steps
        self.weights = weights
        self.options = Options(cnn_format=cnn_format)
        self.custom_objects = os.fspath(custom_objects) if custom_objects else None
        self.model: KerasModel = load_model(self.path, weights=weights)

    def inventory(self) -> dict[str, Any]:
        return inventory(self.model)

    @cached_property
    def conversion(self) -> Conversion:
        with contextlib.nullcontext() if self.keep_steps else final_values_only():
            return map_model(self.model, self.options)

    def set_cnn_format(self, cnn_format: str) -> None:
        """Switch NHWC/NCHW; the conversion is redone on next use."""
        self.options = Options(cnn_format=cnn_format)
        self.__dict__.pop("conversion", None)

    def configuration_json(self) -> str:
        return configuration_json(self.conversion)

    def export_json(self, path: str | os.PathLike[str]) -> Path:
        return write_text(path, self.configuration_json())

    def export_zip(self, path: str | os.PathLike[str]) -> Path:
        return write_model_zip(path, self.configuration_json(), param_pieces(self.conversion))

    def sample_inputs(self, batch: int = 3, seed: int = 0) -> dict[str, np.ndarray]:
        from workbench.check.keras_runner import sample_inputs
        return sample_inputs(self.model, batch=batch, seed=seed)

    def keras_run(self, inputs: dict[str, np.ndarray]):
        from workbench.check.keras_runner import keras_layer_outputs
        return keras_layer_outputs(self.path, inputs, custom_objects_file=self.custom_objects, weights=self.weights)

    def verify(self, inputs: dict[str, np.ndarray] | None = None, *, dl4j: bool = False,
               atol: float = 1e-5) -> VerifyReport:
        """Run Keras, the NumPy reference and (with ``dl4j=True``) real DL4J; compare every layer."""
        from workbench.check.reference import run_reference

        inputs = inputs if inputs is not None else self.sample_inputs()
        keras = self.keras_run(inputs)
        conv = self.conversion
        dl4j_outputs, dl4j_error, seconds = None, None, {"keras": keras.seconds}
        if dl4j:
            from workbench.check.dl4j_jvm import run_dl4j
            with tempfile.TemporaryDirectory(prefix="workbench-verify-") as tmp:
                zip_path = self.export_zip(Path(tmp) / "model.zip")
                run = run_dl4j(zip_path, dl4j_inputs(conv, inputs))
            dl4j_outputs, dl4j_error, seconds["dl4j"] = run.outputs, run.error, run.seconds
        report = verify(conv, keras.outputs, inputs, reference=run_reference, dl4j_outputs=dl4j_outputs,
                        dl4j_error=dl4j_error, atol=atol)
        return VerifyReport(report.layers, report.atol, report.dl4j_error, {**seconds, **report.seconds})
