"""*Pick*: map a custom layer that is really a known layer onto that layer's built-in mapper.

    {"MyDense": {"pick": "Dense", "config": {"units": 8}, "weights": {"kernel": {"from": "w", "transform": "transpose_2d"},
                                                                    "bias": "b"}}}

The custom layer's weights are renamed (and, if asked, transformed by a named transform) into the weights
the picked Keras class stores; then the built-in mapper for that class does the rest. ``suggest`` tries
the plausible transforms and ranks them by error against Keras.
"""
from __future__ import annotations

import dataclasses
import itertools
from typing import Any, Callable

import numpy as np

from workbench.errors import MappingError
from workbench.keras_io import catalog
from workbench.keras_io.model import LayerSpec
from workbench.keras_io.validate import check_layer_weights
from workbench.mappers import transforms as T
from workbench.mappers.registry import MapContext, Mapper, lookup
from workbench.mappers.result import MappedLayer

# Named transforms a user may pick for one weight: Keras array -> Keras array of the picked class.
PICK_TRANSFORMS: dict[str, Callable[[np.ndarray], T.Trace]] = {
    "identity": lambda a: T.keras_weight("w", a, _axes(a)),
    "transpose_2d": lambda a: T.transpose_2d(T.keras_weight("w", a, _axes(a))),
    "reverse_last_axis": lambda a: T.reverse_last_axis(T.keras_weight("w", a, _axes(a))),
}
GATE_ORDERS = ["".join(p) for p in itertools.permutations("ifco")]


def _axes(a: np.ndarray) -> tuple[str, ...]:
    return tuple(f"d{i}" for i in range(a.ndim))


def apply_pick_transform(name: str, array: np.ndarray, *, units: int | None = None) -> np.ndarray:
    """Apply a pick transform by name (``gates_<order>`` reorders LSTM gate blocks from that order)."""
    if name.startswith("gates_"):
        if units is None:
            raise ValueError("a gate reorder needs the layer's units")
        return T.reorder_gates(T.keras_weight("w", array, _axes(array)), name[len("gates_"):], "ifco", units).value
    if name not in PICK_TRANSFORMS:
        raise ValueError(f"unknown transform {name!r}")
    return PICK_TRANSFORMS[name](array).value


def transformed_shape(name: str, shape: tuple[int, ...]) -> tuple[int, ...]:
    """The shape a pick transform produces (only ``transpose_2d`` changes it)."""
    return tuple(reversed(shape)) if name == "transpose_2d" else tuple(shape)


def _weight_choice(value: Any) -> tuple[str, str]:
    if isinstance(value, str):
        return value, "identity"
    if isinstance(value, dict) and isinstance(value.get("from"), str):
        return value["from"], value.get("transform", "identity")
    raise ValueError(f"a weight choice is a name or {{'from': name, 'transform': ...}}, not {value!r}")


def pick_mapping(target: str, config: dict[str, Any] | None = None,
                 weights: dict[str, Any] | None = None) -> Mapper:
    """A mapper that maps a layer as if it were the Keras class ``target``.

    Args:
        target: a Keras class with a built-in mapper (``Dense``, ``Activation``, ``LSTM``...).
        config: config keys for the picked class (the custom layer's own config fills the rest).
        weights: picked-class weight name → custom weight name, or ``{"from": name, "transform": t}``
            with ``t`` in ``PICK_TRANSFORMS`` or ``gates_<order>``; names that match need no entry.
    """
    config = dict(config or {})
    choices = {k: _weight_choice(v) for k, v in (weights or {}).items()}
    probe = LayerSpec(name="?", class_name=target, config={})
    if lookup(probe) is None:
        raise MappingError(f"cannot pick {target!r}: it has no built-in mapper", expected="a mapped Keras class",
                           received=target)

    def mapper(ctx: MapContext) -> MappedLayer:
        spec = ctx.spec
        merged = {**spec.config, **config}
        expected = catalog.expected_weight_names(target, merged) or []
        infos = []
        for name in expected:
            source, transform = choices.get(name, (name, "identity"))
            try:
                info = spec.weight(source)
            except KeyError:
                raise ctx.fail(f"picked {target} needs weight '{name}', taken from '{source}', which is missing",
                               expected=f"one of {[w.name for w in spec.weights]}", received=source) from None
            units = merged.get("units")
            infos.append(dataclasses.replace(
                info, name=name, source=f"{info.source} ({transform})", shape=transformed_shape(transform, info.shape),
                _reader=(lambda i=info, t=transform, u=units: apply_pick_transform(t, i.read(), units=u))))
        picked = dataclasses.replace(spec, class_name=target, config=merged, weights=tuple(infos),
                                     registered_name=None, custom=False)
        # A weight that does not fit the picked class is an error here, never a silent reshape.
        check_layer_weights(ctx.file, picked, (None, *ctx.input.keras_shape))
        fn = lookup(picked)
        result = fn(dataclasses.replace(ctx, spec=picked))
        used = ", ".join(f"{n} ← {choices.get(n, (n, 'identity'))[0]} ({choices.get(n, (n, 'identity'))[1]})"
                         for n in expected) or "no weights"
        return dataclasses.replace(result, keras_class=spec.class_name,
                                   notes=result.notes + (f"picked {target}: {used}",))

    mapper.__name__ = f"pick_{target}"
    return mapper


def candidate_transforms(shape: tuple[int, ...], units: int | None) -> list[str]:
    """The transforms worth trying for a weight of this shape."""
    names = ["identity"]
    if len(shape) == 2:
        names.append("transpose_2d")
    if units and shape and shape[-1] == 4 * units:
        names += [f"gates_{order}" for order in GATE_ORDERS if order != "ifco"]
    elif len(shape) == 1:
        names.append("reverse_last_axis")
    return names
