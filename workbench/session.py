"""``Session``: one Keras model on its way to DL4J. The Python API, the CLI and the UI all drive this.

    s = Session("sample_models/cnn.keras", cnn_format="NCHW")
    s.inventory()                 # every layer, nothing run
    s.conversion                  # every layer mapped (MappingError names the ones that cannot be)
    s.export_zip("cnn.zip")       # a zip DL4J's ModelSerializer loads
    report = s.verify(dl4j=True)  # Keras vs NumPy reference vs real DL4J, layer by layer
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import itertools
import os
import tempfile
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from workbench.check.verify import Diff, VerifyReport, diff, dl4j_inputs, in_memory_zip, isolated_output, verify
from workbench.custom.mapping_file import load_mapping_file, mapper_from_spec, save_mapping_file
from workbench.errors import MappingError, WorkbenchError
from workbench.convert import Conversion, map_model
from workbench.export.atomic import write_text
from workbench.export.dl4j_config import configuration_json, param_pieces
from workbench.export.model_zip import write_model_zip
from workbench.inventory import inventory
from workbench.keras_io import KerasModel, load_model
from workbench.mappers import Options
from workbench.mappers.transforms import final_values_only


def name_anonymous_weights(model: KerasModel, custom_objects: str) -> KerasModel:
    """Give a custom layer's weights their names when the file stored none (``.keras`` keeps only
    ``vars/0``, ``vars/1``...): the user's class, built once, says what they are called."""
    from workbench.keras_io.shapes import infer_shapes

    anonymous = [s for s in model.layers if s.custom and s.weights and all(w.name.isdigit() for w in s.weights)]
    if not anonymous:
        return model
    from workbench.check.keras_runner import custom_weight_names

    shapes = infer_shapes(model)
    renamed = {}
    for spec in anonymous:
        ref = spec.nodes[0][0] if spec.nodes and spec.nodes[0] else None
        shape = shapes.get(ref.layer) if ref else None
        names = custom_weight_names(custom_objects, spec, shape, model.keras_major) if shape else None
        if names and len(names) == len(spec.weights):
            renamed[spec.name] = dataclasses.replace(spec, weights=tuple(
                dataclasses.replace(w, name=n, path=n) for w, n in zip(spec.weights, names)))
    layers = tuple(renamed.get(s.name, s) for s in model.layers)
    return dataclasses.replace(model, layers=layers)


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
        if self.custom_objects:
            self.model = name_anonymous_weights(self.model, self.custom_objects)
        self.mappings: dict[str, dict[str, Any]] = {}  # the user's mapping choices (a mapping file's content)
        self.mapping_dir = os.path.dirname(os.path.abspath(self.path))
        self._keras_cache: tuple[str, Any] | None = None

    def inventory(self) -> dict[str, Any]:
        return inventory(self.model)

    @cached_property
    def conversion(self) -> Conversion:
        with contextlib.nullcontext() if self.keep_steps else final_values_only():
            return map_model(self.model, self.options, self._overrides())

    # --- mappings for layers no built-in mapper handles -------------------------------------------

    def _overrides(self) -> dict[str, Any]:
        return {key: mapper_from_spec(key, spec, base_dir=self.mapping_dir) for key, spec in self.mappings.items()}

    def set_mapping(self, key: str, spec: dict[str, Any]) -> None:
        """Map a class name (every layer of it) or a layer name: ``{"expression": ...}``, ``{"pick": ...}``
        or ``{"code": "file.py:function"}``. The conversion is redone on next use."""
        mapper_from_spec(key, spec, base_dir=self.mapping_dir)  # refuse a malformed spec now
        self.mappings[key] = dict(spec)
        self.__dict__.pop("conversion", None)

    def remove_mapping(self, key: str) -> None:
        self.mappings.pop(key, None)
        self.__dict__.pop("conversion", None)

    def load_mapping(self, path: str | os.PathLike[str]) -> None:
        """Apply a mapping file (``code`` entries import the user's files, relative to the mapping file)."""
        mappings = load_mapping_file(path)
        self.mapping_dir = os.path.dirname(os.path.abspath(path))
        for key, spec in mappings.items():
            mapper_from_spec(key, spec, base_dir=self.mapping_dir)
        self.mappings = dict(mappings)
        self.__dict__.pop("conversion", None)

    def save_mapping(self, path: str | os.PathLike[str]) -> Path:
        return save_mapping_file(path, self.mappings)

    def _keras_outputs(self, inputs: dict[str, np.ndarray]):
        """Keras's run on these inputs, reused while the inputs stay the same."""
        digest = hashlib.sha1(b"".join(np.ascontiguousarray(v).tobytes() for v in inputs.values())).hexdigest()
        if self._keras_cache is None or self._keras_cache[0] != digest:
            self._keras_cache = (digest, self.keras_run(inputs))
        return self._keras_cache[1]

    def test_layer(self, name: str, inputs: dict[str, np.ndarray] | None = None) -> Diff:
        """One layer alone in the NumPy reference, fed Keras's own input to it, against Keras's output."""
        from workbench.check.reference import run_reference

        inputs = inputs if inputs is not None else self.sample_inputs()
        keras = self._keras_outputs(inputs)
        conv = self.conversion
        node = next((n for n in conv.nodes if n.name == name), None)
        if node is None:
            raise MappingError("this layer has no DL4J layer or vertex of its own to test", file=self.path,
                               layer=name, expected="a mapped layer", received=sorted(conv.mapped)[:8])
        return diff(isolated_output(conv, node, keras.outputs, run_reference), keras.outputs[name])

    def layer_outputs(self, key: str, inputs: dict[str, np.ndarray] | None = None
                      ) -> tuple[np.ndarray | None, np.ndarray | None]:
        """One layer's output from Keras and from the converted model (NumPy reference, propagated),
        both in Keras's layout; None where that side has no such output."""
        from workbench.check.reference import run_reference

        inputs = inputs if inputs is not None else self.sample_inputs()
        keras = self._keras_outputs(inputs).outputs
        conv = self.conversion
        cached = self.__dict__.get("_reference_cache")
        digest = self._keras_cache[0] if self._keras_cache else None
        if cached is None or cached[0] != (digest, id(conv)):
            cached = ((digest, id(conv)), run_reference(in_memory_zip(conv), dl4j_inputs(conv, inputs)))
            self.__dict__["_reference_cache"] = cached
        ours = cached[1].get(conv.aliases.get(key, key)) if key in conv.mapped else None
        return keras.get(key), (conv.mapped[key].output.to_keras(ours) if ours is not None else None)

    def suggest(self, name: str, pick: str, config: dict[str, Any] | None = None,
                weights: dict[str, str] | None = None, inputs: dict[str, np.ndarray] | None = None,
                limit: int = 200) -> list[tuple[dict[str, Any], float]]:
        """Try the plausible weight transforms for mapping layer ``name`` as ``pick``; best first.

        Returns:
            ``(spec, max |error|)`` pairs; ``spec`` is ready for ``set_mapping(name, spec)``.
        """
        from workbench.custom.pick import candidate_transforms

        spec = next(s for s in self.model.layers if s.name == name)
        units = {**spec.config, **(config or {})}.get("units")
        sources = dict(weights or {})
        names = list(sources) or [w.name for w in spec.weights]
        options = [[(n, t) for t in candidate_transforms(spec.weight(sources.get(n, n)).shape, units)] for n in names]
        saved = dict(self.mappings)
        ranked: list[tuple[dict[str, Any], float]] = []
        try:
            for combo in itertools.islice(itertools.product(*options), limit):
                candidate = {"pick": pick, "config": dict(config or {}),
                             "weights": {n: {"from": sources.get(n, n), "transform": t} for n, t in combo}}
                self.mappings = {**saved, name: candidate}
                self.__dict__.pop("conversion", None)
                try:
                    err = self.test_layer(name, inputs).max_abs
                except WorkbenchError:
                    continue
                ranked.append((candidate, err))
        finally:
            self.mappings = saved
            self.__dict__.pop("conversion", None)
        return sorted(ranked, key=lambda item: item[1])

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

    def export_custom_jar(self, folder: str | os.PathLike[str]) -> Path | None:
        """Compile the conversion's generated layer classes into ``folder``; None when it has none."""
        from workbench.custom.java_layers import export_custom_jar
        return export_custom_jar(self.conversion, folder)

    def export_java(self, folder: str | os.PathLike[str]) -> Path:
        """Java source of the whole model (builders + parameter loading) with its ``params/*.npy``."""
        from workbench.export.java_source import write_java_project
        return write_java_project(self.conversion, folder)

    def export_bundle(self, folder: str | os.PathLike[str]) -> Path:
        """``model.zip``, ``custom-layers/`` (generated sources + jar) and a README on using them."""
        from workbench.custom.java_layers import write_bundle
        return write_bundle(self.conversion, folder, self.export_zip)

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
        keras = self._keras_outputs(inputs)
        conv = self.conversion
        dl4j_outputs, dl4j_error, seconds = None, None, {"keras": keras.seconds}
        if dl4j:
            from workbench.check.dl4j_jvm import run_dl4j
            with tempfile.TemporaryDirectory(prefix="workbench-verify-") as tmp:
                zip_path = self.export_zip(Path(tmp) / "model.zip")
                jar = self.export_custom_jar(tmp)  # generated layers must be on DL4J's classpath
                run = run_dl4j(zip_path, dl4j_inputs(conv, inputs), extra_jars=[jar] if jar else [])
            dl4j_outputs, dl4j_error, seconds["dl4j"] = run.outputs, run.error, run.seconds
        report = verify(conv, keras.outputs, inputs, reference=run_reference, dl4j_outputs=dl4j_outputs,
                        dl4j_error=dl4j_error, atol=atol)
        return VerifyReport(report.layers, report.atol, report.dl4j_error, {**seconds, **report.seconds})
