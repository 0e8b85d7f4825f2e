"""One lookup from a Keras layer to its mapper: registered name first, then class name.

    @mapper("Conv2D", "Convolution2D")
    def conv2d(ctx: MapContext) -> MappedLayer: ...

Mappers are plain functions of a ``MapContext``; users (and mapping files) register more the same way.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from workbench.errors import MappingError, WeightError
from workbench.keras_io.model import LayerSpec
from workbench.mappers.result import Activation, MappedLayer

Mapper = Callable[["MapContext"], MappedLayer]
_MAPPERS: dict[str, Mapper] = {}
# Mappers that read tensors of Keras layers with data_format="channels_first" correctly; every other
# mapper is refused such a tensor (so no layer can mistake its channel axis).
_CHANNELS_FIRST_AWARE: set[Mapper] = set()


def reads_channels_first(fn: Mapper) -> Mapper:
    """Mark a mapper as handling inputs in Keras's channels_first layout (it checks data_format itself)."""
    _CHANNELS_FIRST_AWARE.add(fn)
    return fn


def handles_channels_first(fn: Mapper) -> bool:
    return fn in _CHANNELS_FIRST_AWARE


@dataclass(frozen=True)
class Options:
    """Conversion choices: DL4J data format for convolutional (NHWC/NCHW) and recurrent (NWC/NCW) tensors."""

    cnn_format: str = "NHWC"

    @property
    def rnn_format(self) -> str:
        return "NWC" if self.cnn_format == "NHWC" else "NCW"


@dataclass(frozen=True)
class MapContext:
    """Everything a mapper may read: the Keras layer, what flows into it, the options."""

    spec: LayerSpec
    inputs: tuple[Activation, ...]
    options: Options = field(default_factory=Options)
    file: str | None = None
    keras_major: int = 3

    @property
    def config(self) -> dict:
        return self.spec.config

    @property
    def input(self) -> Activation:
        return self.inputs[0]

    def weight(self, name: str) -> np.ndarray:
        """A Keras weight of this layer, read now, or a WeightError naming what exists."""
        try:
            return self.spec.weight(name).read()
        except KeyError:
            raise WeightError(f"weight '{name}' is missing", file=self.file, layer=self.spec.name,
                              expected=f"a weight named '{name}'",
                              received=[w.name for w in self.spec.weights]) from None

    def fail(self, what: str, expected=None, received=None) -> MappingError:
        return MappingError(what, file=self.file, layer=self.spec.name, expected=expected, received=received)


def mapper(*names: str) -> Callable[[Mapper], Mapper]:
    """Register a function as the mapper for Keras class names (or registered names ``pkg>Name``)."""
    def register(fn: Mapper) -> Mapper:
        for name in names:
            _MAPPERS[name] = fn
        return fn
    return register


def unregister_mapper(name: str) -> None:
    _MAPPERS.pop(name, None)


def supported_layers() -> list[str]:
    return sorted(_MAPPERS)


def lookup(spec: LayerSpec) -> Mapper | None:
    """The mapper for a layer: by registered name first, then by class name; None if there is none."""
    if spec.registered_name and spec.registered_name in _MAPPERS:
        return _MAPPERS[spec.registered_name]
    return _MAPPERS.get(spec.class_name)
