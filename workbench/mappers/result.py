"""What a mapper returns: the DL4J side of one Keras layer, plus notes. Mappers mutate nothing shared."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from workbench.mappers.transforms import Trace


@dataclass(frozen=True)
class Param:
    """One DL4J parameter: its key (``W``, ``b``, ``RW``...), the trace that made it, and its flat order."""

    key: str
    trace: Trace
    order: str = "c"  # how DL4J views this segment of the flat vector: 'f' (dense, LSTM) or 'c' (conv)

    @property
    def value(self) -> np.ndarray:
        return self.trace.value

    def flat(self) -> np.ndarray:
        return np.asarray(self.value, dtype=np.float32).ravel(order=self.order.upper())


CHANNELS_FIRST = ("NCHW", "NCDHW", "NCW")


@dataclass(frozen=True)
class Activation:
    """What flows between layers, described on both sides.

    Attributes:
        kind: ``ff`` [batch, n], ``rnn`` (Keras [b, t, f]), ``cnn`` (Keras [b, h, w, c]), ``cnn1d``, ``cnn3d``.
        keras_shape: the Keras shape without the batch dimension.
        dl4j_format: ``NHWC``/``NCHW`` for cnn, ``NWC``/``NCW`` for rnn, None for ff.
        flattened_from: for ff tensors made by a Flatten of a cnn tensor, the Keras (h, w, c) it came from
            and the DL4J format it was flattened in (a Dense reading it may need its rows permuted).
    """

    kind: str
    keras_shape: tuple[int | None, ...]
    dl4j_format: str | None = None
    flattened_from: tuple[tuple[int, ...], str] | None = None
    # True for a tensor of Keras layers with data_format="channels_first": keras_shape is then (C, ...)
    # and the DL4J layout is channels-first too, so nothing is moved between the two.
    keras_channels_first: bool = False

    def _moves(self) -> bool:
        return (self.dl4j_format in CHANNELS_FIRST) != self.keras_channels_first

    def to_dl4j(self, x: np.ndarray) -> np.ndarray:
        """A Keras-layout array in this tensor's DL4J layout."""
        if self._moves():
            return np.ascontiguousarray(np.moveaxis(x, 1, -1) if self.keras_channels_first else np.moveaxis(x, -1, 1))
        return x

    def to_keras(self, y: np.ndarray) -> np.ndarray:
        """A DL4J-layout array in Keras's layout."""
        if self._moves():
            return np.ascontiguousarray(np.moveaxis(y, -1, 1) if self.keras_channels_first else np.moveaxis(y, 1, -1))
        return y


@dataclass(frozen=True)
class MappedLayer:
    """The DL4J side of one Keras layer.

    Exactly one of ``layer`` (a DL4J layer config, JSON-ready, with ``@class``) and ``vertex`` (a graph
    vertex config) is set, or neither for a layer that vanishes in DL4J (InputLayer, a Flatten done by a
    preprocessor). ``preprocessor`` is an InputPreProcessor applied before the layer.
    """

    keras_name: str
    keras_class: str
    output: Activation
    layer: dict[str, Any] | None = None
    vertex: dict[str, Any] | None = None
    preprocessor: dict[str, Any] | None = None
    params: tuple[Param, ...] = ()
    variables: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)
    # A layer DL4J lacks, generated for this model (workbench.custom): its class and Java source.
    java_class: str | None = None
    java_source: str | None = None

    @property
    def n_params(self) -> int:
        return sum(p.value.size for p in self.params)

    @property
    def vanishes(self) -> bool:
        return self.layer is None and self.vertex is None
