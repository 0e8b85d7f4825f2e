"""One small exception hierarchy for the whole workbench.

    WorkbenchError                       every error the workbench raises on purpose
    ├── ModelFileError (ValueError)      a model file cannot be read as a Keras model
    │   └── UnsafeContentError           the file holds code (Lambda bytecode) we refuse to run
    ├── WeightError (ValueError)         a weight is missing or does not fit its layer
    ├── MappingError                     a layer cannot be mapped to DL4J (no mapper, bad mapping)
    │   └── ExpressionError              a user expression is malformed or unsafe
    ├── ExportError                      an export could not be written
    ├── DL4JFileError (ValueError)       a DL4J zip / Nd4j binary cannot be read
    └── RuntimeUnavailable (RuntimeError) Java, Maven or TensorFlow is not installed

Every error carries *what* went wrong, *where* (file, layer), what was *expected* and what
was *received*; ``str(err)`` renders them as the one line the CLI prints.
"""
from __future__ import annotations

import os
from typing import Any

__all__ = [
    "WorkbenchError",
    "ModelFileError",
    "UnsafeContentError",
    "WeightError",
    "MappingError",
    "ExpressionError",
    "ExportError",
    "DL4JFileError",
    "RuntimeUnavailable",
]


class WorkbenchError(Exception):
    """Base class: a message plus the structured facts the UI can highlight.

    Args:
        what: what went wrong, as a short phrase.
        file: the file concerned, if any.
        layer: the Keras layer name concerned, if any.
        expected: what the workbench expected to find.
        received: what it found instead.
        hint: how the user can fix it (optional).
    """

    def __init__(
        self,
        what: str,
        *,
        file: str | os.PathLike[str] | None = None,
        layer: str | None = None,
        expected: Any = None,
        received: Any = None,
        hint: str | None = None,
    ) -> None:
        self.what = what
        self.file = os.fspath(file) if file is not None else None
        self.layer = layer
        self.expected = expected
        self.received = received
        self.hint = hint
        super().__init__(self._render())

    def _render(self) -> str:
        where = []
        if self.file is not None:
            where.append(self.file)
        if self.layer is not None:
            where.append(f"layer '{self.layer}'")
        text = ": ".join(where + [self.what]) if where else self.what
        if self.expected is not None:
            text += f"; expected {self.expected}"
        if self.received is not None:
            text += f", received {self.received}" if self.expected is not None else f"; received {self.received}"
        if self.hint:
            text += f" ({self.hint})"
        return text


class ModelFileError(WorkbenchError, ValueError):
    """The file is missing, truncated, foreign, or not a Keras model we can read."""


class UnsafeContentError(ModelFileError):
    """The file stores code (e.g. a Lambda's marshalled bytecode); it is reported, never run."""


class WeightError(WorkbenchError, ValueError):
    """A weight is missing, extra, or of a shape that does not fit the layer's config."""


class MappingError(WorkbenchError):
    """A layer has no DL4J mapping, or its mapping cannot be applied.

    ``layers`` lists every layer the error is about (``layer`` is the first), so a view can mark them all.
    """

    def __init__(self, what: str, *, layers: tuple[str, ...] = (), **kwargs) -> None:
        super().__init__(what, **kwargs)
        self.layers = tuple(layers) or ((self.layer,) if self.layer else ())


class ExpressionError(MappingError):
    """A mapping expression is malformed, unsafe, or does not fit the layer."""


class ExportError(WorkbenchError):
    """An export (zip, JSON, Java) could not be written."""


class DL4JFileError(WorkbenchError, ValueError):
    """A DL4J model zip or Nd4j binary array cannot be read."""


class RuntimeUnavailable(WorkbenchError, RuntimeError):
    """A runtime the operation needs (Java, Maven, TensorFlow) is not installed."""
