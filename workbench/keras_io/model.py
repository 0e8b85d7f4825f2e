"""The reader's output: a Keras model as plain, frozen data (no TensorFlow, no code from the file).

Everything here is already normalised (see ``dialects``): later code never asks which Keras
version wrote the file.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np


@dataclass(frozen=True)
class TensorRef:
    """One tensor in a Functional graph: output ``tensor_index`` of call ``node_index`` of ``layer``."""

    layer: str
    node_index: int = 0
    tensor_index: int = 0
    # The tensor's shape when the file records it (Keras 3 does); a hint for shape inference.
    shape: tuple | None = field(default=None, compare=False)


@dataclass(frozen=True)
class WeightInfo:
    """A weight, described without reading it; ``read()`` loads the array on demand.

    Attributes:
        name: the short Keras name (``kernel``, ``bias``, ``gamma``, ``moving_mean``...).
        path: where it sits, relative to its layer (``forward_lstm/lstm_cell/kernel``).
        shape: the stored shape.
        dtype: the stored dtype, as a numpy dtype name.
        source: the in-file location (for messages), e.g. ``model_weights/d/d/kernel:0``.
    """

    name: str
    path: str
    shape: tuple[int, ...]
    dtype: str
    source: str
    _reader: Callable[[], np.ndarray] = field(repr=False, compare=False, default=None)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def read(self) -> np.ndarray:
        """Read the array from the file (the only place weights are loaded)."""
        return self._reader()


@dataclass(frozen=True)
class LayerSpec:
    """One Keras layer, as the file describes it.

    Attributes:
        name: the layer's name.
        class_name: its Keras class name (``Dense``; ``MyActivation`` for a custom class).
        registered_name: ``package>Name`` for a registered custom class, else None.
        module: the Python module the file names for the class, if any (never imported).
        custom: True for a class that is not part of Keras.
        config: the normalised layer config.
        nodes: for each call of the layer, the tensors it was called on (several calls = a shared layer).
        weights: the layer's own weights, in Keras order (for wrappers and nested models: all of them).
        children: inner layers of wrappers (Bidirectional, TimeDistributed) and nested models.
        is_input: True for an InputLayer.
    """

    name: str
    class_name: str
    config: dict[str, Any]
    registered_name: str | None = None
    module: str | None = None
    custom: bool = False
    nodes: tuple[tuple[TensorRef, ...], ...] = ()
    weights: tuple[WeightInfo, ...] = ()
    children: tuple["LayerSpec", ...] = ()
    is_input: bool = False
    input_names: tuple[str, ...] = ()
    output_refs: tuple[TensorRef, ...] = ()
    # The input shape the file records for this layer (Keras 3 ``build_config``), a hint only.
    build_input_shape: tuple | None = None

    @property
    def inbound(self) -> list[str]:
        """Names of the layers feeding this one, over all its calls, first call first."""
        seen: list[str] = []
        for node in self.nodes:
            for ref in node:
                if ref.layer not in seen:
                    seen.append(ref.layer)
        return seen

    @property
    def param_count(self) -> int:
        return sum(w.size for w in self.weights)

    @property
    def is_container(self) -> bool:
        return self.class_name in CONTAINER_CLASSES

    def weight(self, name: str) -> WeightInfo:
        """The weight called ``name`` (short name), or KeyError."""
        for w in self.weights:
            if w.name == name:
                return w
        raise KeyError(name)


CONTAINER_CLASSES = frozenset({"Sequential", "Functional", "Model"})


@dataclass(frozen=True)
class KerasModel:
    """A Keras model file, read.

    Attributes:
        path: the file read (the architecture file for JSON + weights).
        format: ``h5`` (legacy HDF5 model), ``keras`` (Keras 3 zip) or ``json+weights``.
        keras_version: as stored in the file (``2.21.0``, ``3.15.1``; ``unknown`` if absent).
        keras_major: 2 or 3 (the dialect the file was written in).
        class_name: ``Sequential`` or ``Functional``.
        name: the model's name.
        layers: top-level layers in Keras order (InputLayers included, ``is_input`` set).
        inputs / outputs: the model's input and output tensors.
        weights_path: the file the weights come from.
    """

    path: str
    format: str
    keras_version: str
    keras_major: int
    class_name: str
    name: str
    layers: tuple[LayerSpec, ...]
    inputs: tuple[TensorRef, ...]
    outputs: tuple[TensorRef, ...]
    weights_path: str | None = None
    backend: str | None = None
    # The loss the model was compiled with (a name, or a dict name -> loss per output), if stored.
    loss: Any = None

    def layer(self, name: str) -> LayerSpec:
        for spec in self.layers:
            if spec.name == name:
                return spec
        raise KeyError(name)

    @property
    def param_count(self) -> int:
        return sum(spec.param_count for spec in self.layers)
