"""Keras layer → DL4J mappers, one module per layer family, registered with ``@mapper``."""
from workbench.mappers import (  # noqa: F401  (importing a family registers its mappers)
    convolutional,
    core,
    embedding,
    merge,
    normalization,
    pooling,
    recurrent,
    reshaping,
    wrappers,
    generated,  # layers DL4J lacks, as generated SameDiff layers
    unsupported,  # last: a refusal never replaces a real mapping
)
from workbench.mappers.registry import MapContext, Options, lookup, mapper, supported_layers, unregister_mapper
from workbench.mappers.result import Activation, MappedLayer, Param

__all__ = ["mapper", "lookup", "supported_layers", "unregister_mapper", "MapContext", "Options", "MappedLayer",
           "Param", "Activation"]
